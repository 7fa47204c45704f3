"""Locker tables: live bank state, received events, the command outbox, pickup codes, audit,
cold-chain excursions."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow
from app.core.enums import TemperatureClass


class CommandStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    ACKED = "acked"
    FAILED = "failed"
    EXPIRED = "expired"


class CodeStatus(StrEnum):
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


class LockerBankState(Base):
    """What the bridge last heard from a bank: online or not, temperatures, doors, keypad."""

    __tablename__ = "locker_bank_states"

    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), primary_key=True)
    online: Mapped[bool] = mapped_column(default=False)
    last_seen_at: Mapped[datetime | None]
    came_online_at: Mapped[datetime | None]
    went_offline_at: Mapped[datetime | None]
    state_seq: Mapped[int | None] = mapped_column(BigInteger)
    state_at: Mapped[datetime | None]
    firmware: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    keypad_failed_attempts: Mapped[int] = mapped_column(default=0)
    keypad_locked_until: Mapped[datetime | None]
    keypad_lockouts: Mapped[int] = mapped_column(default=0)
    clock_skew_seconds: Mapped[float | None]
    connection: Mapped[int | None] = mapped_column(BigInteger)
    # Event sequence tracking: every event up to `event_seq_contiguous` is stored; the bank
    # says it issued up to `event_seq_reported`; a gap open since `event_gap_since` is
    # recovered with a `replay_events` command. A locker whose counter went back (storage
    # reset) starts a new epoch: only events received since then count for the walk.
    event_seq_contiguous: Mapped[int | None] = mapped_column(BigInteger)
    event_seq_max: Mapped[int | None] = mapped_column(BigInteger)
    event_seq_reported: Mapped[int | None] = mapped_column(BigInteger)
    event_gap_since: Mapped[datetime | None]
    event_epoch_at: Mapped[datetime | None]


class LockerEvent(Base):
    """One event a locker reported; (bank, event id) is unique so redeliveries change nothing."""

    __tablename__ = "locker_events"
    __table_args__ = (UniqueConstraint("bank_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(BigInteger)
    locker_ts: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(40), default="applied")
    detail: Mapped[str] = mapped_column(String(255), default="")


class LockerCommand(Base):
    """The durable command outbox: re-sent with the same id until the locker acks or it expires."""

    __tablename__ = "locker_commands"
    __table_args__ = (Index("ix_locker_commands_status_next", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[CommandStatus] = mapped_column(
        Enum(CommandStatus, native_enum=False, length=10), default=CommandStatus.QUEUED
    )
    purpose: Mapped[str | None] = mapped_column(String(20))
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("parcels.id"), index=True)
    compartment_id: Mapped[int | None] = mapped_column(ForeignKey("compartments.id"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    first_sent_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(80))
    late_ack_at: Mapped[datetime | None]


class PickupCode(Base):
    """A parcel's pickup code: the nonce to re-derive it, the server's keyed hash, the
    locker's salted slow hash. `live_code_hash` is set only while the code is usable, so a
    code is unique among a bank's live parcels (NULLs never collide)."""

    __tablename__ = "pickup_codes"
    __table_args__ = (UniqueConstraint("bank_id", "live_code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), unique=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), index=True)
    nonce: Mapped[int] = mapped_column(default=0)
    code_hash: Mapped[str] = mapped_column(String(64))
    live_code_hash: Mapped[str | None] = mapped_column(String(64))
    locker_salt: Mapped[str] = mapped_column(String(32))
    locker_hash: Mapped[str] = mapped_column(String(64))
    iterations: Mapped[int]
    expires_at: Mapped[datetime]
    status: Mapped[CodeStatus] = mapped_column(
        Enum(CodeStatus, native_enum=False, length=10), default=CodeStatus.ACTIVE
    )
    extended_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Who did what to a locker, and why (remote opens, out-of-service)."""

    __tablename__ = "locker_audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), index=True)
    compartment_id: Mapped[int | None] = mapped_column(ForeignKey("compartments.id"))
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("parcels.id"))
    command_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ColdChainExcursion(Base):
    """A zone of a bank above its limit, from the first reading over it to the first back under."""

    __tablename__ = "cold_chain_excursions"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), index=True)
    zone: Mapped[TemperatureClass] = mapped_column(
        Enum(TemperatureClass, native_enum=False, length=16)
    )
    limit_c: Mapped[float]
    started_at: Mapped[datetime]
    last_reading_at: Mapped[datetime]
    max_temp_c: Mapped[float]
    alarm_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None] = mapped_column(index=True)


class ParcelColdChainFlag(Base):
    """A parcel that sat in a zone during an alarmed excursion, with its minutes out."""

    __tablename__ = "parcel_cold_chain_flags"
    __table_args__ = (UniqueConstraint("parcel_id", "excursion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    excursion_id: Mapped[int] = mapped_column(ForeignKey("cold_chain_excursions.id"))
    minutes_out: Mapped[int]
    flagged_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TemperatureSample(Base):
    """A bank's zone temperatures at one moment, kept for the last hours' charts
    (`lockers/temperature_log.py`: one sample per bank every few minutes)."""

    __tablename__ = "locker_temperature_samples"
    __table_args__ = (Index("ix_locker_temperature_samples_bank_at", "bank_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"))
    at: Mapped[datetime]
    zones: Mapped[dict[str, Any]] = mapped_column(JSON)
