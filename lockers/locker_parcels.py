"""The parcels a locker awaits or holds, the compartment moves they make, and the orders their
statuses move. Nothing here commits."""

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods.models import Compartment, CompartmentStatus
from app.orders import states as order_states
from app.orders.models import Order, OrderStatus
from lockers.errors import ParcelNotFound
from logistics.models import Parcel, ParcelStatus

log = logging.getLogger(__name__)

LIVE_PARCEL = (ParcelStatus.READY_FOR_PICKUP, ParcelStatus.EXPIRED)
AWAITING_DEPOSIT = (ParcelStatus.RESERVED, ParcelStatus.LOADED)
_ORDER_PATH = (
    OrderStatus.CONFIRMED,
    OrderStatus.PACKED,
    OrderStatus.OUT_FOR_DELIVERY,
    OrderStatus.READY_FOR_PICKUP,
    OrderStatus.COLLECTED,
)


def get_parcel(*, db_session: Session, parcel_id: int, for_update: bool = False) -> Parcel:
    """A parcel by id (optionally row-locked), or NotFound."""
    query = select(Parcel).where(Parcel.id == parcel_id)
    if for_update:
        query = query.with_for_update()
    parcel = db_session.scalar(query)
    if parcel is None:
        raise ParcelNotFound(f"no parcel {parcel_id}", field="parcel_id")
    return parcel


def get_parcels_of_resident(*, db_session: Session, resident_id: int) -> list[Parcel]:
    """A resident's parcels that are on their way to, in, or just out of a locker."""
    shown = (*AWAITING_DEPOSIT, *LIVE_PARCEL, ParcelStatus.COLLECTED, ParcelStatus.UNDELIVERED)
    return list(
        db_session.scalars(
            select(Parcel)
            .where(Parcel.resident_id == resident_id, Parcel.status.in_(shown))
            .order_by(Parcel.pickup_deadline, Parcel.id)
        )
    )


def parcel_in_compartment(*, db_session: Session, compartment_id: int) -> Parcel | None:
    """The parcel assigned to a compartment that is not finished with it yet."""
    return db_session.scalar(
        select(Parcel)
        .where(
            Parcel.compartment_id == compartment_id,
            Parcel.status.in_((*AWAITING_DEPOSIT, *LIVE_PARCEL)),
        )
        .order_by(Parcel.id)
        .limit(1)
    )


def parcels_in_zone(*, db_session: Session, bank_id: int, zone: str) -> list[Parcel]:
    """Parcels sitting in a bank's compartments of one temperature zone."""
    return list(
        db_session.scalars(
            select(Parcel)
            .join(Compartment, Compartment.id == Parcel.compartment_id)
            .where(
                Parcel.bank_id == bank_id,
                Compartment.zone == zone,
                Parcel.status.in_(LIVE_PARCEL),
            )
            .order_by(Parcel.id)
        )
    )


def parcels_to_retrieve(*, db_session: Session, bank_id: int | None = None) -> list[Parcel]:
    """Expired parcels still in a locker, for the next route's driver to take out."""
    query = select(Parcel).where(Parcel.status == ParcelStatus.EXPIRED)
    if bank_id is not None:
        query = query.where(Parcel.bank_id == bank_id)
    return list(db_session.scalars(query.order_by(Parcel.bank_id, Parcel.id)))


def set_compartment_status(*, compartment: Compartment, status: CompartmentStatus) -> None:
    """Move a compartment, keeping out-of-service sticky until an operator clears it."""
    compartment_lifecycle.follow_locker(compartment, status)


def sync_order(*, db_session: Session, order_id: int) -> Order | None:
    """Move an order to what its parcels say (ready, collected, expired), via the state machine."""
    order = db_session.get(Order, order_id)
    if order is None:
        return None
    parcels = [
        p
        for p in db_session.scalars(select(Parcel).where(Parcel.order_id == order_id))
        if p.status != ParcelStatus.CANCELLED
    ]
    if not parcels:
        return order
    statuses = {ParcelStatus(p.status) for p in parcels}
    target: OrderStatus | None = None
    if statuses == {ParcelStatus.COLLECTED}:
        target = OrderStatus.COLLECTED
    elif statuses <= {ParcelStatus.READY_FOR_PICKUP, ParcelStatus.COLLECTED}:
        target = OrderStatus.READY_FOR_PICKUP
    elif statuses <= {ParcelStatus.COLLECTED, ParcelStatus.EXPIRED, ParcelStatus.RETRIEVED}:
        target = OrderStatus.EXPIRED
    if target is not None:
        _walk_order(order, target)
    return order


def _walk_order(order: Order, target: OrderStatus) -> None:
    current = OrderStatus(order.status)
    if current == target or current in order_states.TERMINAL:
        return
    if target == OrderStatus.EXPIRED:
        if current != OrderStatus.READY_FOR_PICKUP:
            _walk_order(order, OrderStatus.READY_FOR_PICKUP)
        if OrderStatus(order.status) == OrderStatus.READY_FOR_PICKUP:
            order_states.transition(order, OrderStatus.EXPIRED)
        return
    if current not in _ORDER_PATH or target not in _ORDER_PATH:
        log.warning("order %s in %s not moved to %s", order.id, current, target)
        return
    start, end = _ORDER_PATH.index(current), _ORDER_PATH.index(target)
    for step in _ORDER_PATH[start + 1 : end + 1]:
        order_states.transition(order, step)
