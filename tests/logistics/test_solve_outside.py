"""A re-plan through its endpoint solves with no transaction open, then stores that result."""

from typing import Any

import pytest
from sqlalchemy.orm import Session

from logistics import planning
from logistics.models import Route
from logistics.solve_outside import plan_without_holding
from tests.logistics.conftest import World, fast_settings
from tests.logistics.test_replan_dropout import _cutoff, _two_van_city


def test_the_replan_endpoint_solves_outside_any_transaction(  # type: ignore[no-untyped-def]
    world: World, db: Session, client_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    vans = _two_van_city(world)
    _cutoff(world, db)
    solves: list[bool] = []
    real = planning.solve_problem

    def watched(*args: Any, **kwargs: Any) -> Any:
        solves.append(db.in_transaction() and db.get_transaction() is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(planning, "solve_problem", watched)
    answer = client_for(world.operator()).post(
        f"/windows/{world.window.id}/replan", json={"vehicle_id_out": vans[0]}
    )
    assert answer.status_code == 200, answer.text
    assert solves == [False]  # solved once, with no transaction open; the result was reused
    db.expire_all()
    routes = db.query(Route).filter(Route.window_id == world.window.id, Route.plan_version == 2)
    assert routes.count() >= 1 and vans[0] not in {r.vehicle_id for r in routes}


def test_a_problem_that_changed_while_solving_is_solved_again_inside(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    solved: list[tuple[str, bool]] = []

    def solve(problem: Any, *_: Any) -> Any:
        solved.append((problem, db.in_transaction()))
        return f"routes for {problem}"

    monkeypatch.setattr(planning, "solve_problem", solve)
    seen = iter(["problem at 10:00", "problem at 10:01"])  # a deposit landed in between

    def plan(solver: Any) -> Any:
        db.connection()  # the planning service reads: a transaction is open
        return solver(next(seen))

    result = plan_without_holding(db, plan, settings=fast_settings(), time_limit_s=1)
    assert result == "routes for problem at 10:01"
    assert solved == [("problem at 10:00", False), ("problem at 10:01", True)]


def test_nothing_to_solve_is_the_real_run(db: Session) -> None:
    assert (
        plan_without_holding(
            db, lambda _solver: "no stops", settings=fast_settings(), time_limit_s=1
        )
        == "no stops"
    )
