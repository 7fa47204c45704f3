"""The outbox consumer handles every event exactly once when ids commit out of order.

Session A takes id N and commits only after session B's N+1 was consumed. On PostgreSQL the
two sessions really are concurrent (two connections, A's insert uncommitted while B commits);
SQLite has one writer at a time, so there A's late commit is the insert of the lower id after
B's was consumed, which is what a reader sees of it.
"""

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from app.events import consumer as events_consumer
from app.events import service as event_service
from app.events.models import ConsumerCursor, OutboxEvent
from app.web.live import outbox_source

KIND = "test.out_of_order"


@pytest.fixture
def consumer() -> events_consumer.Consumer:
    return events_consumer.Consumer(name=f"test-{uuid4().hex[:8]}", kinds=frozenset({KIND}))


@pytest.fixture
def sessions(committed: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    yield committed


def _emit(db_session: Session, label: str) -> int:
    event = event_service.emit(
        db_session=db_session, kind=KIND, dedupe_key=f"{KIND}:{label}", payload={"label": label}
    )
    return event.id


def _event(event_id: int, label: str) -> OutboxEvent:
    return OutboxEvent(
        id=event_id, kind=KIND, dedupe_key=f"{KIND}:{label}", payload={"label": label}
    )


def _consume(
    sessions: sessionmaker[Session], consumer: events_consumer.Consumer, **kw: object
) -> list[int]:
    """One consumer pass in its own committed transaction; the ids it handled."""
    handled: list[int] = []

    def handle(db_session: Session, event: OutboxEvent) -> str:
        handled.append(event.id)
        return "handled"

    with sessions() as db_session:
        events_consumer.consume(
            db_session=db_session,
            consumer=consumer,
            handle=handle,
            **kw,  # type: ignore[arg-type]
        )
        db_session.commit()
    return handled


def _commit_out_of_order(
    engine: Engine, sessions: sessionmaker[Session], consume: Callable[[], list[int]]
) -> tuple[int, int, list[int]]:
    """A takes N, B takes N+1 and commits, the consumer runs, A commits; returns (N, N+1,
    what the consumer handled while A was still open)."""
    label = uuid4().hex[:8]
    if engine.dialect.name == "postgresql":
        with sessions() as a, sessions() as b:
            late = _emit(a, f"{label}-a")  # id N, not visible until A commits
            early = _emit(b, f"{label}-b")  # id N+1
            b.commit()
            while_open = consume()
            a.commit()
        return late, early, while_open
    with sessions() as db_session:
        late = int(db_session.scalar(select(func.max(OutboxEvent.id))) or 0) + 1
        early = late + 1  # B's id; `late` is taken by A, which has not committed yet
        db_session.add(_event(early, f"{label}-b"))
        db_session.commit()
        while_open = consume()
        db_session.add(_event(late, f"{label}-a"))  # A commits now
        db_session.commit()
    return late, early, while_open


def test_an_id_committed_after_a_higher_one_was_consumed_is_handled_once(
    engine: Engine, sessions: sessionmaker[Session], consumer: events_consumer.Consumer
) -> None:
    with sessions() as db_session:  # an event before, handled first
        _emit(db_session, uuid4().hex)
        db_session.commit()
    first = _consume(sessions, consumer)
    late, early, while_open = _commit_out_of_order(
        engine, sessions, lambda: _consume(sessions, consumer)
    )
    assert early == late + 1
    assert while_open == [early]
    assert _consume(sessions, consumer) == [late]
    assert _consume(sessions, consumer) == []
    # An hour on, the watermark passes both and the receipts go; still nothing is handled again.
    later = utcnow() + timedelta(hours=1)
    assert _consume(sessions, consumer, now=later) == []
    with sessions() as db_session:
        cursor = db_session.get(ConsumerCursor, consumer.name)
        assert cursor is not None and cursor.last_event_id >= early
        assert events_consumer.receipts(db_session=db_session, consumer=consumer.name) == []
        assert events_consumer.pending_count(db_session=db_session, consumer=consumer) == 0
    assert len(first) == 1


def test_the_watermark_waits_below_a_missing_id_until_the_grace_passes(
    sessions: sessionmaker[Session], consumer: events_consumer.Consumer
) -> None:
    with sessions() as db_session:
        ids = [_emit(db_session, uuid4().hex) for _ in range(3)]
        db_session.commit()
    assert _consume(sessions, consumer) == ids
    with sessions() as db_session:
        cursor = db_session.get(ConsumerCursor, consumer.name)
        assert cursor is not None and cursor.last_event_id < ids[0]  # too recent to pass
        kept = events_consumer.receipts(db_session=db_session, consumer=consumer.name)
        assert [r.event_id for r in kept] == ids


def test_two_consumers_each_handle_every_event(
    sessions: sessionmaker[Session], consumer: events_consumer.Consumer
) -> None:
    other = events_consumer.Consumer(name=f"{consumer.name}-other", kinds=consumer.kinds)
    with sessions() as db_session:
        ids = [_emit(db_session, uuid4().hex) for _ in range(2)]
        db_session.commit()
    assert _consume(sessions, consumer, limit=1) == ids[:1]
    assert _consume(sessions, other) == ids
    assert _consume(sessions, consumer) == ids[1:]
    with sessions() as db_session:
        rows = db_session.scalars(select(ConsumerCursor.consumer)).all()
        assert {consumer.name, other.name} <= set(rows)


def test_a_live_stream_names_an_event_that_commits_late(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with sessions() as db_session:
        mark = outbox_source(db_session, None).cursor

    def poll() -> list[int]:
        nonlocal mark
        with sessions() as db_session:
            rows, mark = events_consumer.follow(
                db_session, OutboxEvent.id, (OutboxEvent.kind,), mark
            )
        return [row[0] for row in rows if row[1] == KIND]

    late, early, while_open = _commit_out_of_order(engine, sessions, poll)
    assert while_open == [early]
    assert late in dict(mark.missed)
    assert poll() == [late]
    assert poll() == []
    assert late not in dict(mark.missed)


def test_a_live_stream_stops_waiting_for_a_missing_id_after_its_grace(
    db: Session,
) -> None:
    now = [1000.0]
    mark = events_consumer.follow(db, OutboxEvent.id, (OutboxEvent.kind,), None)[1]
    db.add(_event(mark.top + 3, "after-a-gap"))
    db.flush()
    rows, mark = events_consumer.follow(
        db, OutboxEvent.id, (OutboxEvent.kind,), mark, clock=lambda: now[0]
    )
    assert [row[0] for row in rows] == [mark.top]
    assert [i for i, _ in mark.missed] == [mark.top - 2, mark.top - 1]
    now[0] += 61
    rows, mark = events_consumer.follow(
        db, OutboxEvent.id, (OutboxEvent.kind,), mark, clock=lambda: now[0]
    )
    assert rows == [] and mark.missed == ()
    source = outbox_source(db, mark)
    assert list(source.kinds) == [] and source.cursor.top == mark.top


def test_two_workers_of_one_consumer_take_turns_and_handle_each_event_once(
    sessions: sessionmaker[Session], consumer: events_consumer.Consumer
) -> None:
    with sessions() as db_session:
        ids = [_emit(db_session, uuid4().hex) for _ in range(3)]
        db_session.commit()
    handled: list[int] = []

    def handle(db_session: Session, event: OutboxEvent) -> str:
        handled.append(event.id)
        return "handled"

    second: list[int] = []
    with sessions() as first:
        events_consumer.consume(db_session=first, consumer=consumer, handle=handle)
        # The first worker holds the cursor; the second waits for it, then finds nothing.
        worker = threading.Thread(target=lambda: second.append(_consume_once(sessions, consumer)))
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive()
        first.commit()
    worker.join(timeout=30)
    assert handled == ids
    assert second == [0]


def _consume_once(sessions: sessionmaker[Session], consumer: events_consumer.Consumer) -> int:
    with sessions() as db_session:
        count = events_consumer.consume(
            db_session=db_session, consumer=consumer, handle=lambda s, e: "again"
        )
        db_session.commit()
    return count
