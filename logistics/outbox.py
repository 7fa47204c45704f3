"""Many outbox events at once, each still once per dedupe key (the cut-off emits thousands)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.events.models import OutboxEvent

CHUNK = 1000


def emit_many(
    *, db_session: Session, kind: str, events: Sequence[tuple[str, dict[str, Any]]]
) -> int:
    """Add (dedupe_key, payload) events of one kind unless their key exists; return how many."""
    keys = [key for key, _ in events]
    existing: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        existing.update(
            db_session.scalars(
                select(OutboxEvent.dedupe_key).where(OutboxEvent.dedupe_key.in_(chunk))
            )
        )
    now = utcnow()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for key, payload in events:
        if key in existing or key in seen:
            continue
        seen.add(key)
        rows.append({"kind": kind, "dedupe_key": key, "payload": payload, "created_at": now})
    for start in range(0, len(rows), CHUNK):
        db_session.execute(insert(OutboxEvent), rows[start : start + CHUNK])
    return len(rows)
