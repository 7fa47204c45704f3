"""Operators' hand edits of a window's routes: move a stop to another van, re-dispatch a route.

Moving a stop takes a pending stop (a locker bank and its parcels) off one van's route and
inserts it where it lengthens the other van's route least; both routes are re-sequenced and
their times recomputed from their planned departure. Refused with a named 409 when the stop is
already done (`stop_done`), its parcels are already on the road (`parcels_loaded`), the other
van is on the road, finished, or on another window's route at that time (`vehicle_busy`), or
it cannot carry the stop's parcels (`temperature_class`, `over_capacity`).

Re-dispatching publishes a route as it now stands: a planned route becomes published, and a
"route.dispatched" outbox event tells the driver's side that its stops changed. Neither
function commits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.cities import queries as city_queries
from app.core.db import utcnow
from app.core.enums import TemperatureClass
from app.core.errors import Conflict, InvalidInput, NotFound
from app.events import service as event_service
from app.neighborhoods import queries as neighborhood_queries
from app.windows import queries as window_queries
from app.windows.queries import WindowView
from logistics import busy, lifecycle
from logistics.errors import RouteNotFound, VehicleNotFound
from logistics.handover import VehicleBusy
from logistics.models import (
    Parcel,
    ParcelStatus,
    Route,
    RouteStatus,
    RouteStop,
    StopStatus,
    Vehicle,
)
from logistics.plan_problem import travel_source
from logistics.settings import LogisticsSettings, get_logistics_settings

DISPATCHED_EVENT = "route.dispatched"
STOP_MOVED_EVENT = "route.stop_moved"
NOT_STARTED = (RouteStatus.PLANNED, RouteStatus.PUBLISHED)
REVIVABLE = (*NOT_STARTED, RouteStatus.CANCELLED)
ABOARD = (ParcelStatus.RESERVED, ParcelStatus.LOADED)


class StopNotFound(NotFound):
    """No route stop with this id in the city."""

    case = "stop_not_found"


class StopAlreadyOnVehicle(InvalidInput):
    """The stop is to move to the van it is already on."""

    case = "stop_already_on_vehicle"


class StopDone(Conflict):
    """The stop was already reached (arrived, served, failed) or cancelled."""

    code = "stop_done"


class ParcelsLoaded(Conflict):
    """The stop's parcels are already on the road in their van."""

    code = "parcels_loaded"


class CannotCarryClass(Conflict):
    """The van has no zone for one of the stop's temperature classes."""

    code = "temperature_class"


class OverCapacity(Conflict):
    """The van's zone would hold more than it can carry."""

    code = "over_capacity"


@dataclass(frozen=True)
class StopMove:
    """What a move did: the stop, the route it left and the route it joined."""

    stop_id: int
    from_route_id: int
    to_route_id: int
    position: int


def move_stop(
    *,
    db_session: Session,
    stop_id: int,
    to_vehicle_id: int,
    city_id: int,
    settings: LogisticsSettings | None = None,
) -> StopMove:
    """Move a pending stop to another van of the city's fleet (its route in the same window)."""
    settings = settings or get_logistics_settings()
    stop = db_session.get(RouteStop, stop_id)
    source = db_session.get(Route, stop.route_id) if stop is not None else None
    window = None if source is None else window_queries.window_view(db_session, source.window_id)
    if stop is None or source is None or window is None or window.city_id != city_id:
        raise StopNotFound(f"stop {stop_id} not found", field="stop_id")
    if stop.status != StopStatus.PENDING or stop.arrived_at is not None:
        raise StopDone(
            f"stop {stop_id} is {StopStatus(stop.status).value}: it cannot move",
            field="stop_id",
            status=StopStatus(stop.status).value,
        )
    vehicle = db_session.get(Vehicle, to_vehicle_id)
    if vehicle is None or vehicle.city_id != city_id or not vehicle.active:
        raise VehicleNotFound(f"van {to_vehicle_id} not found", field="vehicle_id")
    if vehicle.id == source.vehicle_id:
        raise StopAlreadyOnVehicle("the stop is already on this van", field="vehicle_id")
    parcels = list(db_session.scalars(select(Parcel).where(Parcel.route_stop_id == stop.id)))
    if source.status not in NOT_STARTED or any(p.status == ParcelStatus.LOADED for p in parcels):
        raise ParcelsLoaded(
            f"route {source.id} is {RouteStatus(source.status).value}: its parcels are aboard",
            field="stop_id",
        )
    target = _target_route(db_session, window, vehicle, source)
    _ensure_can_carry(db_session, vehicle, target, parcels)

    position = _cheapest_position(db_session, target, stop, settings)
    ordered = _live(target)
    ordered.insert(position, stop)
    with db_session.no_autoflush:  # re-parented before any flush could delete it as an orphan
        source.stops.remove(stop)
        target.stops.append(stop)
    retime(db_session, target, ordered, settings)
    remaining = sorted(source.stops, key=lambda s: s.sequence)
    retime(db_session, source, remaining, settings)
    if not [s for s in remaining if s.status != StopStatus.CANCELLED]:
        lifecycle.transition(source, RouteStatus.CANCELLED)
    db_session.flush()
    event_service.emit(
        db_session=db_session,
        kind=STOP_MOVED_EVENT,
        dedupe_key=f"{STOP_MOVED_EVENT}:{stop.id}:{target.id}:{utcnow().isoformat()}",
        payload={
            "window_id": window.id,
            "stop_id": stop.id,
            "bank_id": stop.bank_id,
            "from_route_id": source.id,
            "to_route_id": target.id,
            "parcel_ids": [p.id for p in parcels],
        },
    )
    return StopMove(stop.id, source.id, target.id, position)


