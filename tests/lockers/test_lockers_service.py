"""Service-level rules without a broker: codes, the command outbox, acks, state and heartbeat,
cold chain, expiry and extension."""

from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.events.models import OutboxEvent
from app.neighborhoods.models import CompartmentStatus
from app.orders.models import Order, OrderStatus
from lockers import (
    acks,
    banks,
    codes,
    coldchain,
    command_queue,
    domain_events,
    expiry,
    extension,
    ingest,
    locker_parcels,
    outbox,
    protocol,
    settings_sync,
)
from lockers.models import (
    CodeStatus,
    ColdChainExcursion,
    CommandStatus,
    LockerBankState,
    LockerCommand,
    LockerEvent,
    ParcelColdChainFlag,
    PickupCode,
)
from logistics.models import ParcelStatus
from tests.lockers.conftest import World, build_world


@pytest.fixture
def w(db: Session) -> World:
    return build_world(db, None)  # type: ignore[arg-type]


def _events(db: Session, kind: str, **match: object) -> list[OutboxEvent]:
    rows = db.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id))
    return [e for e in rows if all(e.payload.get(k) == v for k, v in match.items())]


# --- codes -----------------------------------------------------------------------------------


def test_codes_are_unique_among_a_banks_live_parcels(w: World, db: Session) -> None:
    first, second = w.parcel("A1"), w.parcel("A2")
    # Make `first` hold exactly the code `second` would get at nonce 0: a collision.
    row = codes.ensure_pickup_code(db_session=db, parcel=first)
    clash = codes.pickup_code_hash(parcel_id=second.id, nonce=0)
    row.code_hash = row.live_code_hash = clash
    db.flush()

    issued = codes.ensure_pickup_code(db_session=db, parcel=second)

    assert issued.nonce == 1 and issued.live_code_hash != clash
    assert codes.pickup_code_for_parcel(db_session=db, parcel_id=second.id) == (
        codes.pickup_code(parcel_id=second.id, nonce=1)
    )
    # Once the first code is used, its hash no longer blocks anyone.
    codes.retire_code(
        db_session=db, parcel_id=first.id, status=CodeStatus.USED, revoke_at_locker=False
    )
    assert db.get(PickupCode, row.id).live_code_hash is None  # type: ignore[union-attr]


def test_the_locker_gets_a_slow_salted_hash_never_the_code(w: World, db: Session) -> None:
    parcel = w.parcel("A1")
    row = codes.ensure_pickup_code(db_session=db, parcel=parcel)
    command = codes.push_code(db_session=db, parcel=parcel, row=row)
    clear = codes.pickup_code(parcel_id=parcel.id, nonce=row.nonce)

    entry = protocol.CodeEntry.model_validate(command.payload["codes"][0])
    assert clear not in str(command.payload) and clear not in row.locker_hash
    assert entry.iterations == 1000 and len(bytes.fromhex(entry.salt)) == 16
    assert protocol.locker_code_matches(clear, entry)
    assert not protocol.locker_code_matches(f"{(int(clear) + 1) % 10**6:06d}", entry)
    deadline = parcel.pickup_deadline  # sent with milliseconds ([S-4.1])
    assert entry.expires_at == deadline.replace(microsecond=deadline.microsecond // 1000 * 1000)
    assert entry.compartment == "A1"
    assert row.code_hash == codes.pickup_code_hash(parcel_id=parcel.id, nonce=row.nonce)


def test_no_code_before_issue(w: World, db: Session) -> None:
    parcel = w.parcel("A1")
    assert codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel.id) is None


# --- the command outbox and acks -------------------------------------------------------------


def _command(w: World, db: Session, ttl: float = 60) -> LockerCommand:
    return command_queue.queue_command(
        db_session=db,
        bank_id=w.bank.id,
        kind=protocol.CommandType.SET_OUT_OF_SERVICE,
        args={"compartment": "A1", "out_of_service": True},
        ttl_seconds=ttl,
    )


