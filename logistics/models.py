"""Parcels: one per order and temperature class (split when too big), with their compartment."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow
from app.core.enums import CompartmentSize, TemperatureClass


class ParcelStatus(StrEnum):
    PACKED = "packed"
    RESERVED = "reserved"
    LOADED = "loaded"
    READY_FOR_PICKUP = "ready_for_pickup"
    COLLECTED = "collected"
    EXPIRED = "expired"
    RETRIEVED = "retrieved"
    CANCELLED = "cancelled"


class Parcel(Base):
    __tablename__ = "parcels"
    __table_args__ = (UniqueConstraint("order_id", "temperature_class", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("delivery_windows.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    neighborhood_id: Mapped[int] = mapped_column(ForeignKey("neighborhoods.id"), index=True)
    temperature_class: Mapped[TemperatureClass] = mapped_column(
        Enum(TemperatureClass, native_enum=False, length=16)
    )
    sequence: Mapped[int] = mapped_column(default=1)
    volume_ml: Mapped[int]
    weight_g: Mapped[int]
    compartment_size: Mapped[CompartmentSize] = mapped_column(
        Enum(CompartmentSize, native_enum=False, length=8)
    )
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("locker_banks.id"), index=True)
    compartment_id: Mapped[int | None] = mapped_column(ForeignKey("compartments.id"), index=True)
    status: Mapped[ParcelStatus] = mapped_column(
        Enum(ParcelStatus, native_enum=False, length=20), default=ParcelStatus.PACKED, index=True
    )
    pickup_deadline: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
