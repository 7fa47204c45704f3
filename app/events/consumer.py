"""One way to read the outbox, for every package that reacts to its events.

Ids come from a sequence at insert but become visible at commit, so under concurrent writers
a lower id can appear after a higher one was read: session A takes id N, session B takes N+1
and commits, a reader handles N+1, then A commits N. Reading `id > last id read` skips N.

Chosen: gap tracking, the same on PostgreSQL and SQLite. (The alternative, a `xid8` column
read below `pg_snapshot_xmin(pg_current_snapshot())`, orders exactly by commit, but SQLite has
nothing like it, and every consumer would stall behind the longest open writing transaction
anywhere in the cluster.) Per consumer (`Consumer.name`):

- a watermark, `ConsumerCursor.last_event_id`: every event at or below it is handled or not
  of the consumer's kinds;
- above it, events of its kinds without a receipt (`ConsumerReceipt`, keyed by consumer and
  event id) are read in id order; an id that appears late, below events already handled, is
  simply read on the next pass, and no event is handled twice by one consumer;
- the watermark moves only over ids that are all handled or older than `grace_seconds` (the
  longest writing transaction we allow): it stops below the first unhandled event and below
  any event whose `created_at` is within the grace of `now` (both from the one clock), and
  prunes the receipts it passes. A missing id below an event older than the grace was taken
  before that event, by a writer open longer than we allow: it rolled back;
- the cursor row is locked (`FOR UPDATE`; SQLite transactions begin IMMEDIATE, one writer at
  a time, so there ids even commit in order and gaps are rollbacks), so two workers of one
  consumer take turns; handling and receipts share the caller's transaction, which commits.

Live streams (one per browser tab, nothing persisted) use `follow`: the same rule over any
append-only table, with the ids still missing kept in a `Mark` in memory.
"""

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.events.models import ConsumerCursor, ConsumerReceipt, OutboxEvent

OUTCOME_LENGTH = 120


@dataclass(frozen=True)
class Consumer:
    """A reader of the outbox: its name (the cursor's key) and the kinds it handles."""

    name: str
    kinds: frozenset[str]
    grace_seconds: float = 600.0


Handler = Callable[[Session, OutboxEvent], str]


def consume(
    *,
    db_session: Session,
    consumer: Consumer,
    handle: Handler,
    limit: int = 500,
    now: datetime | None = None,
) -> int:
    """Handle up to `limit` events the consumer has not handled, in id order, each once
    (`handle` returns the outcome kept on its receipt); then move the watermark. How many
    were handled. The caller commits."""
    cursor = lock_cursor(db_session=db_session, name=consumer.name)
    events = db_session.scalars(
        select(OutboxEvent)
        .where(_unhandled(consumer, cursor.last_event_id))
        .order_by(OutboxEvent.id)
        .limit(limit)
    ).all()
    for event in events:
        outcome = handle(db_session, event)
        db_session.add(
            ConsumerReceipt(
                consumer=consumer.name,
                event_id=event.id,
                kind=event.kind,
                outcome=outcome[:OUTCOME_LENGTH],
            )
        )
    db_session.flush()
    _advance(db_session, consumer, cursor, now or utcnow())
    return len(events)


def pending_count(*, db_session: Session, consumer: Consumer) -> int:
    """Events of the consumer's kinds that it has not handled yet."""
    cursor = db_session.get(ConsumerCursor, consumer.name)
    mark = cursor.last_event_id if cursor is not None else 0
    count = db_session.scalar(select(func.count(OutboxEvent.id)).where(_unhandled(consumer, mark)))
    return int(count or 0)


def receipts(*, db_session: Session, consumer: str) -> list[ConsumerReceipt]:
    """The consumer's receipts above its watermark, in event order."""
    return list(
        db_session.scalars(
            select(ConsumerReceipt)
            .where(ConsumerReceipt.consumer == consumer)
            .order_by(ConsumerReceipt.event_id)
        )
    )


