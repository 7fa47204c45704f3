"""Send outbox messages, each exactly once, whatever the workers and Twilio do.

Each attempt is two short transactions around the provider calls, none open while they run (a
batch of messages shares them: two commits per batch, not per message):

1. claim (transaction, `notifications.claiming`): lock each row, re-check it (queued, due, not
   expired, not opted out), render the body (codes derived now, never stored) and move it
   `queued -> sending` with a compare-and-set on (status, attempts), so two workers that both
   saw `queued` cannot both send it;
2. send (no transaction): hand each to the provider, with a status callback URL carrying the
   idempotency key;
3. record (transaction): store Twilio's SID and status, or the error, under the row lock.

A worker that dies between 1 and 3 leaves its rows in `sending` with no SID. Twilio has no
idempotency key on Messages, so nobody may blindly send such a row again: once its claim is
older than `stale_sending_seconds` (longer than the provider timeout), the next attempt first
lists Twilio's recent messages to that number and recognises ours by its body (a keyed hash of
the body sent is kept); only if Twilio does not have it is it sent again. The status callback,
whose URL carries the key, settles it too if it comes first.

The guarantee, and what it rests on: no message is sent twice as long as Twilio lists a message
it accepted within `stale_sending_seconds`, returns its body as sent (text it appends is
tolerated), and no other sender puts an identical body to the same number in that window (then
ours would be taken as sent: the one way a message can be lost). No message is lost otherwise:
the row is written before any task exists, a sweep re-queues rows whose task vanished and claims
whose worker died, and only Twilio's permanent errors (or `max_attempts` transient ones) fail it.
"""

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.backoff import backoff_seconds
from app.core.db import utcnow
from app.core.security import codes_match
from app.core.settings import get_settings
from app.core.sms import (
    UNSUBSCRIBED_CODE,
    AmbiguousSendError,
    PermanentSendError,
    SendError,
    SentSms,
    TransientSendError,
)
from notifications import message_states, service, tracking
from notifications.claiming import BODY_PURPOSE, Claim, Outcome, claim_batch
from notifications.config import NotificationsConfig, get_config
from notifications.models import Message, MessageStatus
from notifications.providers import SmsProvider

log = logging.getLogger(__name__)
RETRY_JITTER = 0.25  # a transient failure's retry waits up to a quarter longer, at random
STATUS_CALLBACK_PATH = "/notifications/webhooks/twilio/status"


def status_callback_url(key: str) -> str:
    """Where Twilio reports this message's statuses (the key lets a lost SID be recovered)."""
    base = get_settings().public_base_url.rstrip("/")
    return f"{base}{STATUS_CALLBACK_PATH}?{urlencode({'k': key})}"


