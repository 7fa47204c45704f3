"""The seams between the driver, the lockers and the residents, enforced in one place.

A deposit happens only at the stop the driver's route is at (arrived, not departed); a stop
departs only when each of its parcels is deposited or marked failed with a reason; a route
completes clean only when nothing is aboard, otherwise with an alarm, and the residents whose
parcels came back are told ("parcel.undelivered" events). A van, and a driver, drive one route
at a time.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import Conflict, NotFound
from app.events import service as event_service
from logistics import lifecycle
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus, RouteStop, StopStatus

UNDELIVERED_EVENT = "parcel.undelivered"
ROUTE_ALARM_EVENT = "route.completed_with_alarm"


class FailureReason(StrEnum):
    """Why a driver could not deposit a parcel at its stop."""

    LOCKER_OFFLINE = "locker_offline"
    COMPARTMENT_BROKEN = "compartment_broken"
    COMPARTMENT_OCCUPIED = "compartment_occupied"
    DAMAGED = "damaged"
    MISSING = "missing"
    OTHER = "other"


class NotAtStop(Conflict):
    """The driver is not at (arrived, not departed) the parcel's stop."""

    code = "not_at_stop"


class NotArrived(Conflict):
    """The stop cannot depart: the driver never arrived there."""

    code = "not_arrived"


class StillAtStop(Conflict):
    """The driver has not departed the stop they are at."""

    code = "still_at_stop"


class ParcelsNotHandedOver(Conflict):
    """The stop cannot depart: parcels are neither deposited nor marked failed."""

    code = "parcels_not_handed_over"


class VehicleBusy(Conflict):
    """The van is driving another route."""

    code = "vehicle_busy"


class DriverBusy(Conflict):
    """The driver is driving another route."""

    code = "driver_busy"


class ParcelNotAtStop(NotFound):
    """The parcel is not one delivered at this stop."""

    case = "parcel_not_at_stop"


def current_stop(route: Route) -> RouteStop | None:
    """The stop the route is at now: arrived and not departed."""
    return next(
        (s for s in route.stops if s.arrived_at is not None and s.departed_at is None), None
    )


def ensure_free_to_start(*, db_session: Session, route: Route) -> None:
    """Refuse (409) when the route's van or driver has another route in progress."""
    other_van = db_session.scalar(
        select(Route.id).where(
            Route.vehicle_id == route.vehicle_id,
            Route.status == RouteStatus.IN_PROGRESS,
            Route.id != route.id,
        )
    )
    if other_van is not None:
        raise VehicleBusy(
            f"van {route.vehicle_id} is driving route {other_van}; finish it first",
            field="route_id",
            other_route_id=other_van,
        )
    if route.driver_id is None:
        return
    other_driver = db_session.scalar(
        select(Route.id).where(
            Route.driver_id == route.driver_id,
            Route.status == RouteStatus.IN_PROGRESS,
            Route.id != route.id,
        )
    )
    if other_driver is not None:
        raise DriverBusy(
            f"driver {route.driver_id} is driving route {other_driver}; finish it first",
            field="route_id",
            other_route_id=other_driver,
        )


def ensure_can_arrive(route: Route, stop: RouteStop) -> None:
    """Refuse arriving at a stop while still at another one of the route."""
    here = current_stop(route)
    if here is not None and here.id != stop.id:
        raise StillAtStop(
            f"depart stop {here.id} before arriving at stop {stop.id}",
            field="stop_id",
            current_stop_id=here.id,
        )


def parcels_at(db_session: Session, stop: RouteStop) -> list[Parcel]:
    """The parcels a stop delivers."""
    return list(
        db_session.scalars(
            select(Parcel).where(Parcel.route_stop_id == stop.id).order_by(Parcel.id)
        )
    )


def ensure_can_depart(*, db_session: Session, stop: RouteStop) -> StopStatus:
    """Refuse (409) a departure before arriving or with parcels not handed over; else the
    stop's outcome: served, or failed when one of its parcels is undelivered."""
    if stop.arrived_at is None:
        raise NotArrived(f"arrive at stop {stop.id} before departing it", field="stop_id")
    parcels = parcels_at(db_session, stop)
    pending = [p.id for p in parcels if p.status in lifecycle.ABOARD]
    if pending:
        raise ParcelsNotHandedOver(
            f"{len(pending)} parcels of stop {stop.id} are neither deposited nor marked failed",
            field="stop_id",
            parcel_ids=pending,
        )
    if any(p.status == ParcelStatus.UNDELIVERED for p in parcels):
        return StopStatus.FAILED
    return StopStatus.SERVED


def ensure_at_stop(*, db_session: Session, parcel: Parcel, driver_id: int) -> None:
    """Refuse (409 not_at_stop) a deposit unless the driver's route is at the parcel's stop.

    A parcel on no route (an operator's manual placement) has no stop to check against.
    """
    if parcel.route_stop_id is None:
        return
    stop = db_session.get(RouteStop, parcel.route_stop_id)
    route = db_session.get(Route, stop.route_id) if stop is not None else None
    if stop is None or route is None:
        return
    if route.driver_id is not None and route.driver_id != driver_id:
        raise NotAtStop(
            f"parcel {parcel.id} is on route {route.id}, which is not yours",
            field="parcel_id",
            route_id=route.id,
        )
    if route.status != RouteStatus.IN_PROGRESS or stop.arrived_at is None:
        raise NotAtStop(
            f"arrive at stop {stop.id} (bank {stop.bank_id}) before depositing parcel {parcel.id}",
            field="parcel_id",
            stop_id=stop.id,
            bank_id=stop.bank_id,
        )
    if stop.departed_at is not None:
        raise NotAtStop(
            f"stop {stop.id} was departed; parcel {parcel.id} can no longer be deposited there",
            field="parcel_id",
            stop_id=stop.id,
            bank_id=stop.bank_id,
        )


