"""Outbox events of other packages become messages once, whatever order they commit in."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.events.models import ConsumerCursor as EventCursor
from app.events.models import ConsumerReceipt as EventReceipt
from app.events.models import OutboxEvent
from notifications import dispatch
from notifications.models import Message
from tests.notifications.conftest import World


def _messages(db: Session) -> list[tuple[str, str]]:
    return [
        (m.template, m.idempotency_key) for m in db.scalars(select(Message).order_by(Message.id))
    ]


def test_every_event_kind_becomes_its_message(db: Session, world: World) -> None:
    parcel = world.parcel()
    other_bank = world.make.locker_bank()
    p = {"parcel_id": parcel.id, "order_id": parcel.order_id, "resident_id": parcel.resident_id}
    resident = world.resident()
    world.order_event(resident)
    world.order_event(resident, refunded_minor=150)
    world.order_event(resident, kind="order.group_failed", refunded_minor=2400)
    world.ready_event(parcel)
    world.event(
        "parcel.overflow", {**p, "from_bank_id": parcel.bank_id, "to_bank_id": other_bank.id}
    )
    world.event("parcel.expired", {**p, "bank_id": parcel.bank_id})
    world.event("parcel.cold_chain_flag", {**p, "minutes_out": 25})
    world.event("parcel.pickup_deadline_extended", {**p, "pickup_deadline": "2030-01-01T10:00:00Z"})
    world.event("locker.offline", {"bank_id": parcel.bank_id})  # not ours

    result = dispatch.consume(db_session=db)
    assert (result.events, result.created, len(result.to_send)) == (8, 8, 8)
    templates = [t for t, _ in _messages(db)]
    assert templates == [
        "group_formed",
        "group_formed_refund",
        "group_failed",
        "parcel_ready",
        "parcel_overflow",
        "parcel_expired",
        "cold_chain_flag",
        "deadline_extended",
    ]
    keys = dict((t, k) for t, k in _messages(db))
    assert keys["parcel_overflow"] == f"parcel_overflow:{parcel.id}:{other_bank.id}"
    assert keys["cold_chain_flag"] == f"cold_chain:{parcel.id}"


def test_consuming_again_creates_nothing(db: Session, world: World) -> None:
    world.order_event(world.resident())
    assert dispatch.consume(db_session=db).created == 1
    again = dispatch.consume(db_session=db)
    assert (again.events, again.created) == (0, 0)
    assert dispatch.pending_count(db_session=db) == 0


def test_an_event_for_a_missing_parcel_is_skipped_not_stuck(db: Session, world: World) -> None:
    world.event("parcel.ready_for_pickup", {"parcel_id": 999_999})
    world.order_event(world.resident())
    result = dispatch.consume(db_session=db)
    assert result.created == 1
    outcomes = db.scalars(select(EventReceipt.outcome).order_by(EventReceipt.event_id)).all()
    assert outcomes[0] == "skipped: parcel not found"


def test_an_event_that_commits_late_with_a_lower_id_is_not_lost(db: Session, world: World) -> None:
    resident = world.resident()
    first, late, last = (world.order_event(resident) for _ in range(3))
    late_row = {"id": late.id, "kind": late.kind, "dedupe_key": late.dedupe_key}
    late_payload = dict(late.payload)
    db.execute(delete(OutboxEvent).where(OutboxEvent.id == late.id))  # not committed yet
    db.expunge_all()
    assert dispatch.consume(db_session=db).created == 2
    db.add(OutboxEvent(**late_row, payload=late_payload, created_at=utcnow()))  # commits now
    db.flush()
    result = dispatch.consume(db_session=db)
    assert result.created == 1
    assert len(_messages(db)) == 3
    assert first.id < late_row["id"] < last.id


def test_the_watermark_moves_past_old_events_and_prunes_receipts(db: Session, world: World) -> None:
    resident = world.resident()
    events = [world.order_event(resident) for _ in range(3)]
    dispatch.consume(db_session=db)
    cursor = db.scalars(select(EventCursor)).one()
    assert cursor.last_event_id < events[0].id  # too recent: a lower id may still commit
    assert len(db.scalars(select(EventReceipt)).all()) == 3

    dispatch.consume(db_session=db, now=utcnow() + timedelta(hours=1))
    db.refresh(cursor)
    assert cursor.last_event_id == events[-1].id
    assert db.scalars(select(EventReceipt)).all() == []
    world.order_event(resident)
    assert dispatch.consume(db_session=db).created == 1


@pytest.mark.parametrize("batch", [1, 2])
def test_consuming_in_small_batches_handles_everything(
    db: Session, world: World, batch: int
) -> None:
    resident = world.resident()
    for _ in range(5):
        world.order_event(resident)
    created = 0
    for _ in range(10):
        created += dispatch.consume(db_session=db, limit=batch).created
    assert created == 5
