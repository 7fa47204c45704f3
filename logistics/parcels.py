"""Parcels for the packages above logistics: the queries and moves lockers and notifications need.

Logistics owns the parcel table; other packages read and change parcels only through these
functions (the moves go through `logistics.lifecycle`). `Parcel` is re-exported for type
annotations and `ParcelStatus` as a value: build no query on them outside logistics.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.neighborhoods.models import Neighborhood
from logistics import lifecycle
from logistics.models import Parcel, ParcelStatus

__all__ = [
    "Parcel",
    "ParcelStatus",
    "get_parcel",
    "mark_collected",
    "mark_expired",
    "overdue_ready_parcels",
    "parcels_by_ids",
    "ready_parcels_due_between",
]


def get_parcel(*, db_session: Session, parcel_id: int, for_update: bool = False) -> Parcel | None:
    """The parcel, or None; `for_update` locks its row."""
    return db_session.get(Parcel, parcel_id, with_for_update=for_update)


def parcels_by_ids(*, db_session: Session, parcel_ids: Sequence[int]) -> list[Parcel]:
    """The parcels with these ids (those that exist), in no particular order."""
    return list(db_session.scalars(select(Parcel).where(Parcel.id.in_(parcel_ids))))


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
        select(Parcel, Neighborhood.city_id)
        .join(Neighborhood, Neighborhood.id == Parcel.neighborhood_id)
        .where(
            Parcel.status == ParcelStatus.READY_FOR_PICKUP,
            Parcel.pickup_deadline > after,
            Parcel.pickup_deadline <= until,
        )
        .order_by(Parcel.id)
    )
    return [(parcel, city_id) for parcel, city_id in db_session.execute(query)]


def mark_expired(parcel: Parcel) -> Parcel:
    """The parcel's pickup deadline passed in its locker (ready_for_pickup -> expired)."""
    return lifecycle.transition(parcel, ParcelStatus.EXPIRED)


def mark_collected(parcel: Parcel) -> Parcel:
    """The resident took the parcel out of its locker."""
    return lifecycle.transition(parcel, ParcelStatus.COLLECTED)