def fail_parcel(
    *, db_session: Session, route: Route, stop: RouteStop, parcel_id: int, reason: str
) -> Parcel:
    """The driver could not deposit this parcel at the stop they are at (idempotent)."""
    parcel = db_session.get(Parcel, parcel_id)
    if parcel is None or parcel.route_stop_id != stop.id:
        raise ParcelNotAtStop(
            f"parcel {parcel_id} is not delivered at stop {stop.id}", field="parcel_id"
        )
    if parcel.status == ParcelStatus.UNDELIVERED:
        return parcel
    if current_stop(route) is not stop:
        raise NotAtStop(
            f"arrive at stop {stop.id} before marking its parcels failed",
            field="stop_id",
            stop_id=stop.id,
        )
    if parcel.status not in lifecycle.ABOARD:
        raise lifecycle.IllegalTransition(
            f"parcel {parcel.id} is {ParcelStatus(parcel.status).value}, not aboard",
            field="parcel_id",
            current=ParcelStatus(parcel.status).value,
        )
    lifecycle.fail_parcel(parcel, reason)
    db_session.flush()
    return parcel


def complete(*, db_session: Session, route: Route) -> Route:
    """Every stop is done: the route completes, with an alarm if parcels are still aboard."""
    stop_ids = [s.id for s in route.stops]
    aboard = (
        list(
            db_session.scalars(
                select(Parcel)
                .where(
                    Parcel.route_stop_id.in_(stop_ids),
                    Parcel.status.in_((*lifecycle.ABOARD, ParcelStatus.UNDELIVERED)),
                )
                .order_by(Parcel.id)
            )
        )
        if stop_ids
        else []
    )
    now = utcnow()
    route.completed_at = now
    if not aboard:
        lifecycle.transition(route, RouteStatus.COMPLETED)
        return route
    for parcel in aboard:
        if parcel.status != ParcelStatus.UNDELIVERED:
            lifecycle.fail_parcel(parcel, "still_aboard_at_route_end")
    reasons = Counter((p.failure_reason or "unknown").split(":")[0] for p in aboard)
    summary = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
    lifecycle.transition(route, RouteStatus.COMPLETED_WITH_ALARM)
    route.alarm = f"{len(aboard)} parcels still aboard at the end of the route ({summary})"[:200]
    route.alarm_parcels = len(aboard)
    event_service.emit_many(
        db_session=db_session,
        kind=UNDELIVERED_EVENT,
        events=[
            (
                f"{UNDELIVERED_EVENT}:{p.id}:{route.id}",
                {
                    "parcel_id": p.id,
                    "order_id": p.order_id,
                    "resident_id": p.resident_id,
                    "route_id": route.id,
                    "window_id": p.window_id,
                    "reason": p.failure_reason,
                },
            )
            for p in aboard
        ],
    )
    event_service.emit(
        db_session=db_session,
        kind=ROUTE_ALARM_EVENT,
        dedupe_key=f"{ROUTE_ALARM_EVENT}:{route.id}",
        payload={
            "route_id": route.id,
            "window_id": route.window_id,
            "vehicle_id": route.vehicle_id,
            "parcel_ids": [p.id for p in aboard],
            "alarm": route.alarm,
        },
    )
    return route


NOT_ROUTED_EVENT = "parcel.not_routed"
NOT_ROUTED = "not_routed"


def tell_not_routed(*, db_session: Session, window_id: int, reasons: dict[int, str]) -> int:
    """Parcels whose bank no route serves this window: undelivered with the planner's reason,
    and each resident told once ("parcel.not_routed"). How many parcels were marked."""
    if not reasons:
        return 0
    parcels = list(
        db_session.scalars(
            select(Parcel).where(
                Parcel.id.in_(list(reasons)), Parcel.status == ParcelStatus.RESERVED
            )
        )
    )
    for parcel in parcels:
        lifecycle.fail_parcel(parcel, f"{NOT_ROUTED}:{reasons[parcel.id]}")
    event_service.emit_many(
        db_session=db_session,
        kind=NOT_ROUTED_EVENT,
        events=[
            (
                f"{NOT_ROUTED_EVENT}:{p.id}:{window_id}",
                {
                    "parcel_id": p.id,
                    "order_id": p.order_id,
                    "resident_id": p.resident_id,
                    "window_id": window_id,
                    "bank_id": p.bank_id,
                    "reason": reasons[p.id],
                },
            )
            for p in parcels
        ],
    )
    db_session.flush()
    return len(parcels)


def retry_not_routed(*, db_session: Session, window_id: int) -> int:
    """Before a re-plan: the window's parcels left unrouted go back to reserved to be retried."""
    parcels = list(
        db_session.scalars(
            select(Parcel).where(
                Parcel.window_id == window_id,
                Parcel.status == ParcelStatus.UNDELIVERED,
                Parcel.route_stop_id.is_(None),
                Parcel.failure_reason.like(f"{NOT_ROUTED}:%"),
            )
        )
    )
    for parcel in parcels:
        lifecycle.retry_parcel(parcel)
    db_session.flush()
    return len(parcels)
