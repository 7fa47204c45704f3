"""A compartment taken out of service: the parcel awaiting it is booked elsewhere."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.events.models import OutboxEvent
from app.neighborhoods.models import CompartmentStatus
from lockers import operator as locker_operator
from logistics import compartment_move
from logistics.models import ParcelStatus
from tests.lockers.conftest import World, build_world


def _out(w: World, label: str) -> compartment_move.MovedReservation | None:
    compartment = w.compartments[label]
    locker_operator.mark_out_of_service(
        db_session=w.db,
        bank=w.bank,
        compartment=compartment,
        out_of_service=True,
        reason="door hinge broken",
        actor_id=w.operator.id,
        tell_locker=False,
    )
    return compartment_move.move_off_compartment(
        db_session=w.db, compartment_id=compartment.id, city_id=w.hood.city_id
    )


def test_the_reservation_moves_to_a_free_compartment_of_the_same_zone(db: Session) -> None:
    w = build_world(db, None)  # type: ignore[arg-type]
    parcel = w.parcel("A1")
    moved = _out(w, "A1")
    assert moved is not None and moved.to_bank_id == w.bank.id
    db.refresh(parcel)
    assert parcel.compartment_id in {w.compartments["A2"].id, w.compartments["A3"].id}
    assert parcel.status == ParcelStatus.RESERVED
    assert w.compartments["A1"].status == CompartmentStatus.OUT_OF_SERVICE
    db.refresh(w.compartments["A2"])
    db.refresh(w.compartments["A3"])
    assert CompartmentStatus.RESERVED in {w.compartments[x].status for x in ("A2", "A3")}
    event = db.scalar(
        select(OutboxEvent).where(
            OutboxEvent.kind == "parcel.reserved",
            OutboxEvent.dedupe_key == f"parcel.reserved:{parcel.id}:{parcel.compartment_id}",
        )
    )
    assert event is not None


def test_no_room_left_sends_the_parcel_back_to_packed(db: Session) -> None:
    w = build_world(db, None)  # type: ignore[arg-type]
    parcel = w.parcel("F1")  # the only frozen compartment of the city
    moved = _out(w, "F1")
    assert moved is not None and moved.to_compartment_id is None
    db.refresh(parcel)
    assert parcel.status == ParcelStatus.PACKED and parcel.compartment_id is None


def test_an_empty_compartment_moves_nothing(db: Session) -> None:
    w = build_world(db, None)  # type: ignore[arg-type]
    assert _out(w, "A2") is None