def _target_route(
    db_session: Session, window: WindowView, vehicle: Vehicle, source: Route
) -> Route:
    target = db_session.scalar(
        select(Route)
        .where(Route.window_id == window.id, Route.vehicle_id == vehicle.id)
        .options(selectinload(Route.stops))
    )
    if target is not None and target.status not in REVIVABLE:
        raise VehicleBusy(
            f"van {vehicle.code} is {RouteStatus(target.status).value} on route {target.id}",
            field="vehicle_id",
            other_route_id=target.id,
        )
    span = (source.planned_departure, max(source.planned_return, source.eta_return))
    taken = busy.busy_elsewhere(db_session, window.id, [vehicle]).get(("vehicle", vehicle.id), [])
    if busy.free_span(span[0], span[1], taken) != span:
        raise VehicleBusy(
            f"van {vehicle.code} drives another window's route at that time", field="vehicle_id"
        )
    if target is None:
        target = Route(
            window_id=window.id,
            vehicle_id=vehicle.id,
            depot_id=vehicle.depot_id,
            driver_id=vehicle.default_driver_id,
            status=source.status,
            plan_version=source.plan_version,
            planned_departure=source.planned_departure,
            planned_return=source.planned_departure,
            eta_return=source.planned_departure,
        )
        db_session.add(target)
        db_session.flush()
        busy.ensure_driver_free(db_session=db_session, route=target, driver_id=target.driver_id)
    elif target.status == RouteStatus.CANCELLED:
        lifecycle.transition(target, source.status)
        target.aborted_at = None
        target.planned_departure = min(target.planned_departure, source.planned_departure)
    return target


def _ensure_can_carry(
    db_session: Session, vehicle: Vehicle, target: Route, parcels: list[Parcel]
) -> None:
    load: dict[TemperatureClass, list[int]] = defaultdict(lambda: [0, 0])
    others = [s.id for s in target.stops if s.status == StopStatus.PENDING]
    aboard = list(parcels)
    if others:
        aboard += list(
            db_session.scalars(
                select(Parcel).where(Parcel.route_stop_id.in_(others), Parcel.status.in_(ABOARD))
            )
        )
    for parcel in aboard:
        zone = load[TemperatureClass(parcel.temperature_class)]
        zone[0] += parcel.volume_ml
        zone[1] += parcel.weight_g
    for tc in {TemperatureClass(p.temperature_class) for p in parcels}:
        volume, weight = vehicle.capacity(tc)
        if volume <= 0 or weight <= 0:
            raise CannotCarryClass(
                f"van {vehicle.code} has no {tc.value} zone", field="vehicle_id", zone=tc.value
            )
        if load[tc][0] > volume or load[tc][1] > weight:
            raise OverCapacity(
                f"van {vehicle.code} would carry {load[tc][0] / 1000:.1f} L / "
                f"{load[tc][1] / 1000:.1f} kg {tc.value}; it holds {volume / 1000:.1f} L / "
                f"{weight / 1000:.1f} kg",
                field="vehicle_id",
                zone=tc.value,
            )


def _live(route: Route) -> list[RouteStop]:
    return sorted(
        (s for s in route.stops if s.status != StopStatus.CANCELLED), key=lambda s: s.sequence
    )


