"""Logistics tables: parcels, the van fleet, routes with their stops, and cut-off pipeline runs."""

from datetime import datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
    UNDELIVERED = "undelivered"


class Parcel(Base):
    __tablename__ = "parcels"
    # Indexes cost every parcel insert and move (23,000 a cut-off): the unique key serves
    # lookups by order, and bank, compartment and route stop are indexed only where set (the
    # packed parcels written at the cut-off have none; every query on them names a value).
    # One foreign key for the order and the three columns copied from it: a single parent
    # lookup per parcel written (instead of four), and the copies always agree with the order.
    __table_args__ = (
        ForeignKeyConstraint(
            ["order_id", "window_id", "resident_id", "neighborhood_id"],
            ["orders.id", "orders.window_id", "orders.resident_id", "orders.neighborhood_id"],
        ),
        UniqueConstraint("order_id", "temperature_class", "sequence"),
        *(
            Index(
                f"ix_parcels_{column}",
                column,
                postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"),
            )
            for column in ("bank_id", "compartment_id", "route_stop_id")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int]
    window_id: Mapped[int] = mapped_column(index=True)
    resident_id: Mapped[int] = mapped_column(index=True)
    neighborhood_id: Mapped[int] = mapped_column(index=True)
    temperature_class: Mapped[TemperatureClass] = mapped_column(
        Enum(TemperatureClass, native_enum=False, length=16)
    )
    sequence: Mapped[int] = mapped_column(default=1)
    volume_ml: Mapped[int]
    weight_g: Mapped[int]
    compartment_size: Mapped[CompartmentSize] = mapped_column(
        Enum(CompartmentSize, native_enum=False, length=8)
    )
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("locker_banks.id"))
    compartment_id: Mapped[int | None] = mapped_column(ForeignKey("compartments.id"))
    status: Mapped[ParcelStatus] = mapped_column(
        Enum(ParcelStatus, native_enum=False, length=20), default=ParcelStatus.PACKED, index=True
    )
    # Why the parcel has no compartment yet (too big for any, every bank full); None otherwise.
    unplaced_reason: Mapped[str | None] = mapped_column(String(200))
    # Why the parcel will not reach its locker this window (undelivered); None otherwise.
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    # Chilled or frozen parcel handed over after longer in the van than the cold-chain limit:
    # by how many minutes (rounded up); None otherwise.
    van_minutes_over_limit: Mapped[int | None]
    route_stop_id: Mapped[int | None] = mapped_column(ForeignKey("route_stops.id"))
    reserved_at: Mapped[datetime | None]
    pickup_deadline: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Vehicle(Base):
    """A refrigerated van of a city's fleet: its depot, capacity per zone, shift and fixed cost."""

    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    ambient_volume_ml: Mapped[int] = mapped_column(default=0)
    ambient_weight_g: Mapped[int] = mapped_column(default=0)
    chilled_volume_ml: Mapped[int] = mapped_column(default=0)
    chilled_weight_g: Mapped[int] = mapped_column(default=0)
    frozen_volume_ml: Mapped[int] = mapped_column(default=0)
    frozen_weight_g: Mapped[int] = mapped_column(default=0)
    shift_start_local: Mapped[time] = mapped_column(Time())
    shift_end_local: Mapped[time] = mapped_column(Time())
    fixed_cost_minor: Mapped[int] = mapped_column(default=0)
    default_driver_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def capacity(self, temperature_class: TemperatureClass) -> tuple[int, int]:
        """(volume_ml, weight_g) the van carries in one temperature zone."""
        tc = TemperatureClass(temperature_class).value
        return int(getattr(self, f"{tc}_volume_ml")), int(getattr(self, f"{tc}_weight_g"))


class RouteStatus(StrEnum):
    PLANNED = "planned"
    PUBLISHED = "published"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    COMPLETED_WITH_ALARM = "completed_with_alarm"
    ABORTED = "aborted"
    CANCELLED = "cancelled"


