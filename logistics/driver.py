"""The driver's side of a route: today's routes, arrival and departure, live ETAs, GeoJSON.

A driver sees only the published routes assigned to them; an operator sees every route of their
city. Arrive and depart are idempotent (a repeated tap changes nothing) and each one recomputes
the ETAs of the stops still ahead from the actual progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.cities import queries as city_queries
from app.cities.queries import DepotPlace
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import LockerBankView
from app.orders import delivery as order_delivery
from app.staff.queries import StaffAccount, StaffRole
from app.windows import queries as window_queries
from logistics import handover, lifecycle, van_cold_chain
from logistics.errors import RouteNotFound
from logistics.models import (
    Parcel,
    ParcelStatus,
    Route,
    RouteStatus,
    RouteStop,
    StopStatus,
    Vehicle,
)
from logistics.settings import get_logistics_settings

VISIBLE_TO_DRIVERS = (
    RouteStatus.PUBLISHED,
    RouteStatus.IN_PROGRESS,
    RouteStatus.COMPLETED,
    RouteStatus.COMPLETED_WITH_ALARM,
    RouteStatus.ABORTED,
)
DRIVABLE = (RouteStatus.PUBLISHED, RouteStatus.IN_PROGRESS)
FINISHED = (RouteStatus.COMPLETED, RouteStatus.COMPLETED_WITH_ALARM, RouteStatus.ABORTED)


class StopNotOnRoute(NotFound):
    """The route has no such stop (or it was cancelled)."""

    case = "stop_not_on_route"


class RouteNotDrivable(Conflict):
    """The route is neither published nor in progress: it cannot start or reach a stop."""

    case = "route_not_drivable"


def navigation_link(lat: float, lon: float) -> str:
    """A turn-by-turn link for phones (Google Maps directions to the point)."""
    return f"https://www.google.com/maps/dir/?api=1&destination={lat:.6f},{lon:.6f}"


def _city_of(db_session: Session, route: Route) -> tuple[int, str]:
    """The id and time zone of the route's city (one query)."""
    window = window_queries.window_cutoff_query(route.window_id).subquery()
    row = db_session.execute(
        select(window.c.city_id, city_queries.city_timezone_query(window.c.city_id))
    ).one_or_none()
    assert row is not None
    return row[0], row[1]


def get_for(*, db_session: Session, route_id: int, staff: StaffAccount) -> Route:
    """The route if this staff member may see it (its driver, or an operator of its city)."""
    route = db_session.scalar(
        select(Route).where(Route.id == route_id).options(selectinload(Route.stops))
    )
    if route is None or not _may_see(db_session, route, staff):
        raise RouteNotFound(f"route {route_id} not found", field="route_id")
    return route


def get_own(*, db_session: Session, route_id: int, staff: StaffAccount) -> Route:
    """The route if it is this driver's own (another driver's route is a 404, as a missing one)."""
    route = get_for(db_session=db_session, route_id=route_id, staff=staff)
    if route.driver_id != staff.id:
        raise RouteNotFound(f"route {route_id} not found", field="route_id")
    return route


def _may_see(db_session: Session, route: Route, staff: StaffAccount) -> bool:
    if _city_of(db_session, route)[0] != staff.city_id:
        return False
    if staff.role == StaffRole.OPERATOR:
        return True
    return route.driver_id == staff.id and route.status in VISIBLE_TO_DRIVERS


def routes_today(
    *,
    db_session: Session,
    staff: StaffAccount,
    now: datetime | None = None,
    driver_id: int | None = None,
) -> list[Route]:
    """Routes of the local day (city time) that this driver drives, or all of them for operators."""
    now = now or utcnow()
    timezone = city_queries.city_timezone(db_session, staff.city_id)
    assert timezone is not None
    tz = ZoneInfo(timezone)
    local_midnight = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tz)
    day_start, day_end = local_midnight, local_midnight + timedelta(days=1)
    query = (
        select(Route)
        .where(
            Route.window_id.in_(window_queries.window_ids_of_city(staff.city_id)),
            ((Route.planned_departure >= day_start) & (Route.planned_departure < day_end))
            | (Route.status == RouteStatus.IN_PROGRESS),
        )
        .options(selectinload(Route.stops))
        .order_by(Route.planned_departure, Route.id)
    )
    if staff.role == StaffRole.DRIVER:
        query = query.where(Route.driver_id == staff.id, Route.status.in_(VISIBLE_TO_DRIVERS))
    elif driver_id is not None:
        query = query.where(Route.driver_id == driver_id)
    return list(db_session.scalars(query))


