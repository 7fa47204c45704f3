"""The locker settings the server owns, sent with `configure` ([S-7.4]), and the offline rule
that follows the heartbeat a bank reports ([S-5.1]).

The server owns the keypad's attempt limit and lockout (`LOCKERS_KEYPAD_MAX_ATTEMPTS`,
`LOCKERS_KEYPAD_LOCKOUT_SECONDS`); a state that shows other values (a new connection, a wiped
locker, changed settings) queues one `configure`. A locker that reports no values (protocol
1.0) gets one per new connection. The heartbeat stays the locker's: a bank is offline after
`max(LOCKERS_OFFLINE_AFTER_SECONDS, 3 x heartbeat_s)` of silence.

These functions run inside the bridge's transaction and do not commit.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers import command_queue, protocol
from lockers.config import get_locker_settings
from lockers.models import CommandStatus, LockerBankState, LockerCommand

HEARTBEATS_BEFORE_OFFLINE = 3


def wanted_settings() -> dict[str, int]:
    """The `configure` arguments the server wants every locker to run with."""
    settings = get_locker_settings()
    return {
        "keypad_max_attempts": int(settings.keypad_max_attempts),
        "keypad_lockout_s": int(settings.keypad_lockout_seconds),
    }


def reported_settings(message: protocol.StateMessage) -> dict[str, int] | None:
    """The keypad settings a state reports, or None if it reports none (a 1.0 locker)."""
    keypad = message.keypad
    if keypad is None or keypad.max_attempts is None or keypad.lockout_s is None:
        return None
    return {"keypad_max_attempts": keypad.max_attempts, "keypad_lockout_s": keypad.lockout_s}


def sync_settings(
    *,
    db_session: Session,
    bank_id: int,
    message: protocol.StateMessage,
    new_connection: bool,
    now: datetime,
) -> LockerCommand | None:
    """Queue a `configure` if the bank runs with other settings than the server's (or, for a
    locker that does not say, at a new connection) and none is pending; the command."""
    wanted = wanted_settings()
    reported = reported_settings(message)
    if reported == wanted or (reported is None and not new_connection):
        return None
    if _pending_configure(db_session=db_session, bank_id=bank_id):
        return None
    return command_queue.queue_command(
        db_session=db_session,
        bank_id=bank_id,
        kind=protocol.CommandType.CONFIGURE,
        args=wanted,
        ttl_seconds=get_locker_settings().config_command_ttl_seconds,
        purpose="configure",
        now=now,
    )


def _pending_configure(*, db_session: Session, bank_id: int) -> bool:
    return (
        db_session.scalar(
            select(LockerCommand.id)
            .where(
                LockerCommand.bank_id == bank_id,
                LockerCommand.kind == protocol.CommandType.CONFIGURE.value,
                LockerCommand.status.in_((CommandStatus.QUEUED, CommandStatus.SENT)),
            )
            .limit(1)
        )
        is not None
    )


def offline_after(state: LockerBankState) -> timedelta:
    """How long a bank may stay silent before it counts as offline."""
    reported: Any = (state.state or {}).get("heartbeat_s")
    heartbeat = reported if isinstance(reported, int | float) and reported > 0 else 0
    seconds = max(
        get_locker_settings().offline_after_seconds, HEARTBEATS_BEFORE_OFFLINE * heartbeat
    )
    return timedelta(seconds=seconds)
