"""One small instance per constraint, each with the effect it must have on the routes.

Locations lie on a line (travel time = |a - b|) unless a test needs otherwise; searches are
short, single-process and seeded. Every result also goes through the independent checker.
"""

import math
import random
from collections.abc import Sequence
from typing import Any

import pytest

from logistics.solver import Depot, Improvement, Problem, Reason, Result, Stop, Vehicle, solve
from logistics.solver.check import violations

QUICK = 0.4


def line(*positions: float) -> list[list[float]]:
    """Travel times between points on a line."""
    return [[abs(a - b) for b in positions] for a in positions]


def run(problem: Problem, **kwargs: Any) -> Result:
    """Solve briefly in one process and check the result independently."""
    kwargs.setdefault("time_limit_s", QUICK)
    kwargs.setdefault("workers", 1)
    result = solve(problem, **kwargs)
    assert violations(problem, result) == []
    return result


def orders(result: Result) -> list[Sequence[str]]:
    """Stop ids of each route, sorted by first stop."""
    return sorted(list(r.stop_ids) for r in result.routes)


def reasons(result: Result) -> dict[str, Reason]:
    return {u.stop_id: u.reason for u in result.unassigned}


def test_time_windows_force_the_order() -> None:
    # Without windows both orders cost the same; b's window forces it first.
    problem = Problem(
        durations=line(0, 10, 20),
        depots=[Depot("depot", 0)],
        stops=[Stop("a", 1, earliest=50, latest=100), Stop("b", 2, latest=25)],
        vehicles=[Vehicle("van", "depot")],
    )
    result = run(problem)
    (route,) = result.routes
    assert route.stop_ids == ("b", "a")
    b, a = route.visits
    assert b.start <= 25
    assert a.arrival == pytest.approx(b.start + 10) and a.start == 50  # waits for its window
    assert result.unassigned == ()


def test_capacity_in_any_dimension_forces_a_second_van() -> None:
    stops = [
        Stop("a", 1, demand={"frozen_volume": 6, "frozen_weight": 1}),
        Stop("b", 2, demand={"frozen_volume": 1, "frozen_weight": 30}),
        Stop("c", 3, demand={"frozen_volume": 6, "frozen_weight": 1}),
    ]
    roomy = {"frozen_volume": 20, "frozen_weight": 100}
    tight = {"frozen_volume": 10, "frozen_weight": 100}
    light = {"frozen_volume": 20, "frozen_weight": 30}

    def vans(capacity: dict[str, float]) -> list[Vehicle]:
        return [Vehicle(f"van{i}", "depot", capacity=capacity) for i in range(3)]

    def used(capacity: dict[str, float]) -> int:
        problem = Problem(
            durations=line(0, 1, 2, 3),
            depots=[Depot("depot", 0)],
            stops=stops,
            vehicles=vans(capacity),
        )
        return run(problem).vehicles_used

    assert used(roomy) == 1
    assert used(tight) == 2  # volume: a and c do not fit together
    assert used(light) == 2  # weight: b fills a van on its own


def test_demand_in_a_dimension_no_van_carries_is_unassigned() -> None:
    problem = Problem(
        durations=line(0, 5, 6),
        depots=[Depot("depot", 0)],
        stops=[Stop("frozen", 1, demand={"frozen": 1}), Stop("ambient", 2, demand={"ambient": 1})],
        vehicles=[Vehicle("van", "depot", capacity={"ambient": 10})],
    )
    result = run(problem)
    assert orders(result) == [["ambient"]]
    assert reasons(result) == {"frozen": Reason.CAPACITY}