def _stop(route: Route, stop_id: int) -> RouteStop:
    stop = next((s for s in route.stops if s.id == stop_id), None)
    if stop is None or stop.status == StopStatus.CANCELLED:
        raise StopNotOnRoute(f"stop {stop_id} is not on route {route.id}", field="stop_id")
    return stop


def start(*, db_session: Session, route: Route, now: datetime | None = None) -> Route:
    """The van leaves the depot: parcels are loaded, their orders out for delivery (idempotent).

    Refused (409 vehicle_busy / driver_busy) while the van or the driver has another route in
    progress."""
    now = now or utcnow()
    if route.started_at is not None:
        return route
    if route.status not in DRIVABLE:
        raise RouteNotDrivable(f"route {route.id} is {route.status.value}", field="route_id")
    handover.ensure_free_to_start(db_session=db_session, route=route)
    lifecycle.transition(route, RouteStatus.IN_PROGRESS)
    route.started_at = now
    stop_ids = [s.id for s in route.stops]
    if stop_ids:
        reserved = db_session.scalars(
            select(Parcel.id).where(
                Parcel.route_stop_id.in_(stop_ids), Parcel.status == ParcelStatus.RESERVED
            )
        )
        lifecycle.move_parcels(
            db_session=db_session,
            parcel_ids=list(reserved),
            frm=ParcelStatus.RESERVED,
            to=ParcelStatus.LOADED,
        )
        order_delivery.send_out_for_delivery(
            db_session=db_session,
            order_ids=select(Parcel.order_id).where(Parcel.route_stop_id.in_(stop_ids)),
        )
    recompute_etas(route, now)
    db_session.flush()
    return route


def arrive(
    *, db_session: Session, route: Route, stop_id: int, now: datetime | None = None
) -> Route:
    """The van is at the stop (a repeat is a no-op); later ETAs follow; cold parcels reached
    past the van's cold-chain limit are flagged. Refused (409 still_at_stop) while another stop
    of the route is not departed."""
    now = now or utcnow()
    stop = _stop(route, stop_id)
    if stop.arrived_at is not None:
        return route
    if route.status not in DRIVABLE:
        raise RouteNotDrivable(f"route {route.id} is {route.status.value}", field="route_id")
    handover.ensure_can_arrive(route, stop)
    start(db_session=db_session, route=route, now=now)
    lifecycle.transition(stop, StopStatus.ARRIVED)
    stop.arrived_at = now
    van_cold_chain.flag_at_stop(
        db_session=db_session,
        route=route,
        stop=stop,
        limit_minutes=get_logistics_settings().cold_chain_minutes,
    )
    recompute_etas(route, now)
    db_session.flush()
    return route


def fail_parcel(
    *,
    db_session: Session,
    route: Route,
    stop_id: int,
    parcel_id: int,
    reason: str,
) -> Route:
    """The driver could not deposit a parcel at the stop they are at: undelivered, with the
    reason (a repeat is a no-op). The stop may then depart; the parcel stays aboard."""
    stop = _stop(route, stop_id)
    handover.fail_parcel(
        db_session=db_session, route=route, stop=stop, parcel_id=parcel_id, reason=reason
    )
    return route


def depart(
    *, db_session: Session, route: Route, stop_id: int, now: datetime | None = None
) -> Route:
    """The van leaves the stop (a repeat is a no-op); later ETAs follow.

    Only after arriving, and only once each of the stop's parcels is deposited or marked failed
    (409 not_arrived / parcels_not_handed_over). The last departure completes the route, with
    an alarm when parcels are still aboard."""
    now = now or utcnow()
    stop = _stop(route, stop_id)
    if stop.departed_at is not None:
        return route
    outcome = handover.ensure_can_depart(db_session=db_session, stop=stop)
    stop.departed_at = max(now, stop.arrived_at or now)
    lifecycle.transition(stop, outcome)
    finished = (StopStatus.SERVED, StopStatus.FAILED, StopStatus.CANCELLED)
    if all(s.status in finished for s in route.stops):
        handover.complete(db_session=db_session, route=route)
        route.completed_at = now
    recompute_etas(route, now)
    db_session.flush()
    return route


