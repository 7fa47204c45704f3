"""Step 1 of a delivery attempt: claim the messages that may be sent now (see `delivery`).

Each row is locked and re-checked (`triage`, a pure decision on the row as read), its body
rendered (codes derived now, never stored), and moved `queued -> sending` with a compare-and-set
on (status, attempts), run as one executemany, so two workers that both saw `queued` cannot both
send it. Rows that must not be sent are finished here (suppressed, or failed when they cannot be
rendered); the others get an outcome saying why not now (done, in flight, not due, lost race).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.security import hash_code
from notifications import content, message_states, service
from notifications.config import NotificationsConfig
from notifications.models import Message, MessageStatus
from notifications.providers import SmsProvider
from notifications.render import Rendered

log = logging.getLogger(__name__)
BODY_PURPOSE = "sms-body"
LOOKUP_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt did; `retry_in` asks for another attempt after that many s."""

    message_id: int
    action: str
    retry_in: float | None = None


@dataclass(frozen=True)
class Claim:
    """A message this worker moved to `sending`: what the send and the record steps need."""

    message_id: int
    key: str
    to: str
    attempts: int
    verify: bool
    since: datetime
    previous_hmac: str | None
    rendered: Rendered
    blocked: str | None

    @classmethod
    def of(
        cls,
        message: Message,
        rendered: Rendered,
        *,
        verify: bool,
        blocked: str | None,
        now: datetime,
    ) -> "Claim":
        """The claim this worker is about to make on a loaded row."""
        return cls(
            message_id=message.id,
            key=message.idempotency_key,
            to=message.to_phone,
            attempts=message.attempts + 1,
            verify=verify,
            since=(message.first_attempt_at or now) - LOOKUP_SKEW,
            previous_hmac=message.body_hmac,
            rendered=rendered,
            blocked=blocked,
        )


@dataclass(frozen=True)
class MessageState:
    """What the claim decision reads of a message row."""

    status: MessageStatus
    claimed_at: datetime | None
    not_before: datetime | None
    expires_at: datetime | None
    verify_before_send: bool

    @classmethod
    def of(cls, message: Message) -> "MessageState":
        """The state of a loaded row."""
        return cls(
            status=message.status,
            claimed_at=message.claimed_at,
            not_before=message.not_before,
            expires_at=message.expires_at,
            verify_before_send=message.verify_before_send,
        )


@dataclass(frozen=True)
class Wait:
    """Not claimed now: the outcome's action, and when to look again (seconds) if ever."""

    action: str  # in_flight | done | not_due
    retry_in: float | None = None


@dataclass(frozen=True)
class Proceed:
    """Claim it: look it up at the provider first (`verify`), and why it may not go (`blocked`).

    A blocked message is suppressed without a claim unless it must be looked up first (a
    provider may already have it); rendering may block it too (the message became obsolete).
    """

    verify: bool
    blocked: str | None


def triage(
    state: MessageState, *, suppression: str | None, now: datetime, stale: timedelta
) -> Wait | Proceed:
    """Decide, from the row as read, whether a message may be claimed now.

    `suppression` is why its recipient may not be messaged (opted out...), if so; `stale` is how
    old a `sending` claim must be before its worker is presumed dead.
    """
    verify = state.verify_before_send
    if state.status is MessageStatus.SENDING:
        age = now - (state.claimed_at or now)
        if age < stale:
            return Wait("in_flight", (stale - age).total_seconds() + 1)
        verify = True  # its claimant is presumed dead: the provider may have the message
    elif state.status is not MessageStatus.QUEUED:
        return Wait("done")
    if state.not_before is not None and state.not_before > now:
        return Wait("not_due", (state.not_before - now).total_seconds())
    expired = state.expires_at is not None and now >= state.expires_at
    return Proceed(verify=verify, blocked="expired" if expired else suppression)


_T: Table = Message.__table__  # type: ignore[assignment]
# Every write of the claim step is guarded by the row's status and attempts as read.
_GUARDED = update(_T).where(
    _T.c.id == bindparam("m_id"),
    _T.c.status == bindparam("m_status"),
    _T.c.attempts == bindparam("m_attempts"),
)
_CLAIM = _GUARDED.where(message_states.legal_source(_T.c.status, MessageStatus.SENDING)).values(
    status=bindparam("v_status"),
    attempts=bindparam("v_attempts"),
    claimed_at=bindparam("v_claimed_at"),
    first_attempt_at=bindparam("v_first_attempt_at"),
    provider=bindparam("v_provider"),
    verify_before_send=bindparam("v_verify"),
    body_redacted=bindparam("v_body_redacted"),
    body_hmac=bindparam("v_body_hmac"),
    segments=bindparam("v_segments"),
    encoding=bindparam("v_encoding"),
)
# suppressed (opted out, expired, obsolete) or failed (cannot be rendered), by target status
_FINISH = {
    to: _GUARDED.where(message_states.legal_source(_T.c.status, to)).values(
        status=bindparam("v_status"),
        suppression_reason=bindparam("v_reason"),
        error_message=bindparam("v_error"),
        final_at=bindparam("v_now"),
        status_updated_at=bindparam("v_now"),
    )
    for to in (MessageStatus.SUPPRESSED, MessageStatus.FAILED)
}
_NOT_RENDERED = Rendered(body="", redacted="", segments=0, encoding="gsm7")


