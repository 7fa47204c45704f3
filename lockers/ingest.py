"""What the bridge does with each state and event message a locker sends (acks: `lockers.acks`).

Each `handle_*` runs in one transaction the caller commits; storing the event row and applying
it happen together, and the (bank, event id) unique constraint makes a redelivered event a
no-op. Silent banks go offline here too (heartbeat timeout).
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import LockerBankView
from lockers import (
    banks,
    coldchain,
    deposit,
    domain_events,
    event_seq,
    operator,
    pickup,
    protocol,
    resync,
    settings_sync,
    temperature_log,
)
from lockers.config import get_locker_settings
from lockers.event_seq import request_missing_events as request_missing_events  # callers' path
from lockers.models import CommandStatus, LockerBankState, LockerCommand, LockerEvent

log = logging.getLogger(__name__)
_TOUCH_EVERY = timedelta(seconds=1)


LOCKED_COMMANDS = "lockers_locked_commands"
HELD = "lockers_held"
BANKS = "lockers_banks"
_SEEN = "lockers_seen_events"


def prefetch(
    *,
    db_session: Session,
    bank_ids: set[int],
    command_ids: set[str],
    event_ids: set[str],
    states: bool = True,
) -> None:
    """Load what a batch of messages will touch with one query per table, so the handlers
    find banks (in `db_session.info[BANKS]`), states, excursions and (locked) commands (in the
    session's identity map)."""
    # The session's identity map holds objects weakly: keep them referenced for the batch.
    held: list[object] = db_session.info.setdefault(HELD, [])
    if bank_ids:
        db_session.info.setdefault(BANKS, {}).update(
            neighborhood_queries.locker_banks_by_ids(db_session=db_session, bank_ids=bank_ids)
        )
        if states:
            held += db_session.scalars(
                select(LockerBankState).where(LockerBankState.bank_id.in_(bank_ids))
            )
            coldchain.prefetch_open(db_session=db_session, bank_ids=bank_ids)
    if command_ids:
        held += db_session.scalars(
            select(LockerCommand)
            .where(LockerCommand.id.in_(command_ids))
            .order_by(LockerCommand.id)
            .with_for_update()
        )
        db_session.info[LOCKED_COMMANDS] = set(command_ids)
    if event_ids:
        seen = db_session.execute(
            select(LockerEvent.bank_id, LockerEvent.event_id).where(
                LockerEvent.event_id.in_(event_ids)
            )
        )
        db_session.info[_SEEN] = {(bank_id, event_id) for bank_id, event_id in seen}


def handle_state(
    *, db_session: Session, bank: LockerBankView, payload: bytes, received_at: datetime
) -> str:
    """A retained state (or last will): online/offline, temperatures, doors, keypad."""
    try:
        message = protocol.StateMessage.model_validate_json(payload)
    except ValidationError as exc:
        log.warning("bank %s sent an invalid state: %s", bank.code, exc.errors()[:1])
        return "invalid"
    state = banks.get_or_create_state(db_session=db_session, bank_id=bank.id)
    if not message.online:
        if state.online:
            mark_offline(
                db_session=db_session,
                bank=bank,
                state=state,
                at=received_at,
                reason=message.reason or "last_will",
            )
            return "offline"
        return "ignored:already_offline"
    went_back = (
        message.seq is not None and state.state_seq is not None and message.seq <= state.state_seq
    )
    if went_back and state.online:
        newer = (
            message.ts is not None and state.state_at is not None and (message.ts > state.state_at)
        )
        if not newer:
            return "ignored:stale"  # reordered or repeated
    # A lower seq with a newer clock (or from an offline bank) is a locker that restarted
    # its counters: a reboot, possibly unnoticed.
    rebooted = went_back
    was_online = state.online
    previous_seq, previous = state.state_seq, state.state or {}
    state.online = True
    state.last_seen_at = received_at
    state.state_seq = message.seq
    state.state_at = message.ts
    state.firmware = message.firmware
    state.state = message.model_dump(mode="json", exclude_none=True)
    if message.ts is not None:
        state.clock_skew_seconds = round((received_at - message.ts).total_seconds(), 3)
    if message.keypad is not None:
        state.keypad_failed_attempts = message.keypad.failed_attempts
        state.keypad_locked_until = message.keypad.locked_until
    reset = _storage_reset(
        message=message, rebooted=rebooted, previous_seq=previous_seq, previous=previous
    )
    if message.event_seq is not None:
        reset = (
            event_seq.take_reported(
                state=state,
                reported=message.event_seq,
                reconnect=rebooted or not was_online,
                at=received_at,
            )
            or reset
        )
    if reset:
        resync.resync_bank(
            db_session=db_session, bank_id=bank.id, reason="counters_reset", supersede=True
        )
    reconnected = message.connection is not None and message.connection != state.connection
    state.connection = message.connection
    settings_sync.sync_settings(
        db_session=db_session,
        bank_id=bank.id,
        message=message,
        new_connection=reconnected or not was_online or reset,
        now=received_at,
    )
    if reconnected or not was_online:
        # A new connection: what the bank has not acked was probably lost with the previous
        # one (commands go out at QoS 0), so re-send it now rather than after back-off.
        _resend_soon(
            db_session=db_session, bank_id=bank.id, now=received_at, sent_before=received_at
        )
    if not was_online:
        state.came_online_at = received_at
        domain_events.emit(
            db_session=db_session,
            kind=domain_events.LOCKER_ONLINE,
            dedupe_key=f"{domain_events.LOCKER_ONLINE}:{bank.id}:{received_at.isoformat()}",
            payload={"bank_id": bank.id, "bank_code": bank.code, "since": received_at},
        )
    for label, report in message.compartments.items():
        if report.door == protocol.DoorState.JAMMED:
            _jammed(db_session=db_session, bank=bank, label=label)
    coldchain.observe_zones(
        db_session=db_session, bank_id=bank.id, zones=message.zones, at=received_at
    )
    temperature_log.record(
        db_session=db_session, bank_id=bank.id, zones=message.zones, at=received_at
    )
    return "online" if not was_online else "state"


def _storage_reset(
    *,
    message: protocol.StateMessage,
    rebooted: bool,
    previous_seq: int | None,
    previous: dict[str, Any],
) -> bool:
    """Whether the locker's storage is not the one it had: a new `storage_id`, or (lockers
    that send none) a state counter that restarted at a reboot."""
    before = previous.get("storage_id")
    if message.storage_id is not None and before is not None:
        return bool(message.storage_id != before)
    if not rebooted or message.seq is None or previous_seq is None:
        return False
    return message.seq < previous_seq


def mark_offline(
    *, db_session: Session, bank: LockerBankView, state: LockerBankState, at: datetime, reason: str
) -> None:
    """Record a bank going offline and tell operators (outbox)."""
    state.online = False
    state.went_offline_at = at
    domain_events.emit(
        db_session=db_session,
        kind=domain_events.LOCKER_OFFLINE,
        dedupe_key=f"{domain_events.LOCKER_OFFLINE}:{bank.id}:{at.isoformat()}",
        payload={
            "bank_id": bank.id,
            "bank_code": bank.code,
            "since": at,
            "reason": reason,
            "last_seen_at": state.last_seen_at,
        },
    )


def offline_silent_banks(*, db_session: Session, now: datetime | None = None) -> list[int]:
    """Banks that stopped talking for longer than the heartbeat timeout go offline; their ids."""
    now = now or utcnow()
    limit = now - timedelta(seconds=get_locker_settings().offline_after_seconds)
    states = list(
        db_session.scalars(
            select(LockerBankState).where(
                LockerBankState.online.is_(True), LockerBankState.last_seen_at < limit
            )
        )
    )
    # A bank that reported a slower heartbeat gets three of its heartbeats ([S-5.1]).
    states = [s for s in states if (s.last_seen_at or now) < now - settings_sync.offline_after(s)]
    for state in states:
        bank = banks.get_bank(db_session=db_session, bank_id=state.bank_id)
        mark_offline(
            db_session=db_session, bank=bank, state=state, at=now, reason="heartbeat_timeout"
        )
    return [s.bank_id for s in states]


def _touch(*, db_session: Session, bank: LockerBankView, at: datetime) -> None:
    state = banks.get_or_create_state(db_session=db_session, bank_id=bank.id)
    # Heartbeats keep it fresh anyway; write at most once a second per bank.
    if state.online and (state.last_seen_at is None or at - state.last_seen_at > _TOUCH_EVERY):
        state.last_seen_at = at


def _resend_soon(
    *, db_session: Session, bank_id: int, now: datetime, sent_before: datetime
) -> None:
    db_session.execute(
        update(LockerCommand)
        .where(
            LockerCommand.bank_id == bank_id,
            LockerCommand.status == CommandStatus.SENT,
            LockerCommand.last_sent_at < sent_before,
            LockerCommand.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def _jammed(*, db_session: Session, bank: LockerBankView, label: str) -> None:
    compartment = banks.get_compartment_by_label(
        db_session=db_session, bank_id=bank.id, label=label
    )
    if compartment is None:
        return
    operator.mark_out_of_service(
        db_session=db_session,
        bank=bank,
        compartment=compartment,
        out_of_service=True,
        reason="door jammed (locker telemetry)",
        actor_id=None,
        tell_locker=False,
    )


def handle_event(
    *, db_session: Session, bank: LockerBankView, payload: bytes, received_at: datetime
) -> str:
    """One event: stored once by (bank, event id) and applied in the same transaction."""
    try:
        message = protocol.EventMessage.model_validate_json(payload)
    except ValidationError as exc:
        log.warning("bank %s sent an invalid event: %s", bank.code, exc.errors()[:1])
        return "invalid"
    row = LockerEvent(
        bank_id=bank.id,
        event_id=message.event_id,
        type=message.type.value,
        seq=message.seq,
        locker_ts=message.ts,
        received_at=received_at,
        payload=message.model_dump(mode="json"),
    )
    # Check, then insert in the same transaction (no savepoint: on SQLite releasing one
    # commits everything). Two writers racing on one event id: the loser's flush raises
    # IntegrityError, its transaction rolls back and the bridge retries it as a duplicate.
    prefetched: set[tuple[int, str]] | None = db_session.info.get(_SEEN)
    key = (bank.id, message.event_id)
    if prefetched is not None:
        if key in prefetched:
            return "duplicate"
        prefetched.add(key)
    else:
        seen = db_session.scalar(
            select(LockerEvent.id).where(
                LockerEvent.bank_id == bank.id, LockerEvent.event_id == message.event_id
            )
        )
        if seen is not None:
            return "duplicate"
    db_session.add(row)
    db_session.flush()
    _touch(db_session=db_session, bank=bank, at=received_at)
    event_seq.track(db_session=db_session, bank=bank, seq=message.seq)
    outcome = _apply(db_session=db_session, bank=bank, event=message, received_at=received_at)
    row.outcome = outcome[:40]
    return outcome


def _apply(
    *,
    db_session: Session,
    bank: LockerBankView,
    event: protocol.EventMessage,
    received_at: datetime,
) -> str:
    kind = protocol.EventType
    if event.type == kind.DOOR_CLOSED:
        return deposit.apply_door_closed(db_session=db_session, bank=bank, event=event)
    if event.type == kind.PARCEL_COLLECTED:
        return pickup.apply_collected(db_session=db_session, bank=bank, event=event)
    if event.type == kind.CODE_REJECTED:
        return pickup.apply_code_rejected(db_session=db_session, bank=bank, event=event)
    if event.type == kind.KEYPAD_LOCKED:
        return pickup.apply_keypad_locked(db_session=db_session, bank=bank, event=event)
    if event.type == kind.KEYPAD_UNLOCKED:
        return pickup.apply_keypad_unlocked(db_session=db_session, bank=bank, event=event)
    if event.type == kind.DOOR_JAMMED and event.compartment is not None:
        _jammed(db_session=db_session, bank=bank, label=event.compartment)
        return "applied:out_of_service"
    if event.type == kind.RESYNC_REQUESTED:
        if resync.pending_resync(db_session=db_session, bank_id=bank.id):
            return "ignored:resync_pending"
        resync.resync_bank(
            db_session=db_session, bank_id=bank.id, reason="requested", supersede=False
        )
        return "applied:resync"
    if event.type == kind.TEMPERATURE:
        zone, temp = event.data.get("zone"), event.data.get("temp_c")
        if isinstance(zone, str) and isinstance(temp, int | float):
            at = min(event.ts, received_at)
            coldchain.observe(
                db_session=db_session, bank_id=bank.id, zone=zone, temp_c=float(temp), at=at
            )
            return "applied:temperature"
        return "ignored:bad_temperature"
    return "recorded"
