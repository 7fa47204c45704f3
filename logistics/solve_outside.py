"""Solve with no transaction open: a plan's seconds of search must not hold the database.

On the embedded stack every transaction takes SQLite's one write lock (BEGIN IMMEDIATE), and on
PostgreSQL a planning transaction holds the row locks of the parcels and routes it changes: a
solve inside it makes every deposit, order and page wait for the solver's time limit. So a
boundary that plans (a route handler, a page handler) calls `plan_without_holding`:

1. a dry run of the planning service in a transaction that is rolled back, which stops at the
   solve and keeps the problem it would have solved;
2. the solve, with no transaction open;
3. the real run in a fresh transaction (the caller commits), which uses that result when it
   builds the same problem again, and solves inside only if something changed in between.

The planning service stays one function that takes the session and never commits.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from logistics import planning
from logistics.settings import LogisticsSettings
from logistics.solver import Problem, Result

logger = logging.getLogger(__name__)
Planned = TypeVar("Planned")


class _Stopped(Exception):
    """The dry run reached the solve."""

    def __init__(self, problem: Problem) -> None:
        super().__init__("dry run stopped at the solve")
        self.problem = problem


def plan_without_holding(
    db_session: Session,
    plan: Callable[[planning.Solver], Planned],
    *,
    settings: LogisticsSettings,
    time_limit_s: float,
) -> Planned:
    """Run `plan(solver)` with its solve outside any transaction (see the module's text).

    A boundary helper: it commits the session's open transaction first (what the caller did so
    far, usually reads and checks) and rolls back its own dry run; the caller commits the result.
    `plan` must build the same problem from the same data: pass it a fixed `now`."""

    def stop(problem: Problem) -> Result | None:
        raise _Stopped(problem)

    db_session.commit()  # the boundary's work so far (reads, checks) ends here
    try:
        return plan(stop)  # nothing to solve: this run is the real one
    except _Stopped as stopped:
        problem = stopped.problem
    db_session.rollback()
    result = planning.solve_problem(problem, settings, time_limit_s)

    def reuse(again: Problem) -> Result | None:
        if again == problem:
            return result
        logger.info("the plan's data changed while it was solved; solving again inside")
        return planning.solve_problem(again, settings, time_limit_s)

    return plan(reuse)