def _cas(
    db_session: Session,
    message_id: int,
    expected: tuple[MessageStatus, int],
    to: MessageStatus,
    values: dict[str, Any],
) -> bool:
    """Move the row to `to` only if it still has the expected status and attempt counter."""
    status, attempts = expected
    result = db_session.execute(
        message_states.guarded_update(status, to)
        .where(Message.id == message_id, Message.attempts == attempts)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _ours(claim: Claim, candidate: SentSms) -> bool:
    body = candidate.body
    if claim.previous_hmac and codes_match(claim.previous_hmac, body, purpose=BODY_PURPOSE):
        return True
    return bool(claim.rendered.body) and body.startswith(claim.rendered.body)


def _lookup(
    session_factory: sessionmaker[Session], claim: Claim, provider: SmsProvider
) -> SentSms | None:
    candidates = [
        c
        for c in provider.find_sent(to=claim.to, since=claim.since)
        if c.to in ("", claim.to) and _ours(claim, c)
    ]
    if not candidates:
        return None
    with session_factory() as db_session:
        taken = set(
            db_session.scalars(
                select(Message.provider_sid).where(
                    Message.provider_sid.in_([c.sid for c in candidates]),
                    Message.id != claim.message_id,
                )
            )
        )
    free = [c for c in candidates if c.sid not in taken]
    return free[-1] if free else None  # the oldest match: the first attempt that got through


@dataclass(frozen=True)
class _Attempt:
    """What the provider said (or did not say) about one claimed message."""

    kind: str  # accepted | found | blocked | permanent | transient | ambiguous | lookup_failed
    result: SentSms | None = None
    error: SendError | None = None


def _attempt(
    session_factory: sessionmaker[Session], claim: Claim, provider: SmsProvider
) -> _Attempt:
    """Look the message up first if it may already be at the provider, then send it."""
    if claim.verify:
        try:
            found = _lookup(session_factory, claim, provider)
        except Exception as exc:  # keep the claim; look again once it is stale
            log.warning("lookup of message %s failed: %s", claim.message_id, exc)
            return _Attempt("lookup_failed")
        if found is not None:
            return _Attempt("found", result=found)
        if claim.blocked is not None:  # the provider never had it, and now it must not go
            return _Attempt("blocked")
    try:
        result = provider.send(
            to=claim.to, body=claim.rendered.body, status_callback=status_callback_url(claim.key)
        )
    except PermanentSendError as exc:
        return _Attempt("permanent", error=exc)
    except TransientSendError as exc:
        return _Attempt("transient", error=exc)
    except AmbiguousSendError as exc:
        return _Attempt("ambiguous", error=exc)
    return _Attempt("accepted", result=result)


def _release(
    db_session: Session, claim: Claim, status: MessageStatus, values: dict[str, Any]
) -> bool:
    """Move a claimed message out of `sending`, if it is still this claim's."""
    now = utcnow()
    if status in (MessageStatus.FAILED, MessageStatus.SUPPRESSED):
        values.setdefault("final_at", now)
    values.update(status_updated_at=now)
    expected = (MessageStatus.SENDING, claim.attempts)
    return _cas(db_session, claim.message_id, expected, status, values)


def _failed_for_good(
    db_session: Session, claim: Claim, error: SendError, errors: dict[str, Any]
) -> Outcome:
    """A permanent provider error: failed, and an unsubscribed number recorded as opted out."""
    log.warning("message %s failed for good: %s", claim.message_id, error.message)
    _release(db_session, claim, MessageStatus.FAILED, errors)
    if error.code == UNSUBSCRIBED_CODE:
        service.set_opt_out(
            db_session=db_session,
            phone=claim.to,
            opted_out=True,
            keyword="",
            source="twilio_21610",
        )
    return Outcome(claim.message_id, "failed")


def _retry_later(
    db_session: Session,
    claim: Claim,
    error: TransientSendError,
    errors: dict[str, Any],
    config: NotificationsConfig,
) -> Outcome:
    """A transient provider error: queued again after the back-off, or failed after the last try."""
    if claim.attempts >= config.max_attempts:
        _release(db_session, claim, MessageStatus.FAILED, errors)
        return Outcome(claim.message_id, "failed")
    delay = backoff_seconds(
        claim.attempts,
        base=config.retry_base_seconds,
        cap=config.retry_max_seconds,
        jitter=RETRY_JITTER,
    )
    errors.update(
        not_before=utcnow() + timedelta(seconds=delay),
        verify_before_send=error.maybe_accepted,
        enqueued_at=utcnow(),
    )
    _release(db_session, claim, MessageStatus.QUEUED, errors)
    return Outcome(claim.message_id, "retry", delay)


def _settle(
    db_session: Session,
    message: Message,
    claim: Claim,
    attempt: _Attempt,
    config: NotificationsConfig,
) -> Outcome:
    """Record one attempt's result on its message (inside the batch's closing transaction)."""
    message_id, error = claim.message_id, attempt.error
    errors: dict[str, Any] = (
        {"error_code": error.code, "error_message": error.message[:255]} if error else {}
    )
    if attempt.result is not None:
        tracking.apply(
            message,
            sid=attempt.result.sid,
            status=attempt.result.status,
            now=utcnow(),
            source="lookup" if attempt.kind == "found" else "send",
            error_code=attempt.result.error_code,
            error_message=attempt.result.error_message,
        )
        return Outcome(message_id, "recovered" if attempt.kind == "found" else "sent")
    if attempt.kind == "blocked":
        values = {"suppression_reason": claim.blocked, "verify_before_send": False}
        _release(db_session, claim, MessageStatus.SUPPRESSED, values)
        return Outcome(message_id, "suppressed")
    if attempt.kind == "permanent":
        assert error is not None
        return _failed_for_good(db_session, claim, error, errors)
    if attempt.kind == "transient":
        assert isinstance(error, TransientSendError)
        return _retry_later(db_session, claim, error, errors, config)
    # ambiguous or lookup_failed: the claim stays; once stale, the next attempt looks it up
    if error is not None:
        log.warning("message %s: outcome unknown (%s); will look it up", message_id, error)
    return Outcome(message_id, attempt.kind, config.stale_sending_seconds + 1)


_executor: tuple[int, ThreadPoolExecutor] | None = None


def _pool(threads: int) -> ThreadPoolExecutor:
    """A per-process pool for provider calls (made after a fork, never shared across one)."""
    global _executor
    if _executor is None or _executor[0] != os.getpid():
        _executor = (os.getpid(), ThreadPoolExecutor(threads, thread_name_prefix="sms-send"))
    return _executor[1]


def deliver_batch(
    *,
    session_factory: sessionmaker[Session],
    message_ids: Sequence[int],
    provider: SmsProvider,
    config: NotificationsConfig | None = None,
) -> list[Outcome]:
    """One attempt at each message: claim all in one transaction, call the provider for each
    (in parallel), record all in one transaction. Safe to call any number of times, anywhere."""
    config = config or get_config()
    with session_factory() as db_session, db_session.begin():
        claims, outcomes = claim_batch(db_session, sorted(set(message_ids)), provider, config)
    if claims:
        if len(claims) == 1 or config.send_threads == 1:
            attempts = [_attempt(session_factory, c, provider) for c in claims]
        else:
            pool = _pool(config.send_threads)
            attempts = list(pool.map(lambda c: _attempt(session_factory, c, provider), claims))
        seen: set[str] = set()
        for index, attempt in enumerate(attempts):
            if attempt.kind == "found" and attempt.result is not None:
                if attempt.result.sid in seen:  # two twins matched one message: look again later
                    attempts[index] = _Attempt("lookup_failed")
                seen.add(attempt.result.sid)
        with session_factory() as db_session, db_session.begin():
            rows = {
                m.id: m
                for m in db_session.scalars(
                    select(Message)
                    .where(Message.id.in_([c.message_id for c in claims]))
                    .order_by(Message.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            }
            for claim, attempt in zip(claims, attempts, strict=True):
                outcomes[claim.message_id] = _settle(
                    db_session, rows[claim.message_id], claim, attempt, config
                )
    return [outcomes[message_id] for message_id in message_ids]


def deliver(
    *,
    session_factory: sessionmaker[Session],
    message_id: int,
    provider: SmsProvider,
    config: NotificationsConfig | None = None,
) -> Outcome:
    """Make one attempt at sending the message; safe to call any number of times, anywhere."""
    (outcome,) = deliver_batch(
        session_factory=session_factory,
        message_ids=[message_id],
        provider=provider,
        config=config,
    )
    return outcome
