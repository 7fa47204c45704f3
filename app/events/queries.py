"""Reads of the outbox for other packages: plain values, never the model."""

from sqlalchemy.orm import Session

from app.events.consumer import Mark, follow
from app.events.models import OutboxEvent


def kinds_since(
    db_session: Session, mark: Mark | None, *, batch: int = 5000
) -> tuple[list[str], Mark]:
    """The kinds of the outbox events new since `mark` (late commits included, see
    `consumer.follow`) and the mark to read from next time."""
    rows, moved = follow(db_session, OutboxEvent.id, (OutboxEvent.kind,), mark, batch=batch)
    return [kind for _, kind in rows], moved
