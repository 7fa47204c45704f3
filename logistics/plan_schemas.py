"""Logistics API schemas of planning: cut-off runs, re-plans and locker capacity."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.enums import CompartmentSize, TemperatureClass
from app.core.limits import DbId
from logistics.locker_capacity import CapacityInfo
from logistics.pipeline import PipelineReport
from logistics.plan_store import PlanReport


class StepRead(BaseModel):
    name: str
    status: str
    attempts: int
    duration_s: float | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    detail: dict[str, Any]
    error: str | None


class UnassignedRead(BaseModel):
    bank_id: int
    reason_code: str
    reason: str
    parcel_count: int
    plan_version: int


class PipelineRunRead(BaseModel):
    """A window's cut-off run: status, each step's timing and counts, unassigned stops."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": 5,
                    "window_id": 7,
                    "status": "succeeded",
                    "attempts": 1,
                    "plan_version": 1,
                    "started_at": "2026-11-23T22:00:02Z",
                    "finished_at": "2026-11-23T22:00:31Z",
                    "error": None,
                    "wall_s": 29.4,
                    "steps": [
                        {
                            "name": "pack",
                            "status": "done",
                            "attempts": 1,
                            "duration_s": 2.31,
                            "started_at": "2026-11-23T22:00:03Z",
                            "finished_at": "2026-11-23T22:00:05Z",
                            "detail": {"parcels_created_now": 21450},
                            "error": None,
                        }
                    ],
                    "unassigned": [
                        {
                            "bank_id": 88,
                            "reason_code": "time_window",
                            "reason": "time window unreachable from any depot",
                            "parcel_count": 14,
                            "plan_version": 1,
                        }
                    ],
                }
            ]
        }
    )

    run_id: int
    window_id: int
    status: str
    attempts: int
    plan_version: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None
    wall_s: float | None = None
    steps: list[StepRead]
    unassigned: list[UnassignedRead]

    @classmethod
    def of(cls, report: PipelineReport) -> "PipelineRunRead":
        """A pipeline report as the API shows it."""
        return cls.model_validate(report, from_attributes=True)


class ReplanRequest(BaseModel):
    """What changed: a van or a locker bank dropped out, or the fleet changed (vans added)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"vehicle_id_out": 3}, {"bank_id_out": 17}, {"fleet_changed": True}]
        },
    )

    vehicle_id_out: DbId | None = None
    bank_id_out: DbId | None = None
    fleet_changed: bool = Field(
        default=False, description="Re-plan with the current fleet (e.g. after adding vans)"
    )


class ReplanRead(BaseModel):
    """The outcome of a re-plan."""

    window_id: int
    plan_version: int
    stops: int
    routes: int
    vehicles_available: int
    parcels_routed: int
    moved_parcels: int
    unassigned: list[UnassignedRead]

    @classmethod
    def of(cls, window_id: int, report: PlanReport) -> "ReplanRead":
        """A plan report as the API shows it."""
        return cls(
            window_id=window_id,
            plan_version=report.plan_version,
            stops=report.stops,
            routes=report.routes,
            vehicles_available=report.vehicles_available,
            parcels_routed=report.parcels_routed,
            moved_parcels=report.moved_parcels,
            unassigned=[
                UnassignedRead(
                    bank_id=u.bank_id,
                    reason_code=u.reason_code,
                    reason=u.reason,
                    parcel_count=u.parcel_count,
                    plan_version=report.plan_version,
                )
                for u in report.unassigned
            ],
        )


class ZoneCapacityRead(BaseModel):
    temperature_class: TemperatureClass
    free_compartments: int
    expected_parcels: int
    remaining_compartments: int
    remaining_by_size: dict[CompartmentSize, int]
    full: bool


class LockerCapacityRead(BaseModel):
    """Whether the neighborhood's lockers still have room for a window, per temperature zone."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "neighborhood_id": 4,
                    "window_id": 7,
                    "zones": [
                        {
                            "temperature_class": "frozen",
                            "free_compartments": 6,
                            "expected_parcels": 6,
                            "remaining_compartments": 0,
                            "remaining_by_size": {"S": 0, "M": 0, "L": 0},
                            "full": True,
                        }
                    ],
                }
            ]
        }
    )

    neighborhood_id: int
    window_id: int
    zones: list[ZoneCapacityRead]

    @classmethod
    def of(
        cls, neighborhood_id: int, window_id: int, info: dict[TemperatureClass, CapacityInfo]
    ) -> "LockerCapacityRead":
        """Capacity per zone as the API shows it."""
        return cls(
            neighborhood_id=neighborhood_id,
            window_id=window_id,
            zones=[
                ZoneCapacityRead(
                    temperature_class=c.temperature_class,
                    free_compartments=c.free_compartments,
                    expected_parcels=c.expected_parcels,
                    remaining_compartments=c.remaining_compartments,
                    remaining_by_size=c.remaining_by_size,
                    full=c.full,
                )
                for c in info.values()
            ],
        )
