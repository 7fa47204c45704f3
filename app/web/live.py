"""One server-sent event stream per browser tab, fed by the durable events.

A stream reads its sources (functions over the database that return what happened after a
cursor: the outbox, locker events...) every `poll_seconds`, coalesces each poll into one
event per kind (`event: order.placed`, `data: {"count": 14}`), and sends the city's clock
with every poll, so a page's countdowns move with the simulated clock too. Pages listen with
htmx (`hx-trigger="sse:order.placed throttle:2s"`) and fetch their own fragments again: the
stream names what changed, the page asks for what it shows.
"""

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.db import get_sessionmaker, utcnow
from app.events import queries as events_queries
from app.events.consumer import Mark, follow
from app.web.templating import local_time

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class Happened:
    """New events of a source after its mark, and the mark to ask from next time."""

    cursor: Mark
    kinds: Sequence[str]


LiveSource = Callable[[Session, Mark | None], Happened]


def table_source(
    id_column: Any, kind_column: Any, *, prefix: str = "", batch: int = 5000
) -> LiveSource:
    """A source over an append-only table: the kinds of rows new since the mark (`prefix` +
    kind), rows whose id commits after a higher one's included (`app.events.consumer.follow`);
    the first poll only finds where the table ends."""

    def source(db_session: Session, cursor: Mark | None) -> Happened:
        rows, mark = follow(db_session, id_column, (kind_column,), cursor, batch=batch)
        return Happened(cursor=mark, kinds=[f"{prefix}{kind}" for _, kind in rows])

    return source


def outbox_source(db_session: Session, cursor: Mark | None) -> Happened:
    """Domain events from the outbox: orders, group buys, routes, parcels, refunds, alarms..."""
    kinds, mark = events_queries.kinds_since(db_session, cursor)
    return Happened(cursor=mark, kinds=kinds)


def _frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _poll(sources: Sequence[LiveSource], cursors: list[Mark | None]) -> list[str]:
    counts: Counter[str] = Counter()
    try:
        with get_sessionmaker()() as db_session:
            moved = list(cursors)
            for index, source in enumerate(sources):
                happened = source(db_session, moved[index])
                moved[index] = happened.cursor
                counts.update(happened.kinds)
        cursors[:] = moved
    except OperationalError as exc:
        # Busy (SQLite's one writer held past the busy timeout) or restarting: the stream has
        # started, so no error answer is possible; this beat reports nothing, the next catches up.
        logger.warning("live poll skipped: %s", type(exc.orig).__name__ if exc.orig else exc)
        counts.clear()
    now = utcnow()
    frames = [_frame(kind, {"count": count}) for kind, count in sorted(counts.items())]
    if counts:
        frames.append(_frame("changed", {"kinds": sorted(counts)}))
    frames.append(_frame("clock", {"utc": now.isoformat(), "local": local_time(now)}))
    return frames


async def _events(
    request: Request, sources: Sequence[LiveSource], poll_seconds: float
) -> AsyncIterator[str]:
    cursors: list[Mark | None] = [None] * len(sources)
    yield f"retry: {int(poll_seconds * 2000)}\n\n"
    quiet = 0.0
    while not await request.is_disconnected():
        frames = await run_in_threadpool(_poll, sources, cursors)
        for frame in frames:
            yield frame
        await asyncio.sleep(poll_seconds)
        quiet += poll_seconds
        if quiet >= HEARTBEAT_SECONDS:
            quiet = 0.0
            yield ": keep-alive\n\n"


def live_stream(
    request: Request, sources: Sequence[LiveSource], *, poll_seconds: float = 1.0
) -> StreamingResponse:
    """The event stream of one tab over `sources`."""
    return StreamingResponse(
        _events(request, sources, poll_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
