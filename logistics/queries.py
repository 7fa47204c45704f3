"""Reading parcels, routes and vans for other packages: plain values, never the models."""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from logistics.models import Parcel, ParcelStatus, Route, RouteStop, Vehicle

PARCEL_STATES = ("ready", "expiring", "expired", "cold", "undelivered")


@dataclass(frozen=True)
class ParcelView:
    """A parcel (its status, temperature class and size as string values)."""

    id: int
    order_id: int
    window_id: int
    resident_id: int
    neighborhood_id: int
    temperature_class: str
    sequence: int
    volume_ml: int
    compartment_size: str
    bank_id: int | None
    compartment_id: int | None
    status: str
    unplaced_reason: str | None
    failure_reason: str | None
    van_minutes_over_limit: int | None
    route_stop_id: int | None
    reserved_at: datetime | None
    pickup_deadline: datetime
    created_at: datetime
    updated_at: datetime


def _view(parcel: Parcel) -> ParcelView:
    return ParcelView(
        id=parcel.id,
        order_id=parcel.order_id,
        window_id=parcel.window_id,
        resident_id=parcel.resident_id,
        neighborhood_id=parcel.neighborhood_id,
        temperature_class=str(parcel.temperature_class.value),
        sequence=parcel.sequence,
        volume_ml=parcel.volume_ml,
        compartment_size=str(parcel.compartment_size.value),
        bank_id=parcel.bank_id,
        compartment_id=parcel.compartment_id,
        status=str(parcel.status.value),
        unplaced_reason=parcel.unplaced_reason,
        failure_reason=parcel.failure_reason,
        van_minutes_over_limit=parcel.van_minutes_over_limit,
        route_stop_id=parcel.route_stop_id,
        reserved_at=parcel.reserved_at,
        pickup_deadline=parcel.pickup_deadline,
        created_at=parcel.created_at,
        updated_at=parcel.updated_at,
    )


def parcel_view(db_session: Session, parcel_id: int) -> ParcelView | None:
    """The parcel with this id, or None."""
    parcel = db_session.get(Parcel, parcel_id)
    return _view(parcel) if parcel is not None else None


def parcel_views_of_order(db_session: Session, order_id: int) -> list[ParcelView]:
    """Every parcel of the order, whatever its status, in id order."""
    parcels = db_session.scalars(
        select(Parcel).where(Parcel.order_id == order_id).order_by(Parcel.id)
    )
    return [_view(parcel) for parcel in parcels]


def parcel_statuses_by_order(
    db_session: Session, order_ids: Collection[int]
) -> dict[int, list[tuple[int, str]]]:
    """(parcel id, status) of every parcel of these orders, by order id, in parcel id order."""
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if not order_ids:
        return found
    rows = db_session.execute(
        select(Parcel.order_id, Parcel.id, Parcel.status)
        .where(Parcel.order_id.in_(order_ids))
        .order_by(Parcel.id)
    )
    for order_id, parcel_id, status in rows:
        found[order_id].append((parcel_id, str(status)))
    return found


def _state_filter(state: str, expiring_before: datetime, cold_flagged: Select[Any]) -> list[Any]:
    filters: dict[str, list[Any]] = {
        "ready": [Parcel.status == ParcelStatus.READY_FOR_PICKUP],
        "expiring": [
            Parcel.status == ParcelStatus.READY_FOR_PICKUP,
            Parcel.pickup_deadline <= expiring_before,
        ],
        "expired": [Parcel.status.in_([ParcelStatus.EXPIRED, ParcelStatus.RETRIEVED])],
        "cold": [or_(Parcel.van_minutes_over_limit.is_not(None), Parcel.id.in_(cold_flagged))],
        "undelivered": [Parcel.status == ParcelStatus.UNDELIVERED],
    }
    return filters[state]


