"""A city: its time zone, currency, depots and delivery-window schedule."""

from datetime import time

from sqlalchemy import ForeignKey, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base


class City(Base):
    __tablename__ = "cities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    country_code: Mapped[str] = mapped_column(String(2))
    depots: Mapped[list["Depot"]] = relationship(back_populates="city", order_by="Depot.id")
    window_slots: Mapped[list["WindowSlot"]] = relationship(
        back_populates="city", order_by="WindowSlot.ready_by_local"
    )


class Depot(Base):
    """A cold store the vans leave from."""

    __tablename__ = "depots"

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(255), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    city: Mapped[City] = relationship(back_populates="depots")


class WindowSlot(Base):
    """One daily delivery window of a city's schedule, in local wall-clock time."""

    __tablename__ = "window_slots"
    __table_args__ = (UniqueConstraint("city_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    ready_by_local: Mapped[time] = mapped_column(Time())
    cutoff_hours_before: Mapped[int]
    pickup_hours_after: Mapped[int]
    city: Mapped[City] = relationship(back_populates="window_slots")