class Route(Base):
    """One van's trip for one window; re-plans rewrite the stops not yet served."""

    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("window_id", "vehicle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("delivery_windows.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    status: Mapped[RouteStatus] = mapped_column(
        Enum(RouteStatus, native_enum=False, length=24), default=RouteStatus.PLANNED, index=True
    )
    plan_version: Mapped[int] = mapped_column(default=1)
    planned_departure: Mapped[datetime]
    planned_return: Mapped[datetime]
    eta_return: Mapped[datetime]
    return_travel_s: Mapped[int] = mapped_column(default=0)
    distance_m: Mapped[int] = mapped_column(default=0)
    travel_s: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    aborted_at: Mapped[datetime | None]
    # Set when the route completed with parcels still aboard: why, and how many.
    alarm: Mapped[str | None] = mapped_column(String(200))
    alarm_parcels: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    stops: Mapped[list["RouteStop"]] = relationship(
        back_populates="route", order_by="RouteStop.sequence", cascade="all, delete-orphan"
    )


class StopStatus(StrEnum):
    PENDING = "pending"
    ARRIVED = "arrived"
    SERVED = "served"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RouteStop(Base):
    """A locker bank on a route: planned times, the current ETA, and actual progress."""

    __tablename__ = "route_stops"

    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), index=True)
    sequence: Mapped[int]
    status: Mapped[StopStatus] = mapped_column(
        Enum(StopStatus, native_enum=False, length=16), default=StopStatus.PENDING
    )
    travel_s_from_prev: Mapped[int] = mapped_column(default=0)
    distance_m_from_prev: Mapped[int] = mapped_column(default=0)
    service_s: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime | None]
    planned_arrival: Mapped[datetime]
    planned_start: Mapped[datetime]
    eta: Mapped[datetime]
    etd: Mapped[datetime]
    arrived_at: Mapped[datetime | None]
    departed_at: Mapped[datetime | None]
    route: Mapped[Route] = relationship(back_populates="stops")


class UnassignedStop(Base):
    """A bank's parcels no route serves in a plan, with the solver's reason (for operators)."""

    __tablename__ = "unassigned_stops"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("delivery_windows.id"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), index=True)
    plan_version: Mapped[int] = mapped_column(default=1)
    reason_code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(200))
    parcel_count: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PipelineRun(Base):
    """The cut-off of one window: one row, resumed by every re-run until it succeeds."""

    __tablename__ = "pipeline_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("delivery_windows.id"), unique=True)
    status: Mapped[RunStatus] = mapped_column(
        Enum(RunStatus, native_enum=False, length=16), default=RunStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    plan_version: Mapped[int] = mapped_column(default=1)
    lease_until: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    steps: Mapped[list["PipelineStep"]] = relationship(
        back_populates="run", order_by="PipelineStep.position", cascade="all, delete-orphan"
    )


class PipelineStep(Base):
    """One step of a run (close, pack, reserve, route, publish): status, timing, counts."""

    __tablename__ = "pipeline_steps"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id"), index=True)
    name: Mapped[str] = mapped_column(String(20))
    position: Mapped[int]
    status: Mapped[StepStatus] = mapped_column(
        Enum(StepStatus, native_enum=False, length=16), default=StepStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    run: Mapped[PipelineRun] = relationship(back_populates="steps")


class DriverActionReceipt(Base):
    """One driver action from the phone, applied once by its id (`logistics/driver_actions.py`):
    a replay of the same id answers what the first time answered."""

    __tablename__ = "driver_action_receipts"

    action_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    stop_id: Mapped[int | None]
    parcel_id: Mapped[int | None]
    device_time: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int]
    error_code: Mapped[str | None] = mapped_column(String(60))
    message: Mapped[str | None] = mapped_column(String(300))
    command_id: Mapped[str | None] = mapped_column(String(40))