def count_window_parcels_in_state(
    db_session: Session,
    window_id: int,
    state: str,
    *,
    expiring_before: datetime,
    cold_flagged: Select[Any],
) -> int:
    """How many of the window's parcels are in one of PARCEL_STATES: ready, expiring (ready,
    due by `expiring_before`), expired (or retrieved), cold (over the van's limit or among
    `cold_flagged` ids), undelivered."""
    where = [Parcel.window_id == window_id, *_state_filter(state, expiring_before, cold_flagged)]
    return int(db_session.scalar(select(func.count()).select_from(Parcel).where(*where)) or 0)


def window_parcels_in_state(
    db_session: Session,
    window_id: int,
    state: str,
    *,
    expiring_before: datetime,
    cold_flagged: Select[Any],
    limit: int,
    offset: int = 0,
) -> list[ParcelView]:
    """One page of the window's parcels in a state (as `count_window_parcels_in_state`), ready
    and expiring ones by deadline, the others newest first."""
    where = [Parcel.window_id == window_id, *_state_filter(state, expiring_before, cold_flagged)]
    order = Parcel.pickup_deadline if state in ("ready", "expiring") else Parcel.id.desc()
    parcels = db_session.scalars(
        select(Parcel).where(*where).order_by(order, Parcel.id).limit(limit).offset(offset)
    )
    return [_view(parcel) for parcel in parcels]


def parcel_status_counts(db_session: Session, window_id: int) -> dict[str, int]:
    """How many of the window's parcels are in each status (statuses with parcels only)."""
    rows = db_session.execute(
        select(Parcel.status, func.count())
        .where(Parcel.window_id == window_id)
        .group_by(Parcel.status)
    )
    return {str(status): int(n) for status, n in rows}


def _live_in_window(window_id: int) -> list[Any]:
    return [Parcel.window_id == window_id, Parcel.status != ParcelStatus.CANCELLED]


def order_ids_with_live_parcels(window_id: int) -> Select[int]:
    """The ids of orders with a parcel in the window that is not cancelled, as a subquery."""
    return select(Parcel.order_id).where(*_live_in_window(window_id)).distinct()


def live_parcel_counts_by_route(
    db_session: Session, window_id: int
) -> list[tuple[int | None, str | None, int]]:
    """(route id, van code, parcels) over the window's parcels not cancelled; (None, None, n)
    for those on no route."""
    rows = db_session.execute(
        select(RouteStop.route_id, Vehicle.code, func.count())
        .select_from(Parcel)
        .outerjoin(RouteStop, RouteStop.id == Parcel.route_stop_id)
        .outerjoin(Route, Route.id == RouteStop.route_id)
        .outerjoin(Vehicle, Vehicle.id == Route.vehicle_id)
        .where(*_live_in_window(window_id))
        .group_by(RouteStop.route_id, Vehicle.code)
    ).all()
    return [(route_id, code, int(n)) for route_id, code, n in rows]


@dataclass(frozen=True)
class LoadedParcel:
    """A parcel with the stop and van that carry it (None when on no route)."""

    parcel: ParcelView
    stop_sequence: int | None
    route_id: int | None
    van_code: str | None
    van_name: str | None


def live_parcels_with_vans(
    db_session: Session, window_id: int, *, route_id: int | None = None, unrouted: bool = False
) -> list[LoadedParcel]:
    """The window's parcels not cancelled with their stop and van, by id: only one route's
    when `route_id` is given, only those on no route when `unrouted`."""
    where = _live_in_window(window_id)
    if unrouted:
        where.append(Parcel.route_stop_id.is_(None))
    elif route_id is not None:
        where.append(RouteStop.route_id == route_id)
    rows = db_session.execute(
        select(Parcel, RouteStop.sequence, RouteStop.route_id, Vehicle.code, Vehicle.name)
        .outerjoin(RouteStop, RouteStop.id == Parcel.route_stop_id)
        .outerjoin(Route, Route.id == RouteStop.route_id)
        .outerjoin(Vehicle, Vehicle.id == Route.vehicle_id)
        .where(*where)
        .order_by(Parcel.id)
    ).all()
    return [LoadedParcel(_view(p), stop, r_id, code, name) for p, stop, r_id, code, name in rows]