def _ack(w: World, db: Session, command_id: str, status: str = "ok", **extra: object) -> str:
    payload = (
        protocol.AckMessage(command_id=command_id, status=protocol.AckStatus(status), **extra)
        .model_dump_json()
        .encode()
    )  # type: ignore[arg-type]
    outcome, _ = acks.handle_ack(db_session=db, bank=w.bank, payload=payload, received_at=utcnow())
    return outcome


def test_claims_back_off_and_keep_the_same_id(w: World, db: Session) -> None:
    command = _command(w, db)
    now = utcnow()
    # A locker that runs the server's keypad settings gets no `configure` ([S-7.4]).
    keypad = protocol.KeypadReport(**_keypad_settings())
    _state(w, db, protocol.StateMessage(online=True, seq=1, ts=now, keypad=keypad), now)
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
    _state(w, db, protocol.StateMessage(online=False), later)
    assert outbox.claim_due(db_session=db, now=later) == []
    fresh = _command(w, db)
    assert [o.command_id for o in outbox.claim_due(db_session=db, now=later)] == [fresh.id]


def test_only_the_lockers_ack_delivers_a_command(w: World, db: Session) -> None:
    command = _command(w, db)
    outbox.claim_due(db_session=db)
    db.refresh(command)
    assert command.status == CommandStatus.SENT  # the broker took it: not delivered yet
    assert _ack(w, db, command.id) == "acked"
    assert _ack(w, db, command.id) == "duplicate"
    db.refresh(command)
    assert command.status == CommandStatus.ACKED and command.finished_at is not None
    assert outbox.claim_due(db_session=db, now=utcnow() + timedelta(minutes=5)) == []


def test_an_ack_from_another_bank_is_ignored(w: World, db: Session) -> None:
    command = _command(w, db)
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
    command = _command(w, db)
    assert _ack(w, db, command.id, "error", error="unknown_compartment") == "failed"
    assert command.status == CommandStatus.FAILED and command.error == "unknown_compartment"
    assert _events(db, domain_events.LOCKER_COMMAND_FAILED, command_id=command.id)


def test_commands_expire_and_late_acks_are_recorded(w: World, db: Session) -> None:
    command = _command(w, db, ttl=1)
    assert outbox.expire_overdue(db_session=db, now=utcnow() + timedelta(seconds=5)) == [command.id]
    assert command.status == CommandStatus.EXPIRED
    assert outbox.claim_due(db_session=db, now=utcnow() + timedelta(seconds=6)) == []
    assert _events(db, domain_events.LOCKER_COMMAND_FAILED, command_id=command.id, reason="expired")
    assert _ack(w, db, command.id) == "late"
    assert command.status == CommandStatus.EXPIRED and command.late_ack_at is not None


# --- state, heartbeat, events ----------------------------------------------------------------


def _keypad_settings() -> dict[str, int]:
    wanted = settings_sync.wanted_settings()
    return {"max_attempts": wanted["keypad_max_attempts"], "lockout_s": wanted["keypad_lockout_s"]}


def _state(w: World, db: Session, message: protocol.StateMessage, at: object = None) -> str:
    return ingest.handle_state(
        db_session=db,
        bank=w.bank,
        payload=message.model_dump_json().encode(),
        received_at=at or utcnow(),
    )  # type: ignore[arg-type]


def test_last_will_and_heartbeat_timeout_take_a_bank_offline(w: World, db: Session) -> None:
    assert _state(w, db, protocol.StateMessage(online=True, seq=1, ts=utcnow())) == "online"
    assert banks.is_online(db_session=db, bank_id=w.bank.id)
    assert _state(w, db, protocol.StateMessage(online=False, reason="connection_lost")) == (
        "offline"
    )
    assert _state(w, db, protocol.StateMessage(online=False)) == "ignored:already_offline"
    assert len(_events(db, domain_events.LOCKER_OFFLINE, bank_id=w.bank.id)) == 1

    assert _state(w, db, protocol.StateMessage(online=True, seq=2, ts=utcnow())) == "online"
    later = utcnow() + timedelta(seconds=10)
    assert not banks.is_online(db_session=db, bank_id=w.bank.id, now=later)
    assert ingest.offline_silent_banks(db_session=db, now=later) == [w.bank.id]
    offline = _events(db, domain_events.LOCKER_OFFLINE, bank_id=w.bank.id)
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
    _state(w, db, protocol.StateMessage(online=True, seq=1, ts=start, event_seq=0), start)
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


