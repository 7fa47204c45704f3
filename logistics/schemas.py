"""Logistics API schemas: vans, routes for drivers, parcels failed at a stop.

Cut-off runs, re-plans and locker capacity: `logistics.plan_schemas`.
"""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from app.core.enums import CompartmentSize, TemperatureClass
from app.core.limits import MAX_INT, DbId, LocalTime, SafeName
from logistics.driver import RouteView, navigation_link
from logistics.handover import FailureReason
from logistics.models import Vehicle

_VEHICLE_EXAMPLE: dict[str, Any] = {
    "depot_id": 1,
    "code": "VAN-07",
    "name": "Refrigerated van 7",
    "ambient_volume_ml": 1_500_000,
    "ambient_weight_g": 400_000,
    "chilled_volume_ml": 2_500_000,
    "chilled_weight_g": 600_000,
    "frozen_volume_ml": 800_000,
    "frozen_weight_g": 250_000,
    "shift_start_local": "05:00",
    "shift_end_local": "14:00",
    "fixed_cost_minor": 30000,
    "default_driver_id": 12,
}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VehicleCreate(_Input):
    """A van of the operator's city fleet; capacities are per temperature zone."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_VEHICLE_EXAMPLE]})

    depot_id: DbId
    code: str = Field(min_length=1, max_length=40)
    name: SafeName = Field("", max_length=120)
    ambient_volume_ml: int = Field(0, ge=0, le=MAX_INT)
    ambient_weight_g: int = Field(0, ge=0, le=MAX_INT)
    chilled_volume_ml: int = Field(0, ge=0, le=MAX_INT)
    chilled_weight_g: int = Field(0, ge=0, le=MAX_INT)
    frozen_volume_ml: int = Field(0, ge=0, le=MAX_INT)
    frozen_weight_g: int = Field(0, ge=0, le=MAX_INT)
    shift_start_local: LocalTime
    shift_end_local: LocalTime
    fixed_cost_minor: int = Field(0, ge=0, le=MAX_INT)
    default_driver_id: DbId | None = None


class VehicleUpdate(_Input):
    """Fields to change on a van; left out = unchanged."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"active": False}, {"default_driver_id": 3}]},
    )

    depot_id: DbId | None = None
    name: SafeName | None = Field(None, max_length=120)
    ambient_volume_ml: int | None = Field(None, ge=0, le=MAX_INT)
    ambient_weight_g: int | None = Field(None, ge=0, le=MAX_INT)
    chilled_volume_ml: int | None = Field(None, ge=0, le=MAX_INT)
    chilled_weight_g: int | None = Field(None, ge=0, le=MAX_INT)
    frozen_volume_ml: int | None = Field(None, ge=0, le=MAX_INT)
    frozen_weight_g: int | None = Field(None, ge=0, le=MAX_INT)
    shift_start_local: LocalTime | None = None
    shift_end_local: LocalTime | None = None
    fixed_cost_minor: int | None = Field(None, ge=0, le=MAX_INT)
    default_driver_id: DbId | None = None
    active: bool | None = None


class VehicleRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [{"id": 3, "city_id": 1, "active": True, **_VEHICLE_EXAMPLE}]
        },
    )

    id: int
    city_id: int
    depot_id: int
    code: str
    name: str
    ambient_volume_ml: int
    ambient_weight_g: int
    chilled_volume_ml: int
    chilled_weight_g: int
    frozen_volume_ml: int
    frozen_weight_g: int
    shift_start_local: LocalTime
    shift_end_local: LocalTime
    fixed_cost_minor: int
    default_driver_id: int | None
    active: bool

    @classmethod
    def of(cls, vehicle: Vehicle) -> "VehicleRead":
        """The van as the API shows it."""
        return cls.model_validate(vehicle)


class ParcelAtStopRead(BaseModel):
    parcel_id: int
    order_id: int
    temperature_class: TemperatureClass
    compartment_size: CompartmentSize
    compartment_id: int | None
    compartment_label: str | None
    status: str
    failure_reason: str | None = None
    van_minutes_over_limit: int | None = Field(
        default=None,
        description="Chilled or frozen parcel reached past the van's cold-chain limit: by how "
        "many minutes",
    )


class RouteStopRead(BaseModel):
    """A stop: ETAs in UTC and in city time, the bank, its parcels, a navigation link."""

    id: int
    sequence: int
    status: str
    bank_id: int
    bank_name: str
    address: str
    lat: float
    lon: float
    navigation_url: str
    planned_arrival: dt.datetime
    eta: dt.datetime
    eta_local: dt.datetime
    etd: dt.datetime
    etd_local: dt.datetime
    arrived_at: dt.datetime | None
    departed_at: dt.datetime | None
    parcels: list[ParcelAtStopRead]


class DepotRead(BaseModel):
    id: int
    name: str
    lat: float
    lon: float


