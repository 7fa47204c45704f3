"""The command outbox as the bridge works it: claim due commands, back off, expire.

A command is (re)published with the same id until the locker acks it or it expires; the claim
is a conditional UPDATE so an ack committed meanwhile is never overwritten.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import false, or_, select, update
from sqlalchemy.orm import Session

from app.core.backoff import backoff_seconds
from app.core.db import utcnow
from app.neighborhoods import queries as neighborhood_queries
from lockers import acks, command_states, protocol
from lockers.config import get_locker_settings
from lockers.models import CommandStatus, LockerBankState, LockerCommand

PENDING = command_states.PENDING


@dataclass(frozen=True)
class Outgoing:
    """A claimed command, ready to publish."""

    command_id: str
    bank_id: int
    topic_bank: str
    payload: bytes
    attempt: int


def backoff(attempt: int) -> timedelta:
    """Delay before re-sending after `attempt` sends: doubling from the base, capped."""
    settings = get_locker_settings()
    base, cap = settings.command_resend_seconds, settings.command_resend_max_seconds
    return timedelta(seconds=backoff_seconds(attempt, base=base, cap=cap))


def claim_due(
    *,
    db_session: Session,
    now: datetime | None = None,
    limit: int = 200,
    resends: bool = True,
) -> list[Outgoing]:
    """Mark due commands sent (attempts + 1, next attempt after back-off); what to publish.

    A command goes out once whatever the bank's state (the broker queues it in the bank's
    persistent session); it is re-sent only while the bank is online (a bank coming back
    online gets its pending commands re-sent at once), and not at all when `resends` is
    False (the bridge is behind on incoming acks: re-sending now would only add duplicates).
    The caller publishes, then commits: an ack racing in waits for the row lock (PostgreSQL)
    or the write lock (SQLite) and finds the command `sent`.
    """
    now = now or utcnow()
    resendable = (
        LockerCommand.bank_id.in_(
            select(LockerBankState.bank_id).where(LockerBankState.online.is_(True))
        )
        if resends
        else false()
    )
    rows = list(
        db_session.scalars(
            select(LockerCommand)
            .where(
                LockerCommand.status.in_(PENDING),
                LockerCommand.next_attempt_at <= now,
                LockerCommand.expires_at > now,
                or_(LockerCommand.attempts == 0, resendable),
            )
            .order_by(LockerCommand.next_attempt_at, LockerCommand.created_at)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
    )
    banks = neighborhood_queries.locker_banks_by_ids(
        db_session=db_session, bank_ids={row.bank_id for row in rows}
    )
    outgoing: list[Outgoing] = []
    for row in rows:
        if row.bank_id not in banks:
            continue
        code = banks[row.bank_id].code
        attempt = row.attempts + 1
        claimed = command_states.move_commands(
            db_session=db_session,
            where=[LockerCommand.id == row.id],
            to=CommandStatus.SENT,
            attempts=attempt,
            first_sent_at=row.first_sent_at or now,
            last_sent_at=now,
            next_attempt_at=now + backoff(attempt),
        )
        if claimed != 1:
            continue
        outgoing.append(
            Outgoing(
                command_id=row.id,
                bank_id=row.bank_id,
                topic_bank=code,
                payload=protocol.command_payload(
                    command_id=row.id,
                    kind=row.kind,
                    args=row.payload,
                    issued_at=row.created_at,
                    expires_at=row.expires_at,
                ),
                attempt=attempt,
            )
        )
    return outgoing


def expire_overdue(*, db_session: Session, now: datetime | None = None) -> list[str]:
    """Commands past their expiry (plus the clock grace) without an ack: expired, reported."""
    now = now or utcnow()
    grace = timedelta(seconds=get_locker_settings().clock_grace_seconds)
    query = select(LockerCommand).where(
        LockerCommand.status.in_(PENDING), LockerCommand.expires_at <= now - grace
    )
    rows = list(db_session.scalars(query.with_for_update(skip_locked=True)))
    expired: list[str] = []
    for row in rows:
        command_states.transition(row, CommandStatus.EXPIRED)
        row.finished_at = now
        row.error = "expired"
        acks.report_failure(db_session=db_session, command=row, reason="expired")
        command_states.notify_finished(db_session=db_session, command=row)
        expired.append(row.id)
    return expired


def resend_all_sent(*, db_session: Session, now: datetime | None = None) -> None:
    """After a (re)connection, re-send every command still waiting for an ack right away."""
    now = now or utcnow()
    db_session.execute(
        update(LockerCommand)
        .where(LockerCommand.status == CommandStatus.SENT)
        .values(next_attempt_at=now)
    )