def _points(
    db_session: Session, route: Route, stops: list[RouteStop]
) -> tuple[tuple[float, float], dict[int, tuple[float, float]]]:
    depot = city_queries.depot_place(db_session, route.depot_id)
    assert depot is not None
    banks = neighborhood_queries.locker_banks_by_ids(
        db_session=db_session, bank_ids={s.bank_id for s in stops}
    )
    return (depot.lat, depot.lon), {b.id: (b.lat, b.lon) for b in banks.values()}


def _cheapest_position(
    db_session: Session, route: Route, stop: RouteStop, settings: LogisticsSettings
) -> int:
    """Where inserting the stop among the route's stops adds the least travel."""
    ordered = _live(route)
    depot, where = _points(db_session, route, [*ordered, stop])
    path = [depot, *(where[s.bank_id] for s in ordered), depot]
    durations, _ = travel_source(settings).matrix([*path, where[stop.bank_id]])
    new = len(path)
    first_free = max((i + 1 for i, s in enumerate(ordered) if s.arrived_at is not None), default=0)
    best, best_cost = len(ordered), float("inf")
    for i in range(first_free, len(ordered) + 1):
        cost = durations[i][new] + durations[new][i + 1] - durations[i][i + 1]
        if cost < best_cost:
            best, best_cost = i, cost
    return best


def retime(
    db_session: Session,
    route: Route,
    ordered: list[RouteStop],
    settings: LogisticsSettings | None = None,
) -> None:
    """Number the stops in this order and chain their times from the planned departure."""
    settings = settings or get_logistics_settings()
    live = [s for s in ordered if s.status != StopStatus.CANCELLED]
    ordered = [*live, *(s for s in route.stops if s.status == StopStatus.CANCELLED)]
    depot, where = _points(db_session, route, live)
    path = [depot, *(where[s.bank_id] for s in live), depot]
    durations, meters = travel_source(settings).matrix(path)
    free_at: datetime = route.planned_departure
    for index, stop in enumerate(live):
        stop.sequence = index + 1
        stop.travel_s_from_prev = int(round(durations[index][index + 1]))
        stop.distance_m_from_prev = int(round(meters[index][index + 1]))
        arrival = free_at + timedelta(seconds=stop.travel_s_from_prev)
        begin = max(arrival, stop.not_before or arrival)
        stop.planned_arrival = stop.eta = arrival
        stop.planned_start = begin
        stop.etd = begin + timedelta(seconds=stop.service_s)
        free_at = stop.etd
    for extra, stop in enumerate(s for s in ordered if s.status == StopStatus.CANCELLED):
        stop.sequence = len(live) + extra + 1
    last = len(live)
    route.return_travel_s = int(round(durations[last][last + 1]))
    route.planned_return = route.eta_return = free_at + timedelta(seconds=route.return_travel_s)
    route.travel_s = sum(s.travel_s_from_prev for s in live) + route.return_travel_s
    route.distance_m = sum(s.distance_m_from_prev for s in live) + int(
        round(meters[last][last + 1])
    )


def redispatch(*, db_session: Session, route_id: int, city_id: int) -> Route:
    """Publish the route as it stands and tell its driver's side ("route.dispatched")."""
    route = db_session.get(Route, route_id)
    window = None if route is None else window_queries.window_view(db_session, route.window_id)
    if route is None or window is None or window.city_id != city_id:
        raise RouteNotFound(f"route {route_id} not found", field="route_id")
    if route.status == RouteStatus.PLANNED:
        lifecycle.transition(route, RouteStatus.PUBLISHED)
    elif route.status not in (RouteStatus.PUBLISHED, RouteStatus.IN_PROGRESS):
        raise lifecycle.IllegalTransition(
            f"route {route.id} is {RouteStatus(route.status).value}: nothing to dispatch",
            field="route_id",
        )
    stops = _live(route)
    event_service.emit(
        db_session=db_session,
        kind=DISPATCHED_EVENT,
        dedupe_key=f"{DISPATCHED_EVENT}:{route.id}:{utcnow().isoformat()}",
        payload={
            "window_id": route.window_id,
            "route_id": route.id,
            "vehicle_id": route.vehicle_id,
            "driver_id": route.driver_id,
            "stops": [
                {"stop_id": s.id, "bank_id": s.bank_id, "eta": s.eta.isoformat()} for s in stops
            ],
        },
    )
    db_session.flush()
    return route
