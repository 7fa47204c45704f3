"""The lockers' reservation intake pushes every parcel's code even when the outbox ids of the
"parcel.reserved" events commit out of order (it used to read `id > cursor` and skip them)."""

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.events import consumer as events_consumer
from app.events import service as event_service
from app.events.models import OutboxEvent
from lockers import intake
from lockers.models import LockerCommand
from logistics.models import Parcel
from tests.lockers.conftest import World, build_world


@pytest.fixture
def w(db: Session) -> World:
    return build_world(db, None)  # type: ignore[arg-type]


def _reserved(db: Session, w: World, parcel: Parcel, label: str) -> OutboxEvent:
    return event_service.emit(
        db_session=db,
        kind=intake.KIND,
        dedupe_key=f"{intake.KIND}:{parcel.id}:test",
        payload={
            "parcel_id": parcel.id,
            "bank_id": w.bank.id,
            "compartment_id": w.compartments[label].id,
        },
    )


def _pushes(db: Session, parcel: Parcel) -> int:
    return len(
        db.scalars(
            select(LockerCommand).where(
                LockerCommand.parcel_id == parcel.id, LockerCommand.kind == "load_codes"
            )
        ).all()
    )


def test_a_reservation_committed_after_a_later_one_was_read_still_gets_its_code(
    w: World, db: Session
) -> None:
    first, second = w.parcel("A1"), w.parcel("A2")
    late = _reserved(db, w, first, "A1")
    _reserved(db, w, second, "A2")
    row = {"id": late.id, "kind": late.kind, "dedupe_key": late.dedupe_key}
    payload = dict(late.payload)
    db.execute(delete(OutboxEvent).where(OutboxEvent.id == late.id))  # not committed yet
    db.expunge(late)

    assert intake.consume_reservations(db_session=db) == 1
    assert (_pushes(db, first), _pushes(db, second)) == (0, 1)

    db.add(OutboxEvent(**row, payload=payload))  # its writer commits now, below the other
    db.flush()
    assert intake.consume_reservations(db_session=db) == 1
    assert (_pushes(db, first), _pushes(db, second)) == (1, 1)
    assert intake.consume_reservations(db_session=db) == 0
    kept = events_consumer.receipts(db_session=db, consumer=intake.CONSUMER.name)
    assert late.id in {r.event_id for r in kept}
