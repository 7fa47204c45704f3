"""Record domain events in the outbox, once per dedupe key."""

import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Insert, Table, insert, select
from sqlalchemy.orm import Session

from app.core import bulk
from app.core.db import utcnow
from app.events.models import OutboxEvent


def emit(
    *, db_session: Session, kind: str, dedupe_key: str, payload: dict[str, Any]
) -> OutboxEvent:
    """Add an event unless one with the same dedupe key exists; return the stored one."""
    existing = db_session.scalar(select(OutboxEvent).where(OutboxEvent.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    event = OutboxEvent(kind=kind, dedupe_key=dedupe_key, payload=payload)
    db_session.add(event)
    db_session.flush()
    return event


def emit_new(*, db_session: Session, kind: str, dedupe_key: str, payload: dict[str, Any]) -> None:
    """Add an event whose dedupe key cannot exist yet (its subject was just inserted): no
    lookup first. One INSERT, now (the unique key would refuse a duplicate: IntegrityError)."""
    db_session.connection().execute(
        _insert_event(),
        {"kind": kind, "dedupe_key": dedupe_key, "payload": payload, "created_at": utcnow()},
    )


@functools.cache
def _insert_event() -> Insert:
    return insert(cast(Table, OutboxEvent.__table__))


def get_all(*, db_session: Session, kind: str | None = None) -> list[OutboxEvent]:
    """Events in order of creation, optionally of one kind."""
    query = select(OutboxEvent).order_by(OutboxEvent.id)
    if kind is not None:
        query = query.where(OutboxEvent.kind == kind)
    return list(db_session.scalars(query))


def emit_many(
    *, db_session: Session, kind: str, events: Sequence[tuple[str, dict[str, Any]]]
) -> int:
    """Add (dedupe_key, payload) events of one kind unless their key exists; return how many.

    For flows that emit thousands of events: one insert per few thousand, which leaves out the
    keys already stored (`ON CONFLICT DO NOTHING` on the unique key) instead of looking first.
    """
    now = utcnow()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for key, payload in events:
        if key in seen:
            continue
        seen.add(key)
        rows.append({"kind": kind, "dedupe_key": key, "payload": payload, "created_at": now})
    return bulk.insert_rows(db_session, OutboxEvent, rows, skip_taken="dedupe_key")
