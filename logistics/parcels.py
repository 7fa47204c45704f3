"""Parcels for the packages above logistics: the queries and moves lockers and notifications need.

Logistics owns the parcel table; other packages read and change parcels only through these
functions (the moves go through `logistics.lifecycle`). `Parcel` is re-exported for type
annotations and `ParcelStatus` as a value: build no query on them outside logistics.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.neighborhoods import queries as neighborhood_queries
from logistics import lifecycle
from logistics.models import Parcel, ParcelStatus, Route, RouteStop

__all__ = [
    "Parcel",
    "ParcelStatus",
    "driver_of",
    "extend_deadline",
    "get_parcel",
    "mark_collected",
    "mark_deposited",
    "mark_retrieved",
    "mark_expired",
    "others_bound_for_compartment",
    "overdue_ready_parcels",
    "parcel_in_compartment",
    "parcels_by_ids",
    "parcels_in_bank_zone",
    "parcels_in_compartments_of_bank",
    "parcels_in_status",
    "parcels_of_order",
    "parcels_of_resident",
    "ready_parcels_due_between",
    "unplaced_for_bank_zone",
]


def get_parcel(*, db_session: Session, parcel_id: int, for_update: bool = False) -> Parcel | None:
    """The parcel, or None; `for_update` locks its row."""
    return db_session.get(Parcel, parcel_id, with_for_update=for_update)


def parcels_by_ids(*, db_session: Session, parcel_ids: Sequence[int]) -> list[Parcel]:
    """The parcels with these ids (those that exist), in no particular order."""
    return list(db_session.scalars(select(Parcel).where(Parcel.id.in_(parcel_ids))))


def parcels_of_order(*, db_session: Session, order_id: int) -> list[Parcel]:
    """Every parcel of an order, whatever its status."""
    return list(db_session.scalars(select(Parcel).where(Parcel.order_id == order_id)))


def parcels_of_resident(
    *, db_session: Session, resident_id: int, statuses: Sequence[ParcelStatus]
) -> list[Parcel]:
    """A resident's parcels in one of `statuses`, soonest pickup deadline first."""
    query = (
        select(Parcel)
        .where(Parcel.resident_id == resident_id, Parcel.status.in_(statuses))
        .order_by(Parcel.pickup_deadline, Parcel.id)
    )
    return list(db_session.scalars(query))


def parcel_in_compartment(
    *, db_session: Session, compartment_id: int, statuses: Sequence[ParcelStatus]
) -> Parcel | None:
    """The lowest-id parcel assigned to the compartment in one of `statuses`, if any."""
    return db_session.scalar(
        select(Parcel)
        .where(Parcel.compartment_id == compartment_id, Parcel.status.in_(statuses))
        .order_by(Parcel.id)
        .limit(1)
    )


def parcels_in_bank_zone(
    *, db_session: Session, bank_id: int, zone: str, statuses: Sequence[ParcelStatus]
) -> list[Parcel]:
    """Parcels in one of `statuses` assigned to a bank's compartments of one zone, by id."""
    in_zone = neighborhood_queries.compartment_ids_in_bank_zone(bank_id, zone)
    query = (
        select(Parcel)
        .where(
            Parcel.bank_id == bank_id,
            Parcel.compartment_id.in_(in_zone),
            Parcel.status.in_(statuses),
        )
        .order_by(Parcel.id)
    )
    return list(db_session.scalars(query))


def parcels_in_compartments_of_bank(
    *, db_session: Session, bank_id: int, statuses: Sequence[ParcelStatus]
) -> list[Parcel]:
    """The bank's parcels in one of `statuses` that have a compartment, by id."""
    query = (
        select(Parcel)
        .where(
            Parcel.bank_id == bank_id,
            Parcel.compartment_id.is_not(None),
            Parcel.status.in_(statuses),
        )
        .order_by(Parcel.id)
    )
    return list(db_session.scalars(query))


