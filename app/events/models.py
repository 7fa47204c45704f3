"""The durable outbox: domain events other packages (notifications, lockers) consume, and
each consumer's place in it."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Not indexed: nothing queries it, and a cut-off writes ~48,000 events.
    processed_at: Mapped[datetime | None]


class ConsumerCursor(Base):
    """How far one consumer has read the outbox: every event with an id up to
    `last_event_id` is handled or not of its kinds (a watermark that trails the newest
    events by a grace period, see `app/events/consumer.py`)."""

    __tablename__ = "event_consumer_cursors"

    consumer: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsumerReceipt(Base):
    """One event above its consumer's watermark, handled (pruned once the watermark passes)."""

    __tablename__ = "event_consumer_receipts"

    consumer: Mapped[str] = mapped_column(String(60), primary_key=True)
    event_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(120), default="")
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)