def test_service_time_fixed_plus_per_parcel_shifts_the_next_arrival() -> None:
    problem = Problem(
        durations=line(0, 10, 20),
        depots=[Depot("depot", 0)],
        stops=[
            Stop("a", 1, latest=10, service_fixed=5, service_per_parcel=2, parcels=3),
            Stop("b", 2),
        ],
        vehicles=[Vehicle("van", "depot")],
    )
    (route,) = run(problem).routes
    a, b = route.visits
    assert (a.stop_id, b.stop_id) == ("a", "b")
    assert b.arrival == pytest.approx(a.start + 5 + 2 * 3 + 10)
    assert route.return_time == pytest.approx(b.start + 20)


def cold_problem(limit: float, vans: int, *, b_cold: bool = True, far: bool = False) -> Problem:
    """Depot in the middle, a cold stop 10 to the right, b 10 to the left, maybe one 40 away."""
    stops = [Stop("a", 1, cold_chain=True), Stop("b", 2, cold_chain=b_cold)]
    return Problem(
        durations=line(0, 10, -10, 40),
        depots=[Depot("depot", 0)],
        stops=stops + ([Stop("far", 3, cold_chain=True)] if far else []),
        vehicles=[Vehicle(f"van{i}", "depot", max_cold_chain=limit) for i in range(vans)],
    )


def test_cold_chain_limit_splits_the_route() -> None:
    # One van would reach the second cold stop 30 after leaving: over a 15 limit.
    assert run(cold_problem(100, 2)).vehicles_used == 1
    result = run(cold_problem(15, 2))
    assert orders(result) == [["a"], ["b"]]
    # Only cold deposits count: an ambient stop may come after the limit.
    assert run(cold_problem(15, 2, b_cold=False)).vehicles_used == 1


def test_cold_chain_limit_with_too_few_vans_leaves_a_stop_unassigned() -> None:
    result = run(cold_problem(15, 1))
    assert len(result.routes) == 1 and len(result.routes[0].visits) == 1
    assert list(reasons(result).values()) == [Reason.FLEET_EXHAUSTED]


def test_cold_stop_beyond_the_limit_from_every_depot_is_reported() -> None:
    result = run(cold_problem(15, 3, far=True))
    assert reasons(result) == {"far": Reason.COLD_CHAIN}


def test_van_leaves_late_so_cold_parcels_do_not_wait_on_board() -> None:
    problem = Problem(
        durations=line(0, 10),
        depots=[Depot("depot", 0)],
        stops=[Stop("a", 1, earliest=50, latest=60, cold_chain=True)],
        vehicles=[Vehicle("van", "depot", max_cold_chain=12)],
    )
    (route,) = run(problem).routes
    assert route.departure == pytest.approx(40)
    assert route.visits[0].start == 50


def test_each_van_keeps_its_own_cold_chain_limit() -> None:
    # a and b are 10 either side of the depot: one trip reaches the second at 30.
    def vans(*limits: float) -> Problem:
        return Problem(
            durations=line(0, 10, -10),
            depots=[Depot("depot", 0)],
            stops=[Stop("a", 1, cold_chain=True), Stop("b", 2, cold_chain=True)],
            vehicles=[Vehicle(f"van{i}", "depot", max_cold_chain=x) for i, x in enumerate(limits)],
        )

    for limits in ((15, 30), (15, math.inf), (30, 15)):
        result = run(vans(*limits))
        (route,) = result.routes  # one van: the one whose limit allows both stops
        strict = limits.index(15)
        assert route.vehicle_id == f"van{1 - strict}" and len(route.visits) == 2
    # No van's limit allows both: two vans, one stop each.
    assert orders(run(vans(15, 29.9))) == [["a"], ["b"]]
    assert orders(run(vans(15, 15))) == [["a"], ["b"]]


def grid_problem(limit: float, *, stops: int = 60, vans: int = 10) -> Problem:
    """A seeded city: a central depot, cold stops scattered on a 60 x 60 square."""
    rng = random.Random(7)
    points = [(30.0, 30.0)] + [(rng.uniform(0, 60), rng.uniform(0, 60)) for _ in range(stops)]
    return Problem(
        durations=[[math.dist(a, b) for b in points] for a in points],
        depots=[Depot("depot", 0)],
        stops=[
            Stop(f"s{i}", i, latest=400, service_fixed=3, demand={"load": 1}, cold_chain=True)
            for i in range(1, stops + 1)
        ],
        vehicles=[
            Vehicle(f"van{i}", "depot", capacity={"load": 15}, max_cold_chain=limit)
            for i in range(vans)
        ],
    )


