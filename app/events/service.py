"""Record domain events in the outbox, once per dedupe key."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def get_all(*, db_session: Session, kind: str | None = None) -> list[OutboxEvent]:
    """Events in order of creation, optionally of one kind."""
    query = select(OutboxEvent).order_by(OutboxEvent.id)
    if kind is not None:
        query = query.where(OutboxEvent.kind == kind)
    return list(db_session.scalars(query))
