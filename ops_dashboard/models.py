"""The dashboard's own tables: alarms, one per (source, type), and their history.

Written only by `ops_dashboard.alarm_rules` (the periodic pass) and operators' acknowledgements
(`ops_dashboard.alarm_states`); every other package's tables are only read.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow


class AlarmState(StrEnum):
    ACTIVE_UNACK = "active_unack"
    ACTIVE_ACK = "active_ack"
    CLEARED_UNACK = "cleared_unack"
    CLEARED_ACK = "cleared_ack"


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


class Alarm(Base):
    """One alarm per (source, type): a repeat updates it, a cause that ends clears it."""

    __tablename__ = "ops_alarms"
    __table_args__ = (UniqueConstraint("source", "type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id"), index=True)
    source: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(40))
    severity: Mapped[Severity] = mapped_column(Enum(Severity, native_enum=False, length=12))
    state: Mapped[AlarmState] = mapped_column(
        Enum(AlarmState, native_enum=False, length=16), index=True
    )
    message: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    count: Mapped[int] = mapped_column(default=1)
    first_raised_at: Mapped[datetime]
    raised_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    ack_comment: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlarmLog(Base):
    """What happened to an alarm: raised, repeated with a new severity, acknowledged, cleared."""

    __tablename__ = "ops_alarm_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("ops_alarms.id"), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(20))
    state: Mapped[AlarmState] = mapped_column(Enum(AlarmState, native_enum=False, length=16))
    severity: Mapped[Severity] = mapped_column(Enum(Severity, native_enum=False, length=12))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    comment: Mapped[str | None] = mapped_column(String(500))
