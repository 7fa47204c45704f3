"""The command outbox without a broker: claims back off and keep the command's id, only the
locker's own ack delivers a command, failures and expiry are reported, late acks recorded."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from lockers import acks, domain_events, outbox, protocol
from lockers.models import CommandStatus
from tests.lockers.bank_messages import (
    outbox_events,
    queue_command,
    send_ack,
    send_state,
    server_keypad_settings,
)
from tests.lockers.conftest import World


def test_claims_back_off_and_keep_the_same_id(w: World, db: Session) -> None:
    command = queue_command(w, db)
    now = utcnow()
    # A locker that runs the server's keypad settings gets no `configure` ([S-7.4]).
    keypad = protocol.KeypadReport(**server_keypad_settings())
    send_state(w, db, protocol.StateMessage(online=True, seq=1, ts=now, keypad=keypad), now)
    first = outbox.claim_due(db_session=db, now=now)
    assert [o.command_id for o in first] == [command.id] and first[0].topic_bank == w.bank.code
    assert outbox.claim_due(db_session=db, now=now + timedelta(seconds=0.1)) == []
    second = outbox.claim_due(db_session=db, now=now + timedelta(seconds=1))
    assert [o.command_id for o in second] == [command.id] and second[0].attempt == 2
    db.refresh(command)
    assert command.status == CommandStatus.SENT and command.attempts == 2
    sent = protocol.CommandMessage.model_validate_json(second[0].payload)
    expires = command.expires_at.replace(microsecond=command.expires_at.microsecond // 1000 * 1000)
    assert sent.command_id == command.id and sent.expires_at == expires
    # Re-sends wait while the bridge is behind, and while the bank is offline.
    later = now + timedelta(seconds=30)
    assert outbox.claim_due(db_session=db, now=later, resends=False) == []
    send_state(w, db, protocol.StateMessage(online=False), later)
    assert outbox.claim_due(db_session=db, now=later) == []
    fresh = queue_command(w, db)
    assert [o.command_id for o in outbox.claim_due(db_session=db, now=later)] == [fresh.id]


def test_only_the_lockers_ack_delivers_a_command(w: World, db: Session) -> None:
    command = queue_command(w, db)
    outbox.claim_due(db_session=db)
    db.refresh(command)
    assert command.status == CommandStatus.SENT  # the broker took it: not delivered yet
    assert send_ack(w, db, command.id) == "acked"
    assert send_ack(w, db, command.id) == "duplicate"
    db.refresh(command)
    assert command.status == CommandStatus.ACKED and command.finished_at is not None
    assert outbox.claim_due(db_session=db, now=utcnow() + timedelta(minutes=5)) == []


def test_an_ack_from_another_bank_is_ignored(w: World, db: Session) -> None:
    command = queue_command(w, db)
    intruder = w.make.locker_bank(w.hood)
    payload = protocol.AckMessage(command_id=command.id, status=protocol.AckStatus.OK)
    outcome, _ = acks.handle_ack(
        db_session=db,
        bank=intruder,
        payload=payload.model_dump_json().encode(),
        received_at=utcnow(),
    )
    assert outcome == "ignored:other_bank"
    db.refresh(command)
    assert command.status == CommandStatus.QUEUED


def test_failed_ack_is_reported(w: World, db: Session) -> None:
    command = queue_command(w, db)
    assert send_ack(w, db, command.id, "error", error="unknown_compartment") == "failed"
    assert command.status == CommandStatus.FAILED and command.error == "unknown_compartment"
    assert outbox_events(db, domain_events.LOCKER_COMMAND_FAILED, command_id=command.id)


def test_commands_expire_and_late_acks_are_recorded(w: World, db: Session) -> None:
    command = queue_command(w, db, ttl=1)
    assert outbox.expire_overdue(db_session=db, now=utcnow() + timedelta(seconds=5)) == [command.id]
    assert command.status == CommandStatus.EXPIRED
    assert outbox.claim_due(db_session=db, now=utcnow() + timedelta(seconds=6)) == []
    assert outbox_events(
        db, domain_events.LOCKER_COMMAND_FAILED, command_id=command.id, reason="expired"
    )
    assert send_ack(w, db, command.id) == "late"
    assert command.status == CommandStatus.EXPIRED and command.late_ack_at is not None
