"""Expiry and extension without a broker: overdue parcels expire and their codes are revoked,
an extension is refused when the compartment is needed, the order follows the parcel."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods.models import CompartmentStatus
from app.orders.models import Order, OrderStatus
from lockers import codes, domain_events, expiry, extension, locker_parcels
from lockers.models import LockerCommand
from logistics.models import ParcelStatus
from tests.lockers.bank_messages import outbox_events
from tests.lockers.conftest import World


def test_overdue_parcels_expire_and_their_codes_are_revoked(w: World, db: Session) -> None:
    overdue = w.parcel(
        "A1",
        status=ParcelStatus.READY_FOR_PICKUP,
        deadline=utcnow() - timedelta(minutes=1),
        order_status=OrderStatus.READY_FOR_PICKUP,
    )
    fine = w.parcel(
        "A2", status=ParcelStatus.READY_FOR_PICKUP, deadline=utcnow() + timedelta(hours=1)
    )
    for parcel in (overdue, fine):
        codes.ensure_pickup_code(db_session=db, parcel=parcel)

    assert overdue.id in expiry.expire_overdue(db_session=db)

    assert overdue.status == ParcelStatus.EXPIRED and fine.status == ParcelStatus.READY_FOR_PICKUP
    assert db.get(Order, overdue.order_id).status == OrderStatus.EXPIRED  # type: ignore[union-attr]
    assert codes.pickup_code_for_parcel(db_session=db, parcel_id=overdue.id) is None
    revoke = db.scalar(
        select(LockerCommand).where(
            LockerCommand.parcel_id == overdue.id, LockerCommand.kind == "revoke_code"
        )
    )
    assert revoke is not None and revoke.payload == {"parcel_id": overdue.id}
    assert len(outbox_events(db, domain_events.PARCEL_EXPIRED, parcel_id=overdue.id)) == 1
    assert [p.id for p in locker_parcels.parcels_to_retrieve(db_session=db, bank_id=w.bank.id)] == [
        overdue.id
    ]
    assert w.compartments["A1"].status == CompartmentStatus.OCCUPIED  # until retrieved


def test_extension_refused_when_the_compartment_is_needed(w: World, db: Session) -> None:
    parcel = w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    codes.ensure_pickup_code(db_session=db, parcel=parcel)
    until = parcel.pickup_deadline + timedelta(hours=24)
    assert extension.compartment_needed(db_session=db, parcel=parcel, until=until) is None

    # A window arrives before the new deadline and every other chilled M compartment is taken.
    w.make.window(cutoff_in=timedelta(hours=1))  # ready 6 h from now, in the same city
    for label in ("A2", "A3"):
        w.compartments[label].status = CompartmentStatus.OCCUPIED
    db.flush()
    reason = extension.compartment_needed(db_session=db, parcel=parcel, until=until)
    assert reason is not None and "no other compartment is free" in reason

    # Another parcel already reserved for this very compartment.
    w.compartments["A2"].status = CompartmentStatus.FREE
    db.flush()
    assert extension.compartment_needed(db_session=db, parcel=parcel, until=until) is None
    w.parcel("A1")
    reason = extension.compartment_needed(db_session=db, parcel=parcel, until=until)
    assert reason == "another parcel is reserved for this compartment"


def test_sync_order_walks_the_state_machine(w: World, db: Session) -> None:
    parcel = w.parcel("A1", order_status=OrderStatus.CONFIRMED)
    parcel.status = ParcelStatus.COLLECTED
    order = locker_parcels.sync_order(db_session=db, order_id=parcel.order_id)
    assert order is not None and order.status == OrderStatus.COLLECTED