class RouteRead(BaseModel):
    """A van's route for a window, with ordered stops."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 41,
                    "window_id": 7,
                    "vehicle_id": 3,
                    "vehicle_code": "VAN-07",
                    "driver_id": 12,
                    "status": "published",
                    "plan_version": 1,
                    "timezone": "Asia/Shanghai",
                    "planned_departure": "2026-11-24T00:10:00Z",
                    "planned_departure_local": "2026-11-24T08:10:00+08:00",
                    "eta_return": "2026-11-24T02:40:00Z",
                    "eta_return_local": "2026-11-24T10:40:00+08:00",
                    "distance_m": 38250,
                    "travel_s": 5500,
                    "started_at": None,
                    "completed_at": None,
                    "depot": {"id": 1, "name": "North cold store", "lat": 31.3, "lon": 121.4},
                    "stops": [
                        {
                            "id": 301,
                            "sequence": 1,
                            "status": "pending",
                            "bank_id": 17,
                            "bank_name": "Lakeside lockers",
                            "address": "8 Lake Rd",
                            "lat": 31.25,
                            "lon": 121.45,
                            "navigation_url": "https://www.google.com/maps/dir/?api=1&destination=31.250000,121.450000",
                            "planned_arrival": "2026-11-24T00:25:00Z",
                            "eta": "2026-11-24T00:25:00Z",
                            "eta_local": "2026-11-24T08:25:00+08:00",
                            "etd": "2026-11-24T00:40:00Z",
                            "etd_local": "2026-11-24T08:40:00+08:00",
                            "arrived_at": None,
                            "departed_at": None,
                            "parcels": [
                                {
                                    "parcel_id": 9001,
                                    "order_id": 5003,
                                    "temperature_class": "chilled",
                                    "compartment_size": "M",
                                    "compartment_id": 880,
                                    "compartment_label": "C12",
                                    "status": "reserved",
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    id: int
    window_id: int
    vehicle_id: int
    vehicle_code: str
    driver_id: int | None
    status: str
    plan_version: int
    timezone: str
    planned_departure: dt.datetime
    planned_departure_local: dt.datetime
    eta_return: dt.datetime
    eta_return_local: dt.datetime
    distance_m: int
    travel_s: int
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    alarm: str | None = Field(
        default=None, description="Set when the route completed with parcels still aboard"
    )
    alarm_parcels: int = 0
    depot: DepotRead
    stops: list[RouteStopRead]

    @classmethod
    def of(cls, shown: RouteView) -> "RouteRead":
        """A route view as the API shows it, with local times in the city's zone."""
        tz = ZoneInfo(shown.timezone)
        route = shown.route
        return cls(
            id=route.id,
            window_id=route.window_id,
            vehicle_id=route.vehicle_id,
            vehicle_code=shown.vehicle.code,
            driver_id=route.driver_id,
            status=str(route.status),
            plan_version=route.plan_version,
            timezone=shown.timezone,
            planned_departure=route.planned_departure,
            planned_departure_local=route.planned_departure.astimezone(tz),
            eta_return=route.eta_return,
            eta_return_local=route.eta_return.astimezone(tz),
            distance_m=route.distance_m,
            travel_s=route.travel_s,
            started_at=route.started_at,
            completed_at=route.completed_at,
            alarm=route.alarm,
            alarm_parcels=route.alarm_parcels,
            depot=DepotRead(
                id=shown.depot.id, name=shown.depot.name, lat=shown.depot.lat, lon=shown.depot.lon
            ),
            stops=[
                RouteStopRead(
                    id=item.stop.id,
                    sequence=item.stop.sequence,
                    status=str(item.stop.status),
                    bank_id=item.bank.id,
                    bank_name=item.bank.name,
                    address=item.bank.address,
                    lat=item.bank.lat,
                    lon=item.bank.lon,
                    navigation_url=navigation_link(item.bank.lat, item.bank.lon),
                    planned_arrival=item.stop.planned_arrival,
                    eta=item.stop.eta,
                    eta_local=item.stop.eta.astimezone(tz),
                    etd=item.stop.etd,
                    etd_local=item.stop.etd.astimezone(tz),
                    arrived_at=item.stop.arrived_at,
                    departed_at=item.stop.departed_at,
                    parcels=[
                        ParcelAtStopRead(
                            parcel_id=p.parcel_id,
                            order_id=p.order_id,
                            temperature_class=TemperatureClass(p.temperature_class),
                            compartment_size=CompartmentSize(p.compartment_size),
                            compartment_id=p.compartment_id,
                            compartment_label=p.compartment_label,
                            status=p.status,
                            failure_reason=p.failure_reason,
                            van_minutes_over_limit=p.van_minutes_over_limit,
                        )
                        for p in item.parcels
                    ],
                )
                for item in shown.stops
            ],
        )


class RouteDriverUpdate(_Input):
    """Assign (or unassign, null) the driver of a route."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"driver_id": 12}]})

    driver_id: DbId | None


class ParcelFailRequest(_Input):
    """Why the driver could not deposit the parcel at this stop."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "locker_offline"}]},
    )

    reason: FailureReason
    note: str | None = Field(default=None, max_length=120)
