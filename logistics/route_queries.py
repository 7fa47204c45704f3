"""Reading routes, stops, vans and the cut-off pipeline for other packages: plain values and
query builders, never the models.

`RouteStatus`, `StopStatus` and `StepStatus` are re-exported as values."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.windows.queries import window_city_query
from logistics.models import (
    Parcel,
    ParcelStatus,
    PipelineRun,
    PipelineStep,
    Route,
    RouteStop,
    UnassignedStop,
    Vehicle,
)
from logistics.models import RouteStatus as RouteStatus
from logistics.models import StepStatus as StepStatus
from logistics.models import StopStatus as StopStatus

LIVE_ROUTES = (RouteStatus.PUBLISHED, RouteStatus.IN_PROGRESS)


@dataclass(frozen=True)
class PendingStopOfRoute:
    """A stop still ahead of a published or moving route, with its van and city."""

    route_id: int
    window_id: int
    route_status: RouteStatus
    van_code: str
    city_id: int
    eta: datetime
    planned_arrival: datetime


def pending_stops_of_live_routes(
    db_session: Session, window_ids: Collection[int] | None = None
) -> list[PendingStopOfRoute]:
    """The pending stops of every published or moving route (of these windows, if given), by
    route then sequence."""
    query = (
        select(
            Route.id,
            Route.window_id,
            Route.status,
            Vehicle.code,
            window_city_query(Route.window_id),
            RouteStop.eta,
            RouteStop.planned_arrival,
        )
        .join(RouteStop, RouteStop.route_id == Route.id)
        .join(Vehicle, Vehicle.id == Route.vehicle_id)
        .where(Route.status.in_(LIVE_ROUTES), RouteStop.status == StopStatus.PENDING)
        .order_by(Route.id, RouteStop.sequence)
    )
    if window_ids is not None:
        query = query.where(Route.window_id.in_(list(window_ids)))
    return [
        PendingStopOfRoute(r_id, w_id, RouteStatus(status), code, city_id, eta, planned)
        for r_id, w_id, status, code, city_id, eta, planned in db_session.execute(query)
    ]


@dataclass(frozen=True)
class RouteWithParcelsAboard:
    """A route that ended with undelivered parcels still in its van."""

    route_id: int
    van_code: str
    city_id: int
    parcels: int


def routes_ended_with_parcels_aboard(db_session: Session) -> list[RouteWithParcelsAboard]:
    """The routes completed with an alarm, each with its undelivered parcels (those with any)."""
    rows = db_session.execute(
        select(Route.id, Vehicle.code, window_city_query(Route.window_id), func.count(Parcel.id))
        .join(Vehicle, Vehicle.id == Route.vehicle_id)
        .join(RouteStop, RouteStop.route_id == Route.id)
        .join(Parcel, Parcel.route_stop_id == RouteStop.id)
        .where(
            Route.status == RouteStatus.COMPLETED_WITH_ALARM,
            Parcel.status == ParcelStatus.UNDELIVERED,
        )
        .group_by(Route.id, Vehicle.code, Route.window_id)
    )
    return [RouteWithParcelsAboard(r_id, code, city, int(n)) for r_id, code, city, n in rows]


def pipeline_steps_of_windows(
    db_session: Session, window_ids: Collection[int]
) -> list[tuple[int, str, StepStatus]]:
    """(window id, step name, step status) of these windows' cut-off runs, in step order."""
    if not window_ids:
        return []
    rows = db_session.execute(
        select(PipelineRun.window_id, PipelineStep.name, PipelineStep.status)
        .join(PipelineStep, PipelineStep.run_id == PipelineRun.id)
        .where(PipelineRun.window_id.in_(list(window_ids)))
        .order_by(PipelineRun.window_id, PipelineStep.position)
    )
    return [(window_id, name, StepStatus(status)) for window_id, name, status in rows]


def route_status_counts_of_windows(
    db_session: Session, window_ids: Collection[int]
) -> list[tuple[int, RouteStatus, int]]:
    """(window id, route status, routes) over these windows' routes."""
    if not window_ids:
        return []
    rows = db_session.execute(
        select(Route.window_id, Route.status, func.count())
        .where(Route.window_id.in_(list(window_ids)))
        .group_by(Route.window_id, Route.status)
    )
    return [(window_id, RouteStatus(status), int(n)) for window_id, status, n in rows]


def window_ids_with_routes(db_session: Session, window_ids: Collection[int]) -> set[int]:
    """Which of these windows have routes."""
    if not window_ids:
        return set()
    return set(
        db_session.scalars(
            select(Route.window_id).where(Route.window_id.in_(list(window_ids))).distinct()
        )
    )


def routes_of_window_query(
    window_id: int,
) -> Select[int, int, RouteStatus, int, datetime | None, int | None, str]:
    """The window's routes as `id`, `vehicle_id`, `status`, `depot_id`, `started_at`,
    `driver_id` and their van's `van_code`, by van; to join other tables onto."""
    return (
        select(
            Route.id,
            Route.vehicle_id,
            Route.status,
            Route.depot_id,
            Route.started_at,
            Route.driver_id,
            Vehicle.code.label("van_code"),
        )
        .join(Vehicle, Vehicle.id == Route.vehicle_id)
        .where(Route.window_id == window_id)
        .order_by(Route.vehicle_id)
    )


@dataclass(frozen=True)
class StopOfRouteView:
    """A route stop with its times (`status` as a value)."""

    id: int
    route_id: int
    sequence: int
    bank_id: int
    status: StopStatus
    eta: datetime
    planned_arrival: datetime
    arrived_at: datetime | None
    departed_at: datetime | None


def stops_of_routes_not_cancelled(
    db_session: Session, route_ids: Collection[int]
) -> list[StopOfRouteView]:
    """The stops of these routes but the cancelled ones, by route then sequence."""
    if not route_ids:
        return []
    stops = db_session.scalars(
        select(RouteStop)
        .where(RouteStop.route_id.in_(list(route_ids)), RouteStop.status != StopStatus.CANCELLED)
        .order_by(RouteStop.route_id, RouteStop.sequence)
    )
    return [
        StopOfRouteView(
            s.id,
            s.route_id,
            s.sequence,
            s.bank_id,
            StopStatus(s.status),
            s.eta,
            s.planned_arrival,
            s.arrived_at,
            s.departed_at,
        )
        for s in stops
    ]


@dataclass(frozen=True)
class UnassignedStopView:
    """A bank the plan left without a van, with the reason and how many parcels wait."""

    bank_id: int
    reason_code: str
    reason: str
    parcel_count: int


def open_unassigned_stops(db_session: Session, window_id: int) -> list[UnassignedStopView]:
    """The window's unassigned stops not resolved yet, in id order."""
    rows = db_session.execute(
        select(
            UnassignedStop.bank_id,
            UnassignedStop.reason_code,
            UnassignedStop.reason,
            UnassignedStop.parcel_count,
        )
        .where(UnassignedStop.window_id == window_id, UnassignedStop.resolved_at.is_(None))
        .order_by(UnassignedStop.id)
    )
    return [UnassignedStopView(*row) for row in rows]


def active_van_codes(db_session: Session, city_id: int) -> list[tuple[int, str]]:
    """(id, code) of the city's vans in service, by code."""
    rows = db_session.execute(
        select(Vehicle.id, Vehicle.code)
        .where(Vehicle.city_id == city_id, Vehicle.active.is_(True))
        .order_by(Vehicle.code)
    )
    return [(van_id, code) for van_id, code in rows]