def cold_elapsed(problem: Problem, result: Result) -> float:
    """The longest time any van took from leaving to its last cold stop."""
    cold = {s.id for s in problem.stops if s.cold_chain}
    return max(
        max(v.start for v in r.visits if v.stop_id in cold) - r.departure for r in result.routes
    )


def test_binding_cold_chain_limit_on_a_medium_instance_serves_every_stop() -> None:
    # Without a limit the vans' routes run well past 80 from departure to the last stop...
    loose = run(grid_problem(math.inf), time_limit_s=1)
    assert cold_elapsed(grid_problem(math.inf), loose) > 100
    # ...with it, every stop is still served, each within the limit (checked independently).
    problem = grid_problem(80)
    result = run(problem, time_limit_s=1)
    assert result.unassigned == ()
    assert cold_elapsed(problem, result) <= 80 + 1e-6
    assert result.vehicles_used > loose.vehicles_used


def test_several_depots_each_van_serves_its_side() -> None:
    problem = Problem(
        durations=line(0, 100, 5, 95, 10, 90),
        objective="distance",
        depots=[Depot("west", 0), Depot("east", 1)],
        stops=[Stop("w1", 2), Stop("e1", 3), Stop("w2", 4), Stop("e2", 5)],
        vehicles=[Vehicle("v-west", "west"), Vehicle("v-east", "east")],
    )
    result = run(problem)
    assert {r.vehicle_id: sorted(r.stop_ids) for r in result.routes} == {
        "v-west": ["w1", "w2"],
        "v-east": ["e1", "e2"],
    }
    assert result.distance == pytest.approx(40)


def test_a_van_may_end_at_another_depot() -> None:
    problem = Problem(
        durations=line(0, 100, 50),
        depots=[Depot("west", 0), Depot("east", 1, closes=100)],
        stops=[Stop("mid", 2)],
        vehicles=[Vehicle("van", "west", end_depot="east")],
    )
    (route,) = run(problem).routes
    assert route.return_time == pytest.approx(100)
    assert route.distance == pytest.approx(100)


def test_too_small_a_fleet_leaves_stops_unassigned_with_a_reason() -> None:
    problem = Problem(
        durations=line(0, 1, 2, 3),
        depots=[Depot("depot", 0)],
        stops=[Stop(s, i + 1, demand={"load": 5}) for i, s in enumerate("abc")],
        vehicles=[Vehicle("van", "depot", capacity={"load": 10})],
    )
    result = run(problem)
    assert result.vehicles_used == 1 and len(result.routes[0].visits) == 2
    assert list(reasons(result).values()) == [Reason.FLEET_EXHAUSTED]


def test_fixed_cost_makes_one_van_preferable_to_two() -> None:
    # a and b are each 10 from the depot but 100 from each other.
    durations = [[0, 10, 10], [10, 0, 100], [10, 100, 0]]

    def used(fixed_cost: float) -> int:
        problem = Problem(
            durations=durations,
            objective="distance",
            depots=[Depot("depot", 0)],
            stops=[Stop("a", 1), Stop("b", 2)],
            vehicles=[Vehicle(f"van{i}", "depot", fixed_cost=fixed_cost) for i in range(2)],
        )
        return run(problem).vehicles_used

    assert used(0) == 2  # 40 < 120
    assert used(200) == 1  # 120 + 200 < 40 + 400