def _render(
    db_session: Session, message: Message, blocked: str | None, lookups: content.Lookups
) -> tuple[Rendered, str | None, str | None]:
    """The body to send (unless blocked), the reason it is blocked, or why it cannot be rendered."""
    if blocked is not None:
        return _NOT_RENDERED, blocked, None
    try:
        rendered = content.render_message(db_session=db_session, message=message, lookups=lookups)
        return rendered, None, None
    except content.Obsolete as exc:
        return _NOT_RENDERED, str(exc), None
    except (LookupError, ValueError, TypeError) as exc:  # a bug, not a reason to retry
        log.exception("message %s cannot be rendered", message.id)
        return _NOT_RENDERED, None, f"cannot render: {type(exc).__name__}: {exc}"[:255]


def _claim_row(
    expected: dict[str, Any],
    message: Message,
    rendered: Rendered,
    *,
    verify: bool,
    provider: SmsProvider,
    now: datetime,
) -> dict[str, Any]:
    """The compare-and-set parameters moving one row to `sending`."""
    return {
        **expected,
        "v_status": MessageStatus.SENDING,
        "v_attempts": message.attempts + 1,
        "v_claimed_at": now,
        "v_first_attempt_at": message.first_attempt_at or now,
        "v_provider": provider.name,
        "v_verify": verify,
        "v_body_redacted": rendered.redacted or message.body_redacted,
        "v_body_hmac": (
            hash_code(rendered.body, purpose=BODY_PURPOSE) if rendered.body else message.body_hmac
        ),
        "v_segments": rendered.segments or message.segments,
        "v_encoding": rendered.encoding if rendered.body else message.encoding,
    }


def _won(
    db_session: Session,
    claim_rows: list[dict[str, Any]],
    finish_rows: list[dict[str, Any]],
    pending: list[Claim],
    now: datetime,
) -> set[int]:
    """Write the finished and claimed rows; the ids whose claim is ours."""
    connection = db_session.connection()
    for to, statement in _FINISH.items():
        rows = [row for row in finish_rows if row["v_status"] is to]
        if rows:
            connection.execute(statement, rows)
    if not claim_rows:
        return set()
    connection.execute(_CLAIM, claim_rows)
    return set(  # ours: another worker may have claimed a row between our read and our write
        connection.scalars(
            select(_T.c.id).where(
                _T.c.id.in_([c.message_id for c in pending]),
                _T.c.status == MessageStatus.SENDING,
                _T.c.claimed_at == now,
            )
        )
    )


def claim_batch(
    db_session: Session,
    message_ids: Sequence[int],
    provider: SmsProvider,
    config: NotificationsConfig,
) -> tuple[list[Claim], dict[int, Outcome]]:
    """Claim the messages that may be sent now (one compare-and-set per row, run as one
    executemany); the others get their outcome (done, in flight, not due, suppressed...)."""
    messages = db_session.scalars(
        select(Message)
        .where(Message.id.in_(message_ids))
        .order_by(Message.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    outcomes = {i: Outcome(i, "missing") for i in set(message_ids) - {m.id for m in messages}}
    now = utcnow()
    stale = timedelta(seconds=config.stale_sending_seconds)
    reasons = service.suppression_reasons(
        db_session=db_session, recipients=[(m.to_phone, m.resident_id) for m in messages]
    )
    lookups = content.prefetch(db_session=db_session, messages=messages)
    claim_rows: list[dict[str, Any]] = []
    finish_rows: list[dict[str, Any]] = []
    pending: list[Claim] = []
    for message in messages:
        suppression = reasons.get((message.to_phone, message.resident_id))
        decision = triage(MessageState.of(message), suppression=suppression, now=now, stale=stale)
        if isinstance(decision, Wait):
            outcomes[message.id] = Outcome(message.id, decision.action, decision.retry_in)
            continue
        expected = {"m_id": message.id, "m_status": message.status, "m_attempts": message.attempts}
        rendered, blocked, error = _render(db_session, message, decision.blocked, lookups)
        if error is not None or (blocked is not None and not decision.verify):
            status = MessageStatus.FAILED if error is not None else MessageStatus.SUPPRESSED
            message_states.check(message.status, status, message_id=message.id)
            finish_rows.append(
                {**expected, "v_status": status, "v_reason": blocked}
                | {"v_error": error, "v_now": now}
            )
            outcomes[message.id] = Outcome(message.id, status.value)
            continue
        # Blocked but maybe already at the provider: claimed anyway, looked up before suppressing.
        message_states.check(message.status, MessageStatus.SENDING, message_id=message.id)
        claim_rows.append(
            _claim_row(
                expected, message, rendered, verify=decision.verify, provider=provider, now=now
            )
        )
        claim = Claim.of(message, rendered, verify=decision.verify, blocked=blocked, now=now)
        pending.append(claim)
    del lookups
    won = _won(db_session, claim_rows, finish_rows, pending, now)
    claims = []
    for claim in pending:
        if claim.message_id in won:
            claims.append(claim)
        else:
            outcomes[claim.message_id] = Outcome(claim.message_id, "lost_race")
    return claims, outcomes


def claim(
    db_session: Session, message_id: int, provider: SmsProvider, config: NotificationsConfig
) -> Claim | Outcome:
    """Claim one message (see `claim_batch`)."""
    claims, outcomes = claim_batch(db_session, [message_id], provider, config)
    return claims[0] if claims else outcomes[message_id]