def recompute_etas(route: Route, now: datetime) -> None:
    """ETAs of the stops ahead from actual progress: last event + service + travel, chained."""
    if route.started_at is None:
        return
    free_at: datetime = route.started_at
    first_ahead = True
    for stop in sorted(route.stops, key=lambda s: s.sequence):
        if stop.status == StopStatus.CANCELLED:
            continue
        service = timedelta(seconds=stop.service_s)
        if stop.departed_at is not None:
            free_at = stop.departed_at
            continue
        if stop.arrived_at is not None:
            stop.eta = stop.arrived_at
            begin = max(stop.arrived_at, stop.not_before or stop.arrived_at)
            stop.etd = max(begin + service, now)
            free_at = stop.etd
            first_ahead = False
            continue
        arrival = free_at + timedelta(seconds=stop.travel_s_from_prev)
        if first_ahead:
            arrival = max(arrival, now)
            first_ahead = False
        begin = max(arrival, stop.not_before or arrival)
        stop.eta = arrival
        stop.etd = begin + service
        free_at = stop.etd
    route.eta_return = free_at + timedelta(seconds=route.return_travel_s)


@dataclass(frozen=True)
class ParcelAtStop:
    parcel_id: int
    order_id: int
    temperature_class: str
    compartment_size: str
    compartment_id: int | None
    compartment_label: str | None
    status: str
    failure_reason: str | None = None
    van_minutes_over_limit: int | None = None


@dataclass(frozen=True)
class StopView:
    stop: RouteStop
    bank: LockerBankView
    parcels: list[ParcelAtStop]


@dataclass(frozen=True)
class RouteView:
    """A route with what a driver needs: stops, banks, parcels, compartments, local times."""

    route: Route
    vehicle: Vehicle
    depot: DepotPlace
    timezone: str
    stops: list[StopView]


def view(*, db_session: Session, route: Route) -> RouteView:
    """Everything shown for a route, in a few queries."""
    stops = sorted(
        (s for s in route.stops if s.status != StopStatus.CANCELLED), key=lambda s: s.sequence
    )
    banks = neighborhood_queries.locker_banks_by_ids(
        db_session=db_session, bank_ids={s.bank_id for s in stops}
    )
    by_stop: dict[int, list[ParcelAtStop]] = {s.id: [] for s in stops}
    if stops:
        compartments = neighborhood_queries.compartment_label_query().subquery()
        rows = db_session.execute(
            select(
                Parcel.id,
                Parcel.order_id,
                Parcel.temperature_class,
                Parcel.compartment_size,
                Parcel.compartment_id,
                compartments.c.label,
                Parcel.status,
                Parcel.route_stop_id,
                Parcel.failure_reason,
                Parcel.van_minutes_over_limit,
            )
            .outerjoin(compartments, compartments.c.id == Parcel.compartment_id)
            .where(Parcel.route_stop_id.in_([s.id for s in stops]))
            .order_by(compartments.c.label, Parcel.id)
        ).all()
        for pid, oid, tc, size, comp_id, label, status, stop_id, why, over in rows:
            by_stop[stop_id or 0].append(
                ParcelAtStop(pid, oid, str(tc), str(size), comp_id, label, str(status), why, over)
            )
    vehicle = db_session.get(Vehicle, route.vehicle_id)
    depot = city_queries.depot_place(db_session, route.depot_id)
    assert vehicle is not None and depot is not None
    return RouteView(
        route=route,
        vehicle=vehicle,
        depot=depot,
        timezone=_city_of(db_session, route)[1],
        stops=[StopView(s, banks[s.bank_id], by_stop[s.id]) for s in stops],
    )


def geojson(*, db_session: Session, route: Route) -> dict[str, Any]:
    """The route as a GeoJSON FeatureCollection: its path (LineString) and its stops (Points)."""
    shown = view(db_session=db_session, route=route)
    depot = shown.depot
    path = [[depot.lon, depot.lat]]
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [depot.lon, depot.lat]},
            "properties": {"kind": "depot", "depot_id": depot.id, "name": depot.name},
        }
    ]
    for item in shown.stops:
        bank, stop = item.bank, item.stop
        path.append([bank.lon, bank.lat])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [bank.lon, bank.lat]},
                "properties": {
                    "kind": "stop",
                    "stop_id": stop.id,
                    "sequence": stop.sequence,
                    "bank_id": bank.id,
                    "name": bank.name,
                    "status": StopStatus(stop.status).value,
                    "eta": stop.eta.isoformat(),
                    "parcels": len(item.parcels),
                },
            }
        )
    path.append([depot.lon, depot.lat])
    line = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": path},
        "properties": {
            "kind": "route",
            "route_id": route.id,
            "vehicle_id": route.vehicle_id,
            "status": RouteStatus(route.status).value,
            "distance_m": route.distance_m,
        },
    }
    return {"type": "FeatureCollection", "features": [line, *features]}
