"""A bank's state and events without a broker: online and offline (last will, heartbeat
timeout), refused messages, events stored once, gaps replayed, resets and reboots."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from lockers import banks, domain_events, ingest, protocol
from lockers.models import LockerBankState, LockerCommand, LockerEvent
from tests.lockers.bank_messages import outbox_events, send_ack, send_door_opened, send_state
from tests.lockers.conftest import World


def test_last_will_and_heartbeat_timeout_take_a_bank_offline(w: World, db: Session) -> None:
    assert send_state(w, db, protocol.StateMessage(online=True, seq=1, ts=utcnow())) == "online"
    assert banks.is_online(db_session=db, bank_id=w.bank.id)
    assert send_state(w, db, protocol.StateMessage(online=False, reason="connection_lost")) == (
        "offline"
    )
    assert send_state(w, db, protocol.StateMessage(online=False)) == "ignored:already_offline"
    assert len(outbox_events(db, domain_events.LOCKER_OFFLINE, bank_id=w.bank.id)) == 1

    assert send_state(w, db, protocol.StateMessage(online=True, seq=2, ts=utcnow())) == "online"
    later = utcnow() + timedelta(seconds=10)
    assert not banks.is_online(db_session=db, bank_id=w.bank.id, now=later)
    assert ingest.offline_silent_banks(db_session=db, now=later) == [w.bank.id]
    offline = outbox_events(db, domain_events.LOCKER_OFFLINE, bank_id=w.bank.id)
    assert [e.payload["reason"] for e in offline] == ["connection_lost", "heartbeat_timeout"]


def test_invalid_or_newer_version_messages_are_refused(w: World, db: Session) -> None:
    assert (
        ingest.handle_state(db_session=db, bank=w.bank, payload=b"not json", received_at=utcnow())
        == "invalid"
    )
    future = (
        b'{"v": 2, "event_id": "abcdefgh-1", "seq": 1, "ts": "2026-01-01T00:00:00Z",'
        b' "type": "door_opened"}'
    )
    assert (
        ingest.handle_event(db_session=db, bank=w.bank, payload=future, received_at=utcnow())
        == "invalid"
    )
    assert db.scalars(select(LockerEvent).where(LockerEvent.bank_id == w.bank.id)).all() == []


def test_an_event_is_stored_once(w: World, db: Session) -> None:
    event = protocol.EventMessage(
        event_id="evt-00000001",
        seq=1,
        ts=utcnow(),
        type=protocol.EventType.DOOR_OPENED,
        compartment="A1",
    )
    raw = event.model_dump_json().encode()
    assert (
        ingest.handle_event(db_session=db, bank=w.bank, payload=raw, received_at=utcnow())
        == "recorded"
    )
    assert (
        ingest.handle_event(db_session=db, bank=w.bank, payload=raw, received_at=utcnow())
        == "duplicate"
    )
    rows = db.scalars(select(LockerEvent).where(LockerEvent.bank_id == w.bank.id)).all()
    assert len(rows) == 1


def test_a_gap_in_event_numbers_asks_for_a_replay(w: World, db: Session) -> None:
    start = utcnow()
    send_state(w, db, protocol.StateMessage(online=True, seq=1, ts=start, event_seq=0), start)
    for seq in (1, 2, 4):
        event = protocol.EventMessage(
            event_id=f"evt-gap-{seq:04d}",
            seq=seq,
            ts=start,
            type=protocol.EventType.DOOR_OPENED,
            compartment="A1",
        )
        ingest.handle_event(
            db_session=db, bank=w.bank, payload=event.model_dump_json().encode(), received_at=start
        )
    state = db.get(LockerBankState, w.bank.id)
    assert state is not None and state.event_seq_contiguous == 2 and state.event_seq_max == 4
    assert ingest.request_missing_events(db_session=db, now=start) == []  # grace starts
    asked = ingest.request_missing_events(db_session=db, now=start + timedelta(seconds=1))
    assert asked == [w.bank.id]
    replay = db.scalar(
        select(LockerCommand).where(
            LockerCommand.kind == "replay_events", LockerCommand.bank_id == w.bank.id
        )
    )
    assert replay is not None and replay.payload == {"from_seq": 3, "to_seq": 4}
    third = protocol.EventMessage(
        event_id="evt-gap-0003",
        seq=3,
        ts=start,
        type=protocol.EventType.DOOR_OPENED,
        compartment="A1",
    )
    ingest.handle_event(
        db_session=db, bank=w.bank, payload=third.model_dump_json().encode(), received_at=start
    )
    assert state.event_seq_contiguous == 4 and state.event_gap_since is None


def test_a_locker_reset_starts_a_new_event_epoch(w: World, db: Session) -> None:
    t0 = utcnow()
    send_state(w, db, protocol.StateMessage(online=True, seq=50, ts=t0, event_seq=0), t0)
    for seq in range(1, 6):
        send_door_opened(w, db, seq, t0)
    send_state(w, db, protocol.StateMessage(online=False), t0)
    # The locker came back with its counters at zero (storage wiped): not "stale".
    t1 = t0 + timedelta(seconds=5)
    assert send_state(w, db, protocol.StateMessage(online=True, seq=1, ts=t1, event_seq=1), t1) == (
        "online"
    )
    state = db.get(LockerBankState, w.bank.id)
    assert state is not None and state.event_seq_contiguous == 1
    send_door_opened(w, db, 2, t1)  # old rows 3..5 from before the reset must not count
    assert state.event_seq_contiguous == 2
    assert ingest.request_missing_events(db_session=db, now=t1 + timedelta(seconds=9)) == []


def test_events_the_locker_no_longer_has_are_skipped(w: World, db: Session) -> None:
    t0 = utcnow()
    send_state(w, db, protocol.StateMessage(online=True, seq=1, ts=t0, event_seq=0), t0)
    send_door_opened(w, db, 1, t0)
    send_door_opened(w, db, 9, t0)
    ingest.request_missing_events(db_session=db, now=t0)
    ingest.request_missing_events(db_session=db, now=t0 + timedelta(seconds=1))
    replay = db.scalar(
        select(LockerCommand).where(
            LockerCommand.kind == "replay_events", LockerCommand.bank_id == w.bank.id
        )
    )
    assert replay is not None and replay.payload == {"from_seq": 2, "to_seq": 9}
    assert send_ack(w, db, replay.id, result={"replayed": 0, "oldest_available": 9}) == "acked"
    state = db.get(LockerBankState, w.bank.id)
    assert state is not None and state.event_seq_contiguous == 9


def test_a_reboot_nobody_noticed_is_accepted(w: World, db: Session) -> None:
    t0 = utcnow()
    send_state(w, db, protocol.StateMessage(online=True, seq=40, ts=t0, event_seq=0), t0)
    for seq in range(1, 4):
        send_door_opened(w, db, seq, t0)
    # No last will seen, but the counters went back and the clock moved on: a reboot.
    t1 = t0 + timedelta(seconds=20)
    assert send_state(w, db, protocol.StateMessage(online=True, seq=1, ts=t1, event_seq=0), t1) == (
        "state"
    )
    state = db.get(LockerBankState, w.bank.id)
    assert state is not None and state.state_seq == 1 and state.last_seen_at == t1
    assert state.event_seq_contiguous == 0 and state.event_epoch_at == t1
    # The same old message delivered again later (retained) is still refused.
    old = protocol.StateMessage(online=True, seq=1, ts=t0 - timedelta(seconds=5))
    assert send_state(w, db, old, t1 + timedelta(seconds=1)) == "ignored:stale"
