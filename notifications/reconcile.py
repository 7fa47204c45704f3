"""The safety nets, run periodically: nothing stays queued, claimed or unsettled forever.

- `due_for_enqueue`: queued messages whose task was lost (enqueue after commit failed, a worker
  died holding it, a retry's countdown died with its worker) and claims left by dead workers;
- `poll_statuses`: messages Twilio accepted whose final status callback never came: ask Twilio.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from notifications import tracking
from notifications.config import NotificationsConfig, get_config
from notifications.models import Message, MessageStatus
from notifications.providers import SmsProvider

log = logging.getLogger(__name__)


def due_for_enqueue(
    *,
    db_session: Session,
    now: datetime | None = None,
    config: NotificationsConfig | None = None,
    limit: int = 5000,
) -> list[int]:
    """Messages that need a (new) send task; marks them enqueued. Commit, then enqueue them."""
    now, config = now or utcnow(), config or get_config()
    requeue_before = now - timedelta(seconds=config.requeue_after_seconds)
    stale_before = now - timedelta(seconds=config.stale_sending_seconds)
    not_recent = or_(Message.enqueued_at.is_(None), Message.enqueued_at < requeue_before)
    waiting = and_(
        Message.status == MessageStatus.QUEUED,
        or_(Message.not_before.is_(None), Message.not_before <= now),
        not_recent,
    )
    abandoned = and_(
        Message.status == MessageStatus.SENDING,
        Message.claimed_at < stale_before,
        or_(not_recent, Message.enqueued_at <= Message.claimed_at),
    )
    ids = list(
        db_session.scalars(
            select(Message.id)
            .where(or_(waiting, abandoned))
            .order_by(Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for message in db_session.scalars(select(Message).where(Message.id.in_(ids))):
        message.enqueued_at = now
    db_session.flush()
    return ids


def poll_statuses(
    *,
    session_factory: sessionmaker[Session],
    provider: SmsProvider,
    now: datetime | None = None,
    config: NotificationsConfig | None = None,
    limit: int = 200,
) -> int:
    """Ask the provider about accepted messages with no final status after a while; settle them."""
    now, config = now or utcnow(), config or get_config()
    quiet_for = now - timedelta(seconds=config.reconcile_after_seconds)
    give_up = now - timedelta(hours=config.reconcile_give_up_hours)
    with session_factory() as db_session:
        pending = list(
            db_session.execute(
                select(Message.id, Message.provider_sid)
                .where(
                    Message.status == MessageStatus.SENT,
                    Message.provider_sid.is_not(None),
                    Message.sent_at < quiet_for,
                    Message.sent_at > give_up,
                    or_(Message.last_checked_at.is_(None), Message.last_checked_at < quiet_for),
                )
                .order_by(Message.last_checked_at.is_not(None), Message.id)
                .limit(limit)
            )
        )
    settled = 0
    for message_id, sid in pending:
        assert sid is not None
        try:
            answer = provider.fetch(sid=sid)
        except Exception as exc:
            log.warning("reconcile: fetching %s failed: %s", sid, exc)
            continue
        with session_factory() as db_session, db_session.begin():
            message = db_session.scalar(
                select(Message).where(Message.id == message_id).with_for_update()
            )
            if message is None:
                continue
            message.last_checked_at = utcnow()
            if tracking.apply(
                message,
                sid=answer.sid,
                status=answer.status,
                now=utcnow(),
                source="reconcile",
                error_code=answer.error_code,
                error_message=answer.error_message,
            ):
                settled += 1
    return settled