def live_parts_by_order_and_class(
    db_session: Session, window_id: int, order_ids: Collection[int]
) -> dict[tuple[int, str], int]:
    """How many parcels not cancelled each of these orders has in the window, per class."""
    counts: dict[tuple[int, str], int] = defaultdict(int)
    if not order_ids:
        return counts
    rows = db_session.execute(
        select(Parcel.order_id, Parcel.temperature_class).where(
            *_live_in_window(window_id), Parcel.order_id.in_(order_ids)
        )
    )
    for order_id, temperature_class in rows:
        counts[(order_id, str(temperature_class))] += 1
    return counts


@dataclass(frozen=True)
class StopOnRoute:
    """A route stop with its route's start and van (`status` as its string value)."""

    id: int
    sequence: int
    status: str
    planned_arrival: datetime
    arrived_at: datetime | None
    route_created_at: datetime
    van_code: str


def stops_on_routes(db_session: Session, stop_ids: Collection[int]) -> dict[int, StopOnRoute]:
    """These route stops (those that exist) with their route and van, by stop id."""
    if not stop_ids:
        return {}
    rows = db_session.execute(
        select(RouteStop, Route.created_at, Vehicle.code)
        .join(Route, Route.id == RouteStop.route_id)
        .join(Vehicle, Vehicle.id == Route.vehicle_id)
        .where(RouteStop.id.in_(stop_ids))
    )
    return {
        stop.id: StopOnRoute(
            stop.id,
            stop.sequence,
            str(stop.status.value),
            stop.planned_arrival,
            stop.arrived_at,
            created_at,
            code,
        )
        for stop, created_at, code in rows
    }


@dataclass(frozen=True)
class StopTimes:
    """A route stop's current ETA and when the van arrived (None until it has)."""

    eta: datetime
    arrived_at: datetime | None


def stop_times(*, db_session: Session, stop_ids: Collection[int]) -> dict[int, StopTimes]:
    """The ETA and arrival of each listed route stop that exists, by stop id."""
    if not stop_ids:
        return {}
    rows = db_session.execute(
        select(RouteStop.id, RouteStop.eta, RouteStop.arrived_at).where(
            RouteStop.id.in_(list(stop_ids))
        )
    )
    return {row.id: StopTimes(row.eta, row.arrived_at) for row in rows}


def parcel_counts_by_bank_and_status(
    db_session: Session, bank_ids: Collection[int], statuses: Collection[ParcelStatus]
) -> list[tuple[int, ParcelStatus, int]]:
    """(bank id, status, parcels) over these banks' parcels in one of `statuses`."""
    if not bank_ids:
        return []
    rows = db_session.execute(
        select(Parcel.bank_id, Parcel.status, func.count())
        .where(Parcel.bank_id.in_(list(bank_ids)), Parcel.status.in_(list(statuses)))
        .group_by(Parcel.bank_id, Parcel.status)
    )
    return [
        (bank_id, ParcelStatus(status), int(n))
        for bank_id, status, n in rows
        if bank_id is not None
    ]


def undelivered_parcel_times_at_banks(
    db_session: Session, bank_ids: Collection[int], failure_reason_prefix: str
) -> list[tuple[int, datetime | None]]:
    """(bank id, last change) of these banks' undelivered parcels whose failure reason starts
    with `failure_reason_prefix`."""
    if not bank_ids:
        return []
    rows = db_session.execute(
        select(Parcel.bank_id, Parcel.updated_at).where(
            Parcel.bank_id.in_(list(bank_ids)),
            Parcel.status == ParcelStatus.UNDELIVERED,
            Parcel.failure_reason.like(f"{failure_reason_prefix}%"),
        )
    )
    return [(bank_id, updated_at) for bank_id, updated_at in rows if bank_id is not None]
