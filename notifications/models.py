"""Notification tables: the SMS outbox, inbound messages, opt-outs, per-city settings, nudges,
and this package's cursor over the shared event outbox.

No row holds a pickup or login code in clear: a message keeps the ids it is rendered from, a
redacted copy of the body and a keyed hash of the full body (to recognise it at Twilio after a
crash); the full body is rendered at send time, codes re-derived then.
"""

from datetime import datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow


class MessageStatus(StrEnum):
    """Our side of a message's life; Twilio's own word is kept in `provider_status`."""

    QUEUED = "queued"  # in the outbox, waiting for a worker (or for its not_before)
    SENDING = "sending"  # a worker claimed it; Twilio may or may not have it yet
    SENT = "sent"  # the provider accepted it (Twilio: accepted/queued/sending/sent)
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"  # never handed to the provider (opt-out, expired, quiet hours)


FINAL_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.SUPPRESSED,
    }
)


class Message(Base):
    """One SMS in the outbox, once per idempotency key."""

    __tablename__ = "notification_messages"
    __table_args__ = (
        Index("ix_notification_messages_status_not_before", "status", "not_before"),
        Index("ix_notification_messages_city_created", "city_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(40), index=True)
    event_id: Mapped[int | None]
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id"))
    to_phone: Mapped[str] = mapped_column(String(20), index=True)
    language: Mapped[str] = mapped_column(String(8))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body_redacted: Mapped[str | None] = mapped_column(Text)
    body_hmac: Mapped[str | None] = mapped_column(String(64))
    segments: Mapped[int | None]
    encoding: Mapped[str | None] = mapped_column(String(8))
    provider: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[MessageStatus] = mapped_column(
        Enum(MessageStatus, native_enum=False, length=12), default=MessageStatus.QUEUED
    )
    provider_status: Mapped[str | None] = mapped_column(String(20))
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    sid_source: Mapped[str | None] = mapped_column(String(12))
    error_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(String(255))
    suppression_reason: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(default=0)
    verify_before_send: Mapped[bool] = mapped_column(default=False)
    not_before: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    resent_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_messages.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None]
    first_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    final_at: Mapped[datetime | None]
    status_updated_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]


class InboundMessage(Base):
    """An SMS a resident sent us (keywords: STOP / START / HELP and their Chinese equivalents)."""

    __tablename__ = "notification_inbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(20), index=True)
    to_phone: Mapped[str] = mapped_column(String(32), default="")
    body_redacted: Mapped[str] = mapped_column(Text, default="")
    keyword: Mapped[str | None] = mapped_column(String(10))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class OptOut(Base):
    """Whether a phone number opted out of our SMS (STOP), and how it got there."""

    __tablename__ = "notification_opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    opted_out: Mapped[bool] = mapped_column(default=True)
    keyword: Mapped[str] = mapped_column(String(20), default="")
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationSettings(Base):
    """A city's notification policy: quiet hours (local), reminder lead, nudge thresholds."""

    __tablename__ = "notification_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), unique=True)
    quiet_start: Mapped[time] = mapped_column(Time(), default=time(21, 0))
    quiet_end: Mapped[time] = mapped_column(Time(), default=time(8, 0))
    reminder_hours_before: Mapped[int] = mapped_column(default=3)
    nudges_enabled: Mapped[bool] = mapped_column(default=True)
    nudge_hours_before_cutoff: Mapped[int] = mapped_column(default=3)
    nudge_max_gap: Mapped[int] = mapped_column(default=3)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Nudge(Base):
    """The one group nudge a resident may get per delivery window."""

    __tablename__ = "notification_nudges"
    __table_args__ = (UniqueConstraint("window_id", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("delivery_windows.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    group_buy_id: Mapped[int] = mapped_column(ForeignKey("group_buys.id"))
    gap: Mapped[int]
    target: Mapped[str] = mapped_column(String(10))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("notification_messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