def parcels_in_status(
    *, db_session: Session, status: ParcelStatus, bank_id: int | None = None
) -> list[Parcel]:
    """Parcels in `status` (at one bank, or all), by bank then id."""
    query = select(Parcel).where(Parcel.status == status)
    if bank_id is not None:
        query = query.where(Parcel.bank_id == bank_id)
    return list(db_session.scalars(query.order_by(Parcel.bank_id, Parcel.id)))


def overdue_ready_parcels(*, db_session: Session, now: datetime, limit: int) -> list[Parcel]:
    """Up to `limit` parcels waiting in a locker past their pickup deadline, by id, locked
    (rows another transaction holds are skipped)."""
    query = (
        select(Parcel)
        .where(Parcel.status == ParcelStatus.READY_FOR_PICKUP, Parcel.pickup_deadline <= now)
        .order_by(Parcel.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(db_session.scalars(query))


def ready_parcels_due_between(
    *, db_session: Session, after: datetime, until: datetime
) -> list[tuple[Parcel, int]]:
    """Parcels waiting in a locker due in (after, until], each with its city's id, by id."""
    query = (
        select(Parcel, neighborhood_queries.neighborhood_city_query(Parcel.neighborhood_id))
        .where(
            Parcel.status == ParcelStatus.READY_FOR_PICKUP,
            Parcel.pickup_deadline > after,
            Parcel.pickup_deadline <= until,
        )
        .order_by(Parcel.id)
    )
    return [(parcel, city_id) for parcel, city_id in db_session.execute(query)]


def mark_deposited(parcel: Parcel) -> Parcel:
    """The locker reports the parcel in its compartment: ready for pickup."""
    return lifecycle.transition(parcel, ParcelStatus.READY_FOR_PICKUP)


def mark_retrieved(parcel: Parcel) -> Parcel:
    """A driver or operator took the parcel back out of its locker."""
    return lifecycle.transition(parcel, ParcelStatus.RETRIEVED)


def mark_expired(parcel: Parcel) -> Parcel:
    """The parcel's pickup deadline passed in its locker (ready_for_pickup -> expired)."""
    return lifecycle.transition(parcel, ParcelStatus.EXPIRED)


def mark_collected(parcel: Parcel) -> Parcel:
    """The resident took the parcel out of its locker."""
    return lifecycle.transition(parcel, ParcelStatus.COLLECTED)


AWAITING_COMPARTMENT = (ParcelStatus.PACKED, ParcelStatus.RESERVED, ParcelStatus.LOADED)


def others_bound_for_compartment(
    *, db_session: Session, compartment_id: int, excluding_parcel_id: int
) -> int:
    """Parcels other than this one on their way to the compartment."""
    return int(
        db_session.scalar(
            select(func.count(Parcel.id)).where(
                Parcel.compartment_id == compartment_id,
                Parcel.id != excluding_parcel_id,
                Parcel.status.in_(AWAITING_COMPARTMENT),
            )
        )
        or 0
    )


def unplaced_for_bank_zone(*, db_session: Session, bank_id: int, zone: str) -> int:
    """Parcels on their way to the bank's zone that have no compartment yet."""
    return int(
        db_session.scalar(
            select(func.count(Parcel.id)).where(
                Parcel.bank_id == bank_id,
                Parcel.compartment_id.is_(None),
                Parcel.temperature_class == zone,
                Parcel.status.in_(AWAITING_COMPARTMENT),
            )
        )
        or 0
    )


def extend_deadline(parcel: Parcel, new_deadline: datetime) -> Parcel:
    """The resident's once-only extension: the parcel waits in its locker until `new_deadline`."""
    if parcel.status != ParcelStatus.READY_FOR_PICKUP:
        raise lifecycle.IllegalTransition(
            f"only a parcel waiting in a locker gets a later deadline, not {parcel.status.value}",
            field="parcel_id",
        )
    parcel.pickup_deadline = new_deadline
    return parcel


def driver_of(*, db_session: Session, parcel: Parcel) -> int | None:
    """The driver of the route carrying the parcel, if it is on a route with a driver."""
    if parcel.route_stop_id is None:
        return None
    return db_session.scalar(
        select(Route.driver_id)
        .join(RouteStop, RouteStop.route_id == Route.id)
        .where(RouteStop.id == parcel.route_stop_id)
    )
