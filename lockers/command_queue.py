"""Queueing a command into the durable outbox (the bridge sends it after commit), and reading
commands back. Nothing here commits.

The bridge's side of the outbox (claiming, re-sending, expiring) is `lockers.outbox`.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.core.db import utcnow
from lockers import command_states, protocol, wakeup
from lockers.errors import LockerCommandNotFound
from lockers.models import CommandStatus, LockerCommand

NOTIFY_CHANNEL = "locker_commands"


def queue_command(
    *,
    db_session: Session,
    bank_id: int,
    kind: protocol.CommandType,
    args: dict[str, Any],
    ttl_seconds: float,
    purpose: str | None = None,
    parcel_id: int | None = None,
    compartment_id: int | None = None,
    requested_by_id: int | None = None,
    now: datetime | None = None,
) -> LockerCommand:
    """Add a command to the durable outbox (sent by the bridge after commit)."""
    now = now or utcnow()
    command = LockerCommand(
        id=str(uuid.uuid4()),
        bank_id=bank_id,
        kind=kind.value,
        payload=args,
        status=command_states.INITIAL,
        purpose=purpose,
        parcel_id=parcel_id,
        compartment_id=compartment_id,
        requested_by_id=requested_by_id,
        created_at=now,
        next_attempt_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    db_session.add(command)
    db_session.flush()
    _notify(db_session)
    wakeup.after_commit(db_session)
    return command


def _notify(db_session: Session) -> None:
    """Wake the bridge when this transaction commits (PostgreSQL); it also polls."""
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


def get_command(*, db_session: Session, command_id: str) -> LockerCommand:
    """A command by id, or NotFound."""
    command = db_session.get(LockerCommand, command_id)
    if command is None:
        raise LockerCommandNotFound(f"no locker command {command_id}", field="command_id")
    return command


def get_commands(
    *, db_session: Session, bank_id: int, pending_only: bool = False, limit: int = 50
) -> list[LockerCommand]:
    """A bank's newest commands, optionally only those not finished."""
    query = select(LockerCommand).where(LockerCommand.bank_id == bank_id)
    if pending_only:
        query = query.where(LockerCommand.status.in_((CommandStatus.QUEUED, CommandStatus.SENT)))
    return list(db_session.scalars(query.order_by(LockerCommand.created_at.desc()).limit(limit)))
