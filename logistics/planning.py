"""Planning: reserved parcels and the van fleet -> a solver Problem -> stored routes and stops.

The problem is built in `logistics.plan_problem` (stops, vans, the cold-chain limit), the solved
plan stored by `logistics.plan_store` (routes, stops, unassigned stops with their reasons), and
re-planning after a van or bank dropped out lives in `logistics.replan`. This module plans a
window once, and holds the pass both share: which stops are refused before solving, the solve,
and the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cities import queries as city_queries
from app.core.db import utcnow
from app.windows import queries as window_queries
from app.windows.queries import WindowView
from logistics.errors import WindowNotFound
from logistics.models import Parcel, ParcelStatus, PipelineRun, Route, RouteStatus, Vehicle
from logistics.plan_problem import (
    ParcelLoad,
    StopGroup,
    UsableVan,
    VanStart,
    build_problem,
    loads,
    stop_groups,
    usable_vans,
)
from logistics.plan_store import PlanContext, PlanReport, store_routes, store_unassigned
from logistics.settings import LogisticsSettings, get_logistics_settings
from logistics.solver import Problem, Result, solve


def get_window(db_session: Session, window_id: int) -> WindowView:
    """The delivery window, or 404 naming `window_id`."""
    window = window_queries.window_view(db_session, window_id)
    if window is None:
        raise WindowNotFound(f"delivery window {window_id} does not exist", field="window_id")
    return window


def fleet(*, db_session: Session, city_id: int) -> list[Vehicle]:
    """The city's active vans."""
    return list(
        db_session.scalars(
            select(Vehicle)
            .where(Vehicle.city_id == city_id, Vehicle.active.is_(True))
            .order_by(Vehicle.id)
        )
    )


def _refused_before_solving(
    groups: Sequence[StopGroup],
    usable: Sequence[UsableVan],
    latest_start: dict[str, float],
) -> dict[str, tuple[str, str]]:
    """Stops no van can serve whatever the solver does: (reason code, reason) by stop key."""
    rejected: dict[str, tuple[str, str]] = {}
    for g in groups:
        if latest_start[g.key] < 0:
            rejected[g.key] = (
                "ready_by_passed",
                "the window's ready-by cannot be met: vans leave too late",
            )
    if not usable:
        for g in groups:
            rejected.setdefault(g.key, ("no_vehicle", "no van of the fleet is available"))
    return rejected


Solver = Callable[[Problem], Result | None]


def solve_problem(
    problem: Problem, settings: LogisticsSettings, time_limit_s: float
) -> Result | None:
    """The solver's result, or None when it found no solution in its time limit."""
    try:
        return solve(problem, time_limit_s=time_limit_s, seed=0, workers=settings.solver_workers)
    except RuntimeError:
        return None


def solve_and_store(
    db_session: Session,
    *,
    window: WindowView,
    parcels: Sequence[ParcelLoad],
    vans: Sequence[VanStart],
    t0: datetime,
    plan_version: int,
    new_route_status: RouteStatus,
    settings: LogisticsSettings,
    time_limit_s: float,
    report: PlanReport,
    solver: Solver | None = None,
) -> None:
    """Build the Problem, solve it, and store routes, stops, parcel links and unassigned stops.

    `solver` replaces the solve (see `logistics.solve_outside`: a result computed with no
    transaction open)."""
    timezone = city_queries.city_timezone(db_session, window.city_id)
    assert timezone is not None
    usable = usable_vans(db_session, window, vans, t0, timezone)
    report.vehicles_available = len(usable)
    groups = stop_groups(parcels, usable)
    report.stops = len(groups)
    if not groups:
        return
    service = {
        g.key: settings.service_fixed_s + settings.service_per_parcel_s * len(g.parcels)
        for g in groups
    }
    latest_start = {g.key: (window.ready_by - t0).total_seconds() - service[g.key] for g in groups}
    rejected = _refused_before_solving(groups, usable, latest_start)
    routable = [g for g in groups if g.key not in rejected]
    by_key = {g.key: g for g in groups}
    if routable:
        problem = build_problem(
            db_session,
            routable,
            usable,
            t0=t0,
            ready_by=window.ready_by,
            service=service,
            settings=settings,
        )
        result = solver(problem) if solver else solve_problem(problem, settings, time_limit_s)
        if result is None:
            for g in routable:
                rejected[g.key] = ("no_solution", "the solver found no solution in its time limit")
        else:
            report.solver_runtime_s = result.runtime_s
            for u in result.unassigned:
                rejected[u.stop_id] = (u.reason.name.lower(), u.reason.value)
            store_routes(
                db_session,
                result=result,
                problem=problem,
                groups=by_key,
                vans={f"van{u.van.vehicle.id}": u.van for u in usable},
                ctx=PlanContext(window, t0, plan_version, new_route_status, service),
                report=report,
            )
    store_unassigned(db_session, window, by_key, rejected, plan_version, report)


def plan_window(
    *,
    db_session: Session,
    window_id: int,
    depart_after: datetime | None = None,
    time_limit_s: float | None = None,
    settings: LogisticsSettings | None = None,
    solver: Solver | None = None,
) -> PlanReport:
    """Plan routes for the window's reserved parcels (once: a planned window is left alone)."""
    settings = settings or get_logistics_settings()
    window = get_window(db_session, window_id)
    if db_session.scalar(
        select(func.count()).select_from(Route).where(Route.window_id == window_id)
    ):
        return PlanReport(plan_version=_plan_version(db_session, window_id), skipped=True)
    t0 = (depart_after or utcnow()).astimezone(UTC)
    parcels = loads(
        db_session,
        (Parcel.window_id == window_id)
        & (Parcel.status == ParcelStatus.RESERVED)
        & Parcel.bank_id.is_not(None)
        & Parcel.route_stop_id.is_(None),
    )
    vans = [
        VanStart(vehicle=v, available_from=t0)
        for v in fleet(db_session=db_session, city_id=window.city_id)
    ]
    plan_version = _plan_version(db_session, window_id)
    report = PlanReport(plan_version=plan_version)
    solve_and_store(
        db_session,
        window=window,
        parcels=parcels,
        vans=vans,
        t0=t0,
        plan_version=plan_version,
        new_route_status=RouteStatus.PLANNED,
        settings=settings,
        time_limit_s=time_limit_s or settings.solver_time_limit_s,
        report=report,
        solver=solver,
    )
    return report


def _plan_version(db_session: Session, window_id: int) -> int:
    run = db_session.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
    return 1 if run is None else run.plan_version
