"""The parcels a locker awaits or holds, the compartment moves they make, and the orders their
statuses move. Nothing here commits."""

from sqlalchemy.orm import Session

from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods.queries import CompartmentStatus
from app.orders import states as order_states
from app.orders.queries import OrderStatus
from lockers.errors import ParcelNotFound
from logistics import parcels as logistics_parcels
from logistics.parcels import Parcel, ParcelStatus

LIVE_PARCEL = (ParcelStatus.READY_FOR_PICKUP, ParcelStatus.EXPIRED)
AWAITING_DEPOSIT = (ParcelStatus.RESERVED, ParcelStatus.LOADED)


def get_parcel(*, db_session: Session, parcel_id: int, for_update: bool = False) -> Parcel:
    """A parcel by id (optionally row-locked), or NotFound."""
    parcel = logistics_parcels.get_parcel(
        db_session=db_session, parcel_id=parcel_id, for_update=for_update
    )
    if parcel is None:
        raise ParcelNotFound(f"no parcel {parcel_id}", field="parcel_id")
    return parcel


def get_parcels_of_resident(*, db_session: Session, resident_id: int) -> list[Parcel]:
    """A resident's parcels that are on their way to, in, or just out of a locker."""
    shown = (*AWAITING_DEPOSIT, *LIVE_PARCEL, ParcelStatus.COLLECTED, ParcelStatus.UNDELIVERED)
    return logistics_parcels.parcels_of_resident(
        db_session=db_session, resident_id=resident_id, statuses=shown
    )


def parcel_in_compartment(*, db_session: Session, compartment_id: int) -> Parcel | None:
    """The parcel assigned to a compartment that is not finished with it yet."""
    return logistics_parcels.parcel_in_compartment(
        db_session=db_session,
        compartment_id=compartment_id,
        statuses=(*AWAITING_DEPOSIT, *LIVE_PARCEL),
    )


def parcels_in_zone(*, db_session: Session, bank_id: int, zone: str) -> list[Parcel]:
    """Parcels sitting in a bank's compartments of one temperature zone."""
    return logistics_parcels.parcels_in_bank_zone(
        db_session=db_session, bank_id=bank_id, zone=zone, statuses=LIVE_PARCEL
    )


def parcels_to_retrieve(*, db_session: Session, bank_id: int | None = None) -> list[Parcel]:
    """Expired parcels still in a locker, for the next route's driver to take out."""
    return logistics_parcels.parcels_in_status(
        db_session=db_session, status=ParcelStatus.EXPIRED, bank_id=bank_id
    )


def set_compartment_status(
    *, db_session: Session, compartment_id: int, status: CompartmentStatus
) -> None:
    """Move a compartment, keeping out-of-service sticky until an operator clears it."""
    compartment_lifecycle.follow_locker_by_id(
        db_session=db_session, compartment_id=compartment_id, to=status
    )


def sync_order(*, db_session: Session, order_id: int) -> order_states.OrderState | None:
    """Move an order to what its parcels say (ready, collected, expired), via the state machine."""
    parcels = [
        p
        for p in logistics_parcels.parcels_of_order(db_session=db_session, order_id=order_id)
        if p.status != ParcelStatus.CANCELLED
    ]
    statuses = {ParcelStatus(p.status) for p in parcels}
    target: OrderStatus | None = None
    if statuses == {ParcelStatus.COLLECTED}:
        target = OrderStatus.COLLECTED
    elif statuses and statuses <= {ParcelStatus.READY_FOR_PICKUP, ParcelStatus.COLLECTED}:
        target = OrderStatus.READY_FOR_PICKUP
    elif statuses <= {ParcelStatus.COLLECTED, ParcelStatus.EXPIRED, ParcelStatus.RETRIEVED}:
        target = OrderStatus.EXPIRED
    return order_states.walk_to(db_session=db_session, order_id=order_id, target=target)
