"""What the driver's pages show: a route, its load by temperature class, its stops with
navigation links, and each parcel's state at the locker (aboard, waiting for the door, in)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from app.web.session import PageDriver
from app.web.templating import local_time
from driver_app.settings import get_driver_app_settings
from lockers import queries as locker_queries
from logistics import driver as driver_service
from logistics import handover
from logistics.parcels import ParcelStatus

TEMPERATURE_ORDER = ("frozen", "chilled", "ambient")
FAILURE_REASONS = tuple(reason.value for reason in handover.FailureReason)


@dataclass(frozen=True)
class ParcelRow:
    parcel_id: int
    order_id: int
    temperature_class: str
    size: str
    compartment: str | None
    state: str  # aboard | waiting | deposited | failed | done
    failure_reason: str | None


@dataclass(frozen=True)
class StopRow:
    id: int
    sequence: int
    status: str
    bank_id: int
    bank_name: str
    bank_code: str
    address: str
    lat: float
    lon: float
    eta: datetime
    etd: datetime
    arrived: bool
    departed: bool
    nav_url: str
    parcels: list[ParcelRow]

    @property
    def aboard(self) -> int:
        """Parcels of the stop not yet in their compartment nor marked failed."""
        return sum(p.state in ("aboard", "waiting") for p in self.parcels)


@dataclass(frozen=True)
class RouteHead:
    id: int
    status: str
    planned_departure: datetime
    eta_return: datetime


@dataclass(frozen=True)
class RoutePage:
    route: RouteHead
    vehicle_code: str
    vehicle_name: str
    depot_name: str
    stops: list[StopRow]
    manifest: list[tuple[str, int]]
    started: bool
    finished: bool
    current_stop_id: int | None
    next_stop_id: int | None


def nav_url(lat: float, lon: float, label: str) -> str:
    """The stop's navigation link from the configured template (geo: URI by default)."""
    template = get_driver_app_settings().maps_url_template
    return template.format(lat=f"{lat:.6f}", lon=f"{lon:.6f}", label=quote(label, safe=""))


def _parcel_state(status: str, waiting: bool) -> str:
    if status in (ParcelStatus.RESERVED, ParcelStatus.LOADED):
        return "waiting" if waiting else "aboard"
    if status == ParcelStatus.UNDELIVERED:
        return "failed"
    if status == ParcelStatus.READY_FOR_PICKUP:
        return "deposited"
    return "done"


def route_page(db: Session, driver: PageDriver, route_id: int) -> RoutePage:
    """The driver's own route as the driver's pages show it (another driver's route is a 404,
    as a missing one)."""
    route = driver_service.get_own(db_session=db, route_id=route_id, staff=driver)
    shown = driver_service.view(db_session=db, route=route)
    parcel_ids = [p.parcel_id for s in shown.stops for p in s.parcels]
    waiting = locker_queries.parcels_waiting_for_deposit_door(db_session=db, parcel_ids=parcel_ids)
    stops = [
        StopRow(
            id=item.stop.id,
            sequence=item.stop.sequence,
            status=str(item.stop.status),
            bank_id=item.bank.id,
            bank_name=item.bank.name,
            bank_code=item.bank.code,
            address=item.bank.address,
            lat=item.bank.lat,
            lon=item.bank.lon,
            eta=item.stop.eta,
            etd=item.stop.etd,
            arrived=item.stop.arrived_at is not None,
            departed=item.stop.departed_at is not None,
            nav_url=nav_url(item.bank.lat, item.bank.lon, item.bank.name),
            parcels=[
                ParcelRow(
                    parcel_id=p.parcel_id,
                    order_id=p.order_id,
                    temperature_class=p.temperature_class,
                    size=p.compartment_size,
                    compartment=p.compartment_label,
                    state=_parcel_state(p.status, p.parcel_id in waiting),
                    failure_reason=p.failure_reason,
                )
                for p in item.parcels
            ],
        )
        for item in shown.stops
    ]
    load = Counter(p.temperature_class for s in stops for p in s.parcels)
    manifest = sorted(
        load.items(),
        key=lambda kv: TEMPERATURE_ORDER.index(kv[0]) if kv[0] in TEMPERATURE_ORDER else 9,
    )
    current = next((s.id for s in stops if s.arrived and not s.departed), None)
    ahead = next((s.id for s in stops if not s.arrived), None)
    return RoutePage(
        route=RouteHead(route.id, str(route.status), route.planned_departure, route.eta_return),
        vehicle_code=shown.vehicle.code,
        vehicle_name=shown.vehicle.name,
        depot_name=shown.depot.name,
        stops=stops,
        manifest=manifest,
        started=route.started_at is not None,
        finished=route.status in driver_service.FINISHED,
        current_stop_id=current,
        next_stop_id=ahead,
    )


def route_state(page: RoutePage) -> dict[str, Any]:
    """The route's live state as JSON for the phone (ETAs in city time)."""
    return {
        "route_id": page.route.id,
        "status": page.route.status,
        "current_stop_id": page.current_stop_id,
        "stops": [
            {
                "id": s.id,
                "status": s.status,
                "eta": local_time(s.eta),
                "arrived": s.arrived,
                "departed": s.departed,
                "parcels": {str(p.parcel_id): p.state for p in s.parcels},
            }
            for s in page.stops
        ],
    }
