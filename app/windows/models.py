"""Delivery windows: cut-off, ready-by and pickup deadline, stored in UTC."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class WindowStatus(StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class DeliveryWindow(Base):
    __tablename__ = "delivery_windows"
    __table_args__ = (UniqueConstraint("city_id", "local_date", "slot_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    local_date: Mapped[date]
    slot_name: Mapped[str] = mapped_column(String(40))
    cutoff_at: Mapped[datetime]
    ready_by: Mapped[datetime]
    pickup_deadline: Mapped[datetime]
    status: Mapped[WindowStatus] = mapped_column(
        Enum(WindowStatus, native_enum=False, length=16), default=WindowStatus.OPEN
    )
    closed_at: Mapped[datetime | None]
