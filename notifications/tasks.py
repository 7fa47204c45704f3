"""Celery tasks of the notifications queue (`notifications.*`). Each takes ids, never objects,
and may run twice: the work it guards is claimed with a compare-and-set on the row.

With the embedded broker (`memory://`) tasks run eagerly in-process and nothing is scheduled
for later. When they run is the clockwork's schedule (`app.clockwork.schedule`), not this
module's.
"""

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from celery.signals import worker_process_init

from app.core.celery_app import celery_app
from app.core.db import get_engine, get_sessionmaker
from notifications import delivery, dispatch, nudge, reconcile, reminders
from notifications.config import get_config
from notifications.providers import get_provider

log = logging.getLogger(__name__)
MAX_COUNTDOWN = 600.0  # seconds; longer waits are left to the sweep (no hours-long ETA tasks)


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _fresh_connections(**_: Any) -> None:
    """A forked worker child must not share the parent's database connections."""
    if get_engine.cache_info().currsize:
        get_engine().dispose(close=False)


def _eager() -> bool:
    return bool(celery_app.conf.task_always_eager)


def enqueue_sends(message_ids: Iterable[int]) -> None:
    """Queue send tasks for messages, in batches (call after their transaction commits)."""
    ids = list(message_ids)
    size = get_config().send_batch_size
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        if len(chunk) == 1:
            send_message.apply_async((chunk[0],))
        else:
            send_batch.apply_async((chunk,))


def _deliver(message_ids: list[int]) -> dict[str, int]:
    outcomes = delivery.deliver_batch(
        session_factory=get_sessionmaker(), message_ids=message_ids, provider=get_provider()
    )
    for outcome in outcomes:
        # a later attempt: soon ones as a countdown task, far ones (quiet hours) by the sweep
        if outcome.retry_in is not None and outcome.retry_in <= MAX_COUNTDOWN and not _eager():
            send_message.apply_async((outcome.message_id,), countdown=max(1.0, outcome.retry_in))
    return dict(Counter(o.action for o in outcomes))


@celery_app.task(name="notifications.send_message", acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
def send_message(message_id: int) -> dict[str, int]:
    """One delivery attempt; schedules the next one when the message asks for it."""
    return _deliver([message_id])


@celery_app.task(name="notifications.send_batch", acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
def send_batch(message_ids: list[int]) -> dict[str, int]:
    """One delivery attempt for each of a batch of messages (two commits for all of them)."""
    return _deliver([int(i) for i in message_ids])


@celery_app.task(name="notifications.dispatch_events", ignore_result=True)  # type: ignore[untyped-decorator]
def dispatch_events(batches: int = 20) -> int:
    """Turn new outbox events into messages and queue them; return how many were created."""
    created = 0
    for _ in range(batches):
        with get_sessionmaker()() as db_session:
            result = dispatch.consume(db_session=db_session)
            db_session.commit()
        enqueue_sends(result.to_send)
        created += result.created
        if result.events == 0:
            break
    return created


@celery_app.task(name="notifications.sweep", ignore_result=True)  # type: ignore[untyped-decorator]
def sweep() -> int:
    """Re-queue messages whose task was lost and claims left by dead workers."""
    with get_sessionmaker()() as db_session:
        ids = reconcile.due_for_enqueue(db_session=db_session)
        db_session.commit()
    enqueue_sends(ids)
    return len(ids)


@celery_app.task(name="notifications.reconcile", ignore_result=True)  # type: ignore[untyped-decorator]
def reconcile_statuses() -> int:
    """Ask Twilio about messages whose final status callback never came."""
    return reconcile.poll_statuses(session_factory=get_sessionmaker(), provider=get_provider())


@celery_app.task(name="notifications.reminders", ignore_result=True)  # type: ignore[untyped-decorator]
def send_reminders() -> int:
    """Create and queue the pickup reminders that are due."""
    with get_sessionmaker()() as db_session:
        ids = reminders.scan(db_session=db_session)
        db_session.commit()
    enqueue_sends(ids)
    return len(ids)


@celery_app.task(name="notifications.nudges", ignore_result=True)  # type: ignore[untyped-decorator]
def send_nudges() -> int:
    """Create and queue the group nudges that are due."""
    with get_sessionmaker()() as db_session:
        ids = nudge.scan(db_session=db_session)
        db_session.commit()
    enqueue_sends(ids)
    return len(ids)
