"""A bank's event numbers: the gap-free mark, gaps recovered by `replay_events`, resets
(a counter that went back: a new epoch) and jumps (a counter ahead with events we will never
get: accepted as the new base after one replay).

These functions run inside the bridge's transaction and do not commit.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods.queries import LockerBankView
from lockers import banks, command_queue, protocol, resync
from lockers.config import get_locker_settings
from lockers.models import CommandStatus, LockerBankState, LockerCommand, LockerEvent

log = logging.getLogger(__name__)


def take_reported(*, state: LockerBankState, reported: int, reconnect: bool, at: datetime) -> bool:
    """Note the bank's own event count; a count that went back at a reconnect is a reset
    (a new epoch): True then."""
    if state.event_seq_contiguous is None and state.event_seq_max is None:
        state.event_seq_contiguous = reported  # history from before we knew the bank
    elif reconnect and reported < max(state.event_seq_contiguous or 0, state.event_seq_max or 0):
        log.warning("bank %s: event counter went back to %s (reset)", state.bank_id, reported)
        state.event_seq_contiguous = reported
        state.event_seq_max = reported
        state.event_seq_reported = reported
        state.event_epoch_at = at
        state.event_gap_since = None
        return True
    state.event_seq_reported = max(state.event_seq_reported or 0, reported)
    return False


def track(*, db_session: Session, bank: LockerBankView, seq: int) -> None:
    """Advance the bank's gap-free event mark past every stored event."""
    state = banks.get_or_create_state(db_session=db_session, bank_id=bank.id)
    state.event_seq_max = max(state.event_seq_max or 0, seq)
    if state.event_seq_contiguous is None:
        state.event_seq_contiguous = seq - 1
    if seq == state.event_seq_contiguous + 1:
        if state.event_seq_max == seq:
            state.event_seq_contiguous = seq  # nothing stored beyond it: no walk needed
            if (state.event_seq_reported or 0) <= seq:
                state.event_gap_since = None
            return
        _advance(db_session=db_session, state=state)


def _advance(*, db_session: Session, state: LockerBankState) -> None:
    """Move the gap-free mark over every stored event that continues it."""
    mark = state.event_seq_contiguous or 0
    query = (
        select(LockerEvent.seq)
        .where(LockerEvent.bank_id == state.bank_id, LockerEvent.seq > mark)
        .order_by(LockerEvent.seq)
        .limit(10_000)
    )
    if state.event_epoch_at is not None:
        query = query.where(LockerEvent.received_at >= state.event_epoch_at)
    stored = db_session.scalars(query)
    for value in stored:
        if value == mark + 1:
            mark = value
        elif value > mark + 1:
            break
    state.event_seq_contiguous = mark
    if (state.event_seq_max or 0) <= mark and (state.event_seq_reported or 0) <= mark:
        state.event_gap_since = None


def request_missing_events(*, db_session: Session, now: datetime | None = None) -> list[int]:
    """Ask banks with a lasting gap in their event numbers to replay the missing events;
    the ids of the banks asked."""
    now = now or utcnow()
    settings = get_locker_settings()
    grace = timedelta(seconds=settings.event_gap_grace_seconds)
    asked: list[int] = []
    contiguous = LockerBankState.event_seq_contiguous
    states = db_session.scalars(
        select(LockerBankState).where(
            LockerBankState.online.is_(True),
            contiguous.is_not(None),
            or_(
                LockerBankState.event_seq_reported > contiguous,
                LockerBankState.event_seq_max > contiguous,
                LockerBankState.event_gap_since.is_not(None),
            ),
        )
    )
    for state in states:
        mark = state.event_seq_contiguous or 0
        top = max(state.event_seq_reported or 0, state.event_seq_max or 0)
        if top <= mark:
            state.event_gap_since = None
            continue
        if state.event_gap_since is None:
            state.event_gap_since = now
            continue
        if now - state.event_gap_since < grace:
            continue
        if resync.replay_answered_without_effect(
            db_session=db_session,
            bank_id=state.bank_id,
            from_seq=mark + 1,
            gap_since=state.event_gap_since,
        ):
            _accept_new_base(state=state, top=top)
            continue
        pending = db_session.scalar(
            select(LockerCommand.id).where(
                LockerCommand.bank_id == state.bank_id,
                LockerCommand.kind == protocol.CommandType.REPLAY_EVENTS.value,
                LockerCommand.status.in_((CommandStatus.QUEUED, CommandStatus.SENT)),
            )
        )
        if pending is None:
            command_queue.queue_command(
                db_session=db_session,
                bank_id=state.bank_id,
                kind=protocol.CommandType.REPLAY_EVENTS,
                args={"from_seq": mark + 1, "to_seq": top},
                ttl_seconds=settings.replay_command_ttl_seconds,
                now=now,
            )
            asked.append(state.bank_id)
            state.event_gap_since = now  # when this replay was asked (see above)
    return asked


def _accept_new_base(*, state: LockerBankState, top: int) -> None:
    """The bank's counter jumped forward (e.g. an old copy of its storage came back, which
    `_storage_reset` answers with a resync): its events up to `top` are not ours to wait for."""
    log.warning(
        "bank %s: event counter jumped from %s to %s; accepting %s as the new base",
        state.bank_id,
        state.event_seq_contiguous,
        top,
        top,
    )
    state.event_seq_contiguous = top
    state.event_seq_max = max(state.event_seq_max or 0, top)
    state.event_gap_since = None


def skip_unavailable(*, db_session: Session, bank: LockerBankView, result: dict[str, Any]) -> None:
    """Events older than the locker still keeps are gone for good: stop asking for them."""
    oldest = result.get("oldest_available")
    state = banks.get_state(db_session=db_session, bank_id=bank.id)
    if not isinstance(oldest, int) or state is None or state.event_seq_contiguous is None:
        return
    if oldest > state.event_seq_contiguous + 1:
        log.warning(
            "bank %s: events %s-%s are no longer available at the locker",
            bank.code,
            state.event_seq_contiguous + 1,
            oldest - 1,
        )
        state.event_seq_contiguous = oldest - 1
        _advance(db_session=db_session, state=state)
