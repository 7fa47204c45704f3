"""A parcel whose reserved compartment was taken out of service gets another one.

The parcel (still awaiting deposit: reserved, or loaded on its van) is booked again through the
reservation rules: its own neighborhood's banks first, then the nearest bank with room (the
resident is told by "parcel.overflow"). In the same bank its route stop stays; in another bank
it leaves its stop, for the next re-plan to route. With no room anywhere a reserved parcel goes
back to packed with the reason, a loaded one is undelivered. A "parcel.reserved" event pushes
its code to the bank it now goes to. Does not commit.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.enums import TemperatureClass
from logistics import lifecycle, reservation
from logistics.models import Parcel, ParcelStatus

AWAITING_DEPOSIT = (ParcelStatus.RESERVED, ParcelStatus.LOADED)


@dataclass(frozen=True)
class MovedReservation:
    """Where a parcel went: its new bank and compartment (None when no room was left)."""

    parcel_id: int
    from_bank_id: int
    to_bank_id: int | None
    to_compartment_id: int | None


def move_off_compartment(
    *, db_session: Session, compartment_id: int, city_id: int
) -> MovedReservation | None:
    """Book another compartment for the parcel awaiting deposit in this one (None: nobody)."""
    parcel = db_session.scalar(
        select(Parcel).where(
            Parcel.compartment_id == compartment_id, Parcel.status.in_(AWAITING_DEPOSIT)
        )
    )
    if parcel is None or parcel.bank_id is None:
        return None
    from_bank = parcel.bank_id
    want = reservation.Want(
        parcel.id,
        parcel.order_id,
        parcel.resident_id,
        parcel.neighborhood_id,
        TemperatureClass(parcel.temperature_class),
        parcel.compartment_size,
        ParcelStatus(parcel.status),
    )
    parcel.bank_id = None
    parcel.compartment_id = None
    db_session.flush()
    result = reservation.reserve(db_session=db_session, city_id=city_id, wants=[want], commit=False)
    db_session.refresh(parcel)
    if result.unplaced:
        if parcel.status == ParcelStatus.LOADED:
            lifecycle.fail_parcel(parcel, "no free compartment after out of service")
        else:
            lifecycle.transition(parcel, ParcelStatus.PACKED)
        parcel.route_stop_id = None
        db_session.flush()
        return MovedReservation(parcel.id, from_bank, None, None)
    if parcel.bank_id != from_bank:
        parcel.route_stop_id = None
    db_session.flush()
    reservation.emit_reserved_events(
        db_session=db_session, window_id=parcel.window_id, parcel_ids=[parcel.id]
    )
    return MovedReservation(parcel.id, from_bank, parcel.bank_id, parcel.compartment_id)