# --- cold chain ------------------------------------------------------------------------------


def test_cold_chain_alarm_only_after_the_set_time(w: World, db: Session) -> None:
    parcel = w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    t0 = utcnow()
    coldchain.observe(db_session=db, bank_id=w.bank.id, zone="chilled", temp_c=4.9, at=t0)
    assert coldchain.open_excursions(db_session=db, bank_id=w.bank.id) == []
    excursion = coldchain.observe(
        db_session=db, bank_id=w.bank.id, zone="chilled", temp_c=6.0, at=t0
    )
    assert excursion is not None and excursion.alarm_at is None  # threshold 0.5 s in tests
    coldchain.observe(
        db_session=db,
        bank_id=w.bank.id,
        zone="chilled",
        temp_c=8.0,
        at=t0 + timedelta(minutes=3, seconds=10),
    )
    assert excursion.alarm_at is not None and excursion.max_temp_c == 8.0
    flag = db.scalar(select(ParcelColdChainFlag).where(ParcelColdChainFlag.parcel_id == parcel.id))
    assert flag is not None and flag.minutes_out == 4
    # An older reading arriving late changes nothing; a reading back in range ends it.
    coldchain.observe(
        db_session=db, bank_id=w.bank.id, zone="chilled", temp_c=3.0, at=t0 + timedelta(minutes=1)
    )
    assert excursion.ended_at is None
    coldchain.observe(
        db_session=db, bank_id=w.bank.id, zone="chilled", temp_c=3.0, at=t0 + timedelta(minutes=10)
    )
    assert excursion.ended_at is not None and flag.minutes_out == 10
    assert len(_events(db, domain_events.PARCEL_COLD_CHAIN_FLAG, parcel_id=parcel.id)) == 1
    assert len(_events(db, domain_events.LOCKER_COLD_CHAIN_ALARM, bank_id=w.bank.id)) == 1


def test_frozen_limit_and_ambient_unwatched(w: World, db: Session) -> None:
    t0 = utcnow()
    assert (
        coldchain.observe(db_session=db, bank_id=w.bank.id, zone="frozen", temp_c=-15.0, at=t0)
        is None
    )
    assert (
        coldchain.observe(db_session=db, bank_id=w.bank.id, zone="frozen", temp_c=-14.5, at=t0)
        is not None
    )
    assert (
        coldchain.observe(db_session=db, bank_id=w.bank.id, zone="ambient", temp_c=40.0, at=t0)
        is None
    )
    zones = {
        e.zone
        for e in db.scalars(
            select(ColdChainExcursion).where(ColdChainExcursion.bank_id == w.bank.id)
        )
    }
    assert zones == {"frozen"}


# --- expiry and extension --------------------------------------------------------------------


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
    assert len(_events(db, domain_events.PARCEL_EXPIRED, parcel_id=overdue.id)) == 1
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


def _event(w: World, db: Session, seq: int, at: object) -> None:
    message = protocol.EventMessage(
        event_id=f"evt-{uuid4().hex}",
        seq=seq,
        ts=at,
        type=protocol.EventType.DOOR_OPENED,
        compartment="A1",
    )
    ingest.handle_event(
        db_session=db, bank=w.bank, payload=message.model_dump_json().encode(), received_at=at
    )  # type: ignore[arg-type]


