"""Neighborhoods and their locker banks with compartments (static data)."""

from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from app.core.enums import CompartmentSize, TemperatureClass


class CompartmentStatus(StrEnum):
    """Moved only through app.neighborhoods.compartments (the allowed-moves table)."""

    FREE = "free"
    RESERVED = "reserved"
    OCCUPIED = "occupied"
    OUT_OF_SERVICE = "out_of_service"


class Neighborhood(Base):
    __tablename__ = "neighborhoods"
    __table_args__ = (UniqueConstraint("city_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(255), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    active: Mapped[bool] = mapped_column(default=True)
    locker_banks: Mapped[list["LockerBank"]] = relationship(
        back_populates="neighborhood", order_by="LockerBank.id"
    )


class LockerBank(Base):
    __tablename__ = "locker_banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    neighborhood_id: Mapped[int] = mapped_column(ForeignKey("neighborhoods.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(255), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    neighborhood: Mapped[Neighborhood] = relationship(back_populates="locker_banks")
    compartments: Mapped[list["Compartment"]] = relationship(
        back_populates="bank", order_by="Compartment.label"
    )


class Compartment(Base):
    __tablename__ = "compartments"
    __table_args__ = (UniqueConstraint("bank_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), index=True)
    label: Mapped[str] = mapped_column(String(10))
    size: Mapped[CompartmentSize] = mapped_column(
        Enum(CompartmentSize, native_enum=False, length=8)
    )
    zone: Mapped[TemperatureClass] = mapped_column(
        Enum(TemperatureClass, native_enum=False, length=16)
    )
    inner_volume_ml: Mapped[int]
    status: Mapped[CompartmentStatus] = mapped_column(
        Enum(CompartmentStatus, native_enum=False, length=20), default=CompartmentStatus.FREE
    )
    bank: Mapped[LockerBank] = relationship(back_populates="compartments")