def lock_cursor(*, db_session: Session, name: str) -> ConsumerCursor:
    """The consumer's cursor row, created at 0 the first time, locked until the caller commits."""
    query = select(ConsumerCursor).where(ConsumerCursor.consumer == name).with_for_update()
    cursor = db_session.scalar(query)
    if cursor is not None:
        return cursor
    try:
        with db_session.begin_nested():
            db_session.add(ConsumerCursor(consumer=name, last_event_id=0))
    except IntegrityError:
        pass  # another worker created it first; read theirs
    cursor = db_session.scalar(query.execution_options(populate_existing=True))
    assert cursor is not None
    return cursor


def _unhandled(consumer: Consumer, mark: int) -> Any:
    handled = exists().where(
        ConsumerReceipt.consumer == consumer.name, ConsumerReceipt.event_id == OutboxEvent.id
    )
    return (OutboxEvent.id > mark) & OutboxEvent.kind.in_(consumer.kinds) & ~handled


def _advance(
    db_session: Session, consumer: Consumer, cursor: ConsumerCursor, now: datetime
) -> None:
    horizon = now - timedelta(seconds=consumer.grace_seconds)
    first_open = db_session.scalar(
        select(func.min(OutboxEvent.id)).where(_unhandled(consumer, cursor.last_event_id))
    )
    query = select(func.max(OutboxEvent.id)).where(
        OutboxEvent.id > cursor.last_event_id, OutboxEvent.created_at <= horizon
    )
    if first_open is not None:
        query = query.where(OutboxEvent.id < first_open)
    mark = db_session.scalar(query)
    if mark is None:
        return
    cursor.last_event_id, cursor.updated_at = int(mark), now
    db_session.execute(
        delete(ConsumerReceipt).where(
            ConsumerReceipt.consumer == consumer.name, ConsumerReceipt.event_id <= mark
        )
    )


# --- live streams: the same rule, in memory -------------------------------------------------

MAX_MISSED = 1000


@dataclass(frozen=True)
class Mark:
    """Where an in-memory reader stands: the highest id read, and the ids below it not seen
    yet with the moment (`time.monotonic`) each was first missed."""

    top: int
    missed: tuple[tuple[int, float], ...] = ()


def follow(
    db_session: Session,
    id_column: Any,
    columns: Sequence[Any],
    mark: Mark | None,
    *,
    grace_seconds: float = 60.0,
    batch: int = 5000,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[Any], Mark]:
    """Rows of an append-only table (`id_column` first, then `columns`) that appeared since
    `mark`, ids that commit late included, and the mark to read from next time. With no mark
    yet, only where the table ends is found."""
    if mark is None:
        return [], Mark(top=int(db_session.scalar(select(func.max(id_column))) or 0))
    missed = dict(mark.missed)
    condition = id_column > mark.top
    if missed:
        condition = or_(condition, id_column.in_(list(missed)))
    rows = list(
        db_session.execute(
            select(id_column, *columns).where(condition).order_by(id_column).limit(batch)
        ).all()
    )
    now = clock()
    seen = {int(row[0]) for row in rows}
    top = max([mark.top, *seen])
    new_ids = sorted(i for i in seen if i > mark.top)
    missed.update((gap, now) for gap in _gaps(mark.top, new_ids))
    kept = sorted((i, at) for i, at in missed.items() if i not in seen and now - at < grace_seconds)
    return rows, Mark(top=top, missed=tuple(kept[-MAX_MISSED:]))


def _gaps(after: int, ids: Collection[int]) -> list[int]:
    """The ids between `after` and the highest of `ids` that are not in `ids` (at most the
    last `MAX_MISSED` of them)."""
    if not ids:
        return []
    present = set(ids)
    high = max(present)
    start = max(after + 1, high - MAX_MISSED)
    return [i for i in range(start, high) if i not in present]