def test_a_locker_reset_starts_a_new_event_epoch(w: World, db: Session) -> None:
    t0 = utcnow()
    _state(w, db, protocol.StateMessage(online=True, seq=50, ts=t0, event_seq=0), t0)
    for seq in range(1, 6):
        _event(w, db, seq, t0)
    _state(w, db, protocol.StateMessage(online=False), t0)
    # The locker came back with its counters at zero (storage wiped): not "stale".
    t1 = t0 + timedelta(seconds=5)
    assert _state(w, db, protocol.StateMessage(online=True, seq=1, ts=t1, event_seq=1), t1) == (
        "online"
    )
    state = db.get(LockerBankState, w.bank.id)
    assert state is not None and state.event_seq_contiguous == 1
    _event(w, db, 2, t1)  # old rows 3..5 from before the reset must not count
    assert state.event_seq_contiguous == 2
    assert ingest.request_missing_events(db_session=db, now=t1 + timedelta(seconds=9)) == []


def test_events_the_locker_no_longer_has_are_skipped(w: World, db: Session) -> None:
    t0 = utcnow()
    _state(w, db, protocol.StateMessage(online=True, seq=1, ts=t0, event_seq=0), t0)
    _event(w, db, 1, t0)
    _event(w, db, 9, t0)
    ingest.request_missing_events(db_session=db, now=t0)
    ingest.request_missing_events(db_session=db, now=t0 + timedelta(seconds=1))
    replay = db.scalar(
        select(LockerCommand).where(
            LockerCommand.kind == "replay_events", LockerCommand.bank_id == w.bank.id
        )
    )
    assert replay is not None and replay.payload == {"from_seq": 2, "to_seq": 9}
    assert _ack(w, db, replay.id, result={"replayed": 0, "oldest_available": 9}) == "acked"
    state = db.get(LockerBankState, w.bank.id)
    assert state is not None and state.event_seq_contiguous == 9


def test_reservations_issue_and_push_codes_once(w: World, db: Session) -> None:
    from app.events import service as event_service
    from lockers import intake

    parcel = w.parcel("A1")
    event_service.emit(
        db_session=db,
        kind="parcel.reserved",
        dedupe_key=f"res-{parcel.id}",
        payload={
            "parcel_id": parcel.id,
            "bank_id": w.bank.id,
            "compartment_id": w.compartments["A1"].id,
        },
    )
    assert intake.consume_reservations(db_session=db) >= 1
    assert codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel.id)
    pushes = db.scalars(
        select(LockerCommand).where(
            LockerCommand.parcel_id == parcel.id, LockerCommand.kind == "load_codes"
        )
    ).all()
    assert len(pushes) == 1
    # Reading again, or the deposit preparing the parcel, pushes nothing new.
    assert intake.consume_reservations(db_session=db) == 0
    assert intake.prepare_parcel(db_session=db, parcel_id=parcel.id) is False
    # Moved to another bank: the old bank forgets the code, the new one gets it.
    other = w.make.locker_bank(w.hood)
    moved_to = w.make.compartment(other, label="Z9")
    parcel.bank_id, parcel.compartment_id = other.id, moved_to.id
    db.flush()
    assert intake.prepare_parcel(db_session=db, parcel_id=parcel.id) is True
    kinds = {
        (c.bank_id, c.kind)
        for c in db.scalars(select(LockerCommand).where(LockerCommand.parcel_id == parcel.id))
    }
    assert (w.bank.id, "revoke_code") in kinds and (other.id, "load_codes") in kinds


def test_a_reboot_nobody_noticed_is_accepted(w: World, db: Session) -> None:
    t0 = utcnow()
    _state(w, db, protocol.StateMessage(online=True, seq=40, ts=t0, event_seq=0), t0)
    for seq in range(1, 4):
        _event(w, db, seq, t0)
    # No last will seen, but the counters went back and the clock moved on: a reboot.
    t1 = t0 + timedelta(seconds=20)
    assert _state(w, db, protocol.StateMessage(online=True, seq=1, ts=t1, event_seq=0), t1) == (
        "state"
    )
    state = db.get(LockerBankState, w.bank.id)
    assert state is not None and state.state_seq == 1 and state.last_seen_at == t1
    assert state.event_seq_contiguous == 0 and state.event_epoch_at == t1
    # The same old message delivered again later (retained) is still refused.
    old = protocol.StateMessage(online=True, seq=1, ts=t0 - timedelta(seconds=5))
    assert _state(w, db, old, t1 + timedelta(seconds=1)) == "ignored:stale"