def test_hierarchical_objective_uses_fewest_vans_even_at_longer_distance() -> None:
    durations = [[0, 10, 10], [10, 0, 100], [10, 100, 0]]
    problem = Problem(
        durations=durations,
        depots=[Depot("depot", 0)],
        stops=[Stop("a", 1), Stop("b", 2)],
        vehicles=[Vehicle(f"van{i}", "depot") for i in range(2)],
    )
    result = run(problem)
    assert result.vehicles_used == 1 and result.distance == pytest.approx(120)


def test_unreachable_windows_are_unassigned_with_the_reason() -> None:
    problem = Problem(
        durations=line(0, 10, 20),
        depots=[Depot("depot", 0, closes=100)],
        stops=[
            Stop("too-early", 1, latest=5),  # 10 away: cannot start by 5
            Stop("too-late", 2, earliest=90),  # could start at 90 but not be back by 100
            Stop("fine", 1),
        ],
        vehicles=[Vehicle("van", "depot", shift_start=0)],
    )
    result = run(problem)
    assert orders(result) == [["fine"]]
    assert reasons(result) == {"too-early": Reason.TIME_WINDOW, "too-late": Reason.TIME_WINDOW}


def test_shift_bounds_the_route() -> None:
    problem = Problem(
        durations=line(0, 10),
        depots=[Depot("depot", 0)],
        stops=[Stop("a", 1, service_fixed=5)],
        vehicles=[
            Vehicle("early", "depot", shift_end=20),
            Vehicle("late", "depot", shift_start=100),
        ],
    )
    result = run(problem)
    assert reasons(result) == {}
    (route,) = result.routes
    assert route.vehicle_id == "late" and route.departure >= 100


def test_improvements_are_reported_and_decrease() -> None:
    seen: list[Improvement] = []
    problem = Problem(
        durations=line(0, 3, 7, 1, 9, 4),
        depots=[Depot("depot", 0)],
        stops=[Stop(str(i), i) for i in range(1, 6)],
        vehicles=[Vehicle("van", "depot")],
    )
    result = run(problem, on_improvement=seen.append)
    assert seen and [p.objective for p in seen] == sorted({p.objective for p in seen}, reverse=True)
    assert seen[-1].objective == result.objective
    assert seen[-1].vehicles == 1 and seen[-1].unassigned == 0


def test_nothing_to_route_returns_every_stop_with_its_reason() -> None:
    problem = Problem(
        durations=line(0, 10),
        depots=[Depot("depot", 0)],
        stops=[Stop("a", 1, latest=1)],
        vehicles=[Vehicle("van", "depot")],
    )
    result = run(problem)
    assert result.routes == () and reasons(result) == {"a": Reason.TIME_WINDOW}


def test_time_limit_must_be_positive() -> None:
    problem = Problem(
        durations=line(0, 1),
        depots=[Depot("d", 0)],
        stops=[Stop("a", 1)],
        vehicles=[Vehicle("v", "d")],
    )
    with pytest.raises(ValueError, match="time_limit_s"):
        solve(problem, time_limit_s=0)


def test_a_van_whose_shift_cannot_hold_its_trip_stays_home() -> None:
    problem = Problem(
        durations=line(0, 100, 10),
        depots=[Depot("west", 0), Depot("east", 1)],
        stops=[Stop("a", 2)],
        vehicles=[
            Vehicle("broken", "west", end_depot="east", shift_end=50),
            Vehicle("ok", "west"),
        ],
    )
    result = run(problem)
    assert [r.vehicle_id for r in result.routes] == ["ok"] and result.unassigned == ()


def test_a_depot_no_van_uses_is_never_visited() -> None:
    problem = Problem(
        durations=line(0, 50, 1, 2, 3),
        depots=[Depot("home", 0), Depot("idle", 1)],
        stops=[Stop(f"s{k}", k + 2, demand={"kg": 1}) for k in range(3)],
        vehicles=[Vehicle("v1", "home", capacity={"kg": 10})],
    )
    result = run(problem)
    assert orders(result) == [["s0", "s1", "s2"]]
