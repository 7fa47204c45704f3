"""Storing a solved plan: routes (new or continued), their stops, parcel links, unassigned stops.

Stops the solver cannot serve are stored with the reason and emitted as "route.unassigned"
events; nothing is dropped silently. What was stored is counted in a `PlanReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.core import bulk
from app.core.db import utcnow
from app.events import service as event_service
from app.windows.queries import WindowView
from logistics import handover, lifecycle
from logistics.models import Parcel, Route, RouteStatus, RouteStop, StopStatus, UnassignedStop
from logistics.plan_problem import StopGroup, VanStart
from logistics.solver import Problem, Result
from logistics.solver import Route as SolvedRoute


@dataclass(frozen=True)
class UnassignedInfo:
    """A stop no route serves, for reports."""

    bank_id: int
    reason_code: str
    reason: str
    parcel_count: int


@dataclass
class PlanReport:
    """What a planning pass produced."""

    plan_version: int
    stops: int = 0
    routes: int = 0
    vehicles_available: int = 0
    parcels_routed: int = 0
    distance_m: int = 0
    solver_runtime_s: float = 0.0
    skipped: bool = False
    unassigned: list[UnassignedInfo] = field(default_factory=list)
    moved_parcels: int = 0


@dataclass(frozen=True)
class PlanContext:
    """What every stored route of one planning pass shares."""

    window: WindowView
    t0: datetime
    plan_version: int
    new_route_status: RouteStatus
    service: dict[str, int]

    def at(self, seconds: float) -> datetime:
        """The moment `seconds` after the vans may leave."""
        return self.t0 + timedelta(seconds=seconds)


def _route_for(db_session: Session, van: VanStart, solved: SolvedRoute, ctx: PlanContext) -> Route:
    """The van's route for this plan: continued when it has one, else a new one (added)."""
    vehicle = van.vehicle
    route = van.route
    if route is None:
        route = Route(
            window_id=ctx.window.id,
            vehicle_id=vehicle.id,
            depot_id=vehicle.depot_id,
            driver_id=vehicle.default_driver_id,
            status=ctx.new_route_status,
            plan_version=ctx.plan_version,
            planned_departure=ctx.at(solved.departure),
            planned_return=ctx.at(solved.return_time),
            eta_return=ctx.at(solved.return_time),
        )
        db_session.add(route)
        return route
    route.plan_version = ctx.plan_version
    if route.status != RouteStatus.IN_PROGRESS:
        if route.status != ctx.new_route_status:
            lifecycle.transition(route, ctx.new_route_status)
        route.planned_departure = ctx.at(solved.departure)
        route.aborted_at = None
    route.planned_return = ctx.at(solved.return_time)
    route.eta_return = ctx.at(solved.return_time)
    return route


def _append_stops(
    route: Route,
    solved: SolvedRoute,
    problem: Problem,
    groups: dict[str, StopGroup],
    ctx: PlanContext,
) -> list[tuple[RouteStop, StopGroup]]:
    """Append the solved visits to the route as stops; return them with their parcel groups."""
    stop_location = {s.id: s.location for s in problem.stops}
    vehicle_index = next(i for i, v in enumerate(problem.vehicles) if v.id == solved.vehicle_id)
    here = problem.depot(problem.vehicles[vehicle_index].start_depot).location
    next_sequence = max((s.sequence for s in route.stops), default=0) + 1
    new_stops: list[tuple[RouteStop, StopGroup]] = []
    for offset, visit in enumerate(solved.visits):
        group = groups[visit.stop_id]
        there = stop_location[visit.stop_id]
        service_s = ctx.service[visit.stop_id]
        stop = RouteStop(
            bank_id=group.bank_id,
            sequence=next_sequence + offset,
            status=StopStatus.PENDING,
            travel_s_from_prev=int(round(problem.durations[here][there])),
            distance_m_from_prev=int(round(problem.distance(here, there))),
            service_s=service_s,
            not_before=ctx.t0,
            planned_arrival=ctx.at(visit.arrival),
            planned_start=ctx.at(visit.start),
            eta=ctx.at(visit.arrival),
            etd=ctx.at(visit.start + service_s),
        )
        route.stops.append(stop)
        new_stops.append((stop, group))
        here = there
    end_depot = problem.depot(problem.vehicles[vehicle_index].return_depot)
    route.return_travel_s = int(round(problem.durations[here][end_depot.location]))
    return new_stops


def store_routes(
    db_session: Session,
    *,
    result: Result,
    problem: Problem,
    groups: dict[str, StopGroup],
    vans: dict[str, VanStart],
    ctx: PlanContext,
    report: PlanReport,
) -> None:
    """Write each solver route as a Route (new or continued) with its stops and parcels."""
    new_stops: list[tuple[RouteStop, StopGroup]] = []
    for solved in result.routes:
        route = _route_for(db_session, vans[solved.vehicle_id], solved, ctx)
        route.distance_m = int(round(solved.distance))
        route.travel_s = int(round(solved.travel_time))
        new_stops.extend(_append_stops(route, solved, problem, groups, ctx))
        report.routes += 1
        report.distance_m += route.distance_m
    db_session.flush()  # every route and stop in one go: the stops' ids for their parcels
    now = utcnow()
    parcel_links: list[dict[str, Any]] = []
    for stop, group in new_stops:
        stop_id = stop.id
        parcel_links.extend(
            {"id": p.id, "route_stop_id": stop_id, "updated_at": now} for p in group.parcels
        )
    report.parcels_routed += len(parcel_links)
    bulk.update_by_key(db_session, Parcel, parcel_links)


def store_unassigned(
    db_session: Session,
    window: WindowView,
    groups: dict[str, StopGroup],
    rejected: dict[str, tuple[str, str]],
    plan_version: int,
    report: PlanReport,
) -> None:
    """Store every unserved stop with its reason and tell operators through the outbox."""
    events: list[tuple[str, dict[str, Any]]] = []
    for key, (code, reason) in sorted(rejected.items()):
        group = groups[key]
        db_session.add(
            UnassignedStop(
                window_id=window.id,
                bank_id=group.bank_id,
                plan_version=plan_version,
                reason_code=code,
                reason=reason,
                parcel_count=len(group.parcels),
            )
        )
        report.unassigned.append(UnassignedInfo(group.bank_id, code, reason, len(group.parcels)))
        events.append(
            (
                f"route.unassigned:{window.id}:{plan_version}:{key}",
                {
                    "window_id": window.id,
                    "bank_id": group.bank_id,
                    "plan_version": plan_version,
                    "reason_code": code,
                    "reason": reason,
                    "parcel_ids": [p.id for p in group.parcels],
                },
            )
        )
    event_service.emit_many(db_session=db_session, kind="route.unassigned", events=events)
    handover.tell_not_routed(
        db_session=db_session,
        window_id=window.id,
        reasons={p.id: code for key, (code, _) in rejected.items() for p in groups[key].parcels},
    )
    db_session.flush()
