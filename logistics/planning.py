"""Planning: reserved parcels and the van fleet -> a solver Problem -> stored routes and stops.

Stops are locker banks with parcels (split when one bank's load exceeds the biggest van);
vans come from the city's fleet (their depot, capacity per zone in litres and kilograms, shift,
fixed cost converted to driving seconds); times are seconds after `t0`, the moment the vans may
leave (packing done). A stop must start service early enough to finish before the window's
ready-by. The cold-chain limit (time from a van leaving its depot to its last chilled or
frozen deposit) is the setting `LOGISTICS_COLD_CHAIN_MINUTES` (default 180), used as is: it is
how long the refrigerated van keeps parcels in temperature. It deliberately does not come from
products' `max_minutes_out`, which is how long a product may be OUT of its temperature (20
minutes for ice cream): on board a refrigerated van it is in temperature, and taking the
strictest product's value left most of a city unserved. Stops the solver cannot serve are
stored with the reason and emitted as "route.unassigned" events; nothing is dropped silently.

Re-planning (a van or a bank drops out) keeps served stops as they are, pins parcels already
loaded on a van still driving to that van (a capacity dimension only that van has), starts such
vans from where they are now, and re-solves only what remains.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from app.cities.models import City, Depot
from app.core.db import utcnow
from app.core.enums import TemperatureClass
from app.core.errors import InvalidInput, NotFound
from app.events import service as event_service
from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods.models import CompartmentStatus, LockerBank, Neighborhood
from app.windows.models import DeliveryWindow
from app.windows.schedule import local_to_utc, zone
from logistics import busy as fleet_busy
from logistics import handover, lifecycle, reservation
from logistics.models import (
    Parcel,
    ParcelStatus,
    PipelineRun,
    Route,
    RouteStatus,
    RouteStop,
    StopStatus,
    UnassignedStop,
    Vehicle,
)
from logistics.settings import LogisticsSettings, get_logistics_settings
from logistics.solver import Depot as SolverDepot
from logistics.solver import Problem, Result, solve
from logistics.solver import Stop as SolverStop
from logistics.solver import Vehicle as SolverVehicle
from logistics.solver.travel import GreatCircleTravel, OsrmTravel, TravelTimeSource

COLD = (TemperatureClass.CHILLED, TemperatureClass.FROZEN)
FRESH = "fresh"
BIG = 1e9

ACTIVE_PARCEL = (ParcelStatus.RESERVED, ParcelStatus.LOADED)
LIVE_ROUTES = (RouteStatus.PLANNED, RouteStatus.PUBLISHED, RouteStatus.IN_PROGRESS)


@dataclass(frozen=True)
class ParcelLoad:
    """What the planner needs of a parcel."""

    id: int
    bank_id: int
    temperature_class: TemperatureClass
    volume_ml: int
    weight_g: int
    pinned_vehicle_id: int | None = None


@dataclass
class StopGroup:
    """Parcels for one bank carried together: one solver stop."""

    key: str
    bank_id: int
    pinned_vehicle_id: int | None
    parcels: list[ParcelLoad] = field(default_factory=list)

    def demand(self) -> dict[str, float]:
        """Litres and kilograms per temperature class, plus the pin/fresh marker."""
        amounts: dict[str, float] = defaultdict(float)
        for p in self.parcels:
            tc = TemperatureClass(p.temperature_class).value
            amounts[f"{tc}_l"] += p.volume_ml / 1000
            amounts[f"{tc}_kg"] += p.weight_g / 1000
        return dict(amounts)

    @property
    def cold(self) -> bool:
        """Whether a chilled or frozen parcel is deposited here."""
        return any(p.temperature_class in COLD for p in self.parcels)


@dataclass(frozen=True)
class VanStart:
    """Where and when a van can start: at its depot, or (mid-route) at a bank."""

    vehicle: Vehicle
    available_from: datetime
    at_bank_id: int | None = None
    cold_elapsed_s: float = 0.0
    takes_fresh: bool = True
    route: Route | None = None


@dataclass(frozen=True)
class UnassignedInfo:
    """A stop no route serves, for reports."""

    bank_id: int
    reason_code: str
    reason: str
    parcel_count: int


@dataclass
class PlanReport:
    """What a planning pass produced."""

    plan_version: int
    stops: int = 0
    routes: int = 0
    vehicles_available: int = 0
    parcels_routed: int = 0
    distance_m: int = 0
    solver_runtime_s: float = 0.0
    skipped: bool = False
    unassigned: list[UnassignedInfo] = field(default_factory=list)
    moved_parcels: int = 0


def travel_source(settings: LogisticsSettings) -> TravelTimeSource:
    """The configured travel-time source: great-circle by default, OSRM when configured."""
    if settings.travel_source == "osrm" and settings.osrm_url:
        return OsrmTravel(settings.osrm_url)
    return GreatCircleTravel(speed_kmh=settings.speed_kmh, detour_factor=settings.detour_factor)


def _window(db_session: Session, window_id: int) -> DeliveryWindow:
    window = db_session.get(DeliveryWindow, window_id)
    if window is None:
        raise NotFound(f"delivery window {window_id} does not exist", field="window_id")
    return window


def cold_chain_limit_s(settings: LogisticsSettings) -> float:
    """Seconds a refrigerated van may take from leaving to its last cold deposit (the setting)."""
    return settings.cold_chain_minutes * 60.0


def shift_bounds(
    vehicle: Vehicle, window: DeliveryWindow, tz_name: str
) -> tuple[datetime, datetime]:
    """The van's shift on the window's local date, in UTC (an end before the start is next day)."""
    tz = zone(tz_name)
    start = local_to_utc(datetime.combine(window.local_date, vehicle.shift_start_local), tz)
    end_day = window.local_date
    if vehicle.shift_end_local <= vehicle.shift_start_local:
        end_day = end_day + timedelta(days=1)
    end = local_to_utc(datetime.combine(end_day, vehicle.shift_end_local), tz)
    return start, end


def group_stops(parcels: Sequence[ParcelLoad], capacity_max: dict[str, float]) -> list[StopGroup]:
    """Parcels by bank (and pinned van), split where one group would exceed the biggest van."""
    by_key: dict[tuple[int, int | None], list[ParcelLoad]] = defaultdict(list)
    for p in parcels:
        by_key[(p.bank_id, p.pinned_vehicle_id)].append(p)
    groups: list[StopGroup] = []
    for (bank_id, pinned), items in sorted(
        by_key.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
    ):
        chunks: list[StopGroup] = []
        current = StopGroup(key="", bank_id=bank_id, pinned_vehicle_id=pinned)
        for p in sorted(items, key=lambda x: x.id):
            trial = StopGroup(key="", bank_id=bank_id, pinned_vehicle_id=pinned)
            trial.parcels = [*current.parcels, p]
            over = any(v > capacity_max.get(k, 0.0) + 1e-9 for k, v in trial.demand().items())
            if over and current.parcels:
                chunks.append(current)
                current = StopGroup(key="", bank_id=bank_id, pinned_vehicle_id=pinned)
            current.parcels.append(p)
        chunks.append(current)
        for i, chunk in enumerate(chunks):
            chunk.key = f"b{bank_id}" + (f"-v{pinned}" if pinned else "") + (f"-{i}" if i else "")
            groups.append(chunk)
    return groups


def _van_capacity(vehicle: Vehicle) -> dict[str, float]:
    capacity: dict[str, float] = {}
    for tc in TemperatureClass:
        volume, weight = vehicle.capacity(tc)
        capacity[f"{tc.value}_l"] = volume / 1000
        capacity[f"{tc.value}_kg"] = weight / 1000
    return capacity


def _solve_and_store(
    db_session: Session,
    *,
    window: DeliveryWindow,
    parcels: Sequence[ParcelLoad],
    vans: Sequence[VanStart],
    t0: datetime,
    plan_version: int,
    new_route_status: RouteStatus,
    settings: LogisticsSettings,
    time_limit_s: float,
    report: PlanReport,
) -> None:
    """Build the Problem, solve it, and store routes, stops, parcel links and unassigned stops."""
    city = db_session.get(City, window.city_id)
    assert city is not None
    ready_by = window.ready_by
    usable: list[tuple[VanStart, datetime, datetime]] = []
    busy = fleet_busy.busy_elsewhere(db_session, window.id, [van.vehicle for van in vans])
    drivers_taken = {van.route.driver_id for van in vans if van.route is not None}
    for van in sorted(vans, key=lambda v: (v.route is None, v.vehicle.id)):
        start, end = shift_bounds(van.vehicle, window, city.timezone)
        begin = max(start, van.available_from, t0)
        if van.route is None:
            # A new route: its van and its driver must be free (one route at a time each).
            driver_id = van.vehicle.default_driver_id
            if driver_id is not None and driver_id in drivers_taken:
                continue
            spans = busy.get(("vehicle", van.vehicle.id), []) + busy.get(("driver", driver_id), [])
            begin, end = fleet_busy.free_span(begin, end, spans)
            if end > begin:
                drivers_taken.add(driver_id)
        if end > begin:
            usable.append((van, begin, end))
    report.vehicles_available = len(usable)
    fresh_max: dict[str, float] = defaultdict(float)
    for van, _, _ in usable:
        if van.takes_fresh:
            for k, v in _van_capacity(van.vehicle).items():
                fresh_max[k] = max(fresh_max[k], v)
    pinned_caps = {van.vehicle.id: _van_capacity(van.vehicle) for van, _, _ in usable}
    groups: list[StopGroup] = []
    fresh = [p for p in parcels if p.pinned_vehicle_id is None]
    groups.extend(group_stops(fresh, fresh_max))
    for vid, caps in pinned_caps.items():
        mine = [p for p in parcels if p.pinned_vehicle_id == vid]
        if mine:
            groups.extend(group_stops(mine, caps))
    report.stops = len(groups)
    if not groups:
        return

    service = {
        g.key: settings.service_fixed_s + settings.service_per_parcel_s * len(g.parcels)
        for g in groups
    }
    rejected: dict[str, tuple[str, str]] = {}
    for g in groups:
        latest = (ready_by - t0).total_seconds() - service[g.key]
        if latest < 0:
            rejected[g.key] = (
                "ready_by_passed",
                "the window's ready-by cannot be met: vans leave too late",
            )
    if not usable:
        for g in groups:
            rejected.setdefault(g.key, ("no_vehicle", "no van of the fleet is available"))
    routable = [g for g in groups if g.key not in rejected]
    result: Result | None = None
    problem: Problem | None = None
    points_index: dict[tuple[str, int], int] = {}
    if routable:
        problem, points_index = _problem(
            db_session, window, routable, usable, t0, ready_by, service, settings
        )
        try:
            result = solve(
                problem, time_limit_s=time_limit_s, seed=0, workers=settings.solver_workers
            )
        except RuntimeError:
            for g in routable:
                rejected[g.key] = ("no_solution", "the solver found no solution in its time limit")
            result = None
    by_key = {g.key: g for g in groups}
    van_by_key = {f"van{van.vehicle.id}": van for van, _, _ in usable}
    if result is not None and problem is not None:
        report.solver_runtime_s = result.runtime_s
        for u in result.unassigned:
            rejected[u.stop_id] = (u.reason.name.lower(), u.reason.value)
        _store_routes(
            db_session,
            window=window,
            result=result,
            problem=problem,
            groups=by_key,
            vans=van_by_key,
            t0=t0,
            plan_version=plan_version,
            new_route_status=new_route_status,
            service=service,
            report=report,
        )
    _store_unassigned(db_session, window, by_key, rejected, plan_version, report)


def _problem(
    db_session: Session,
    window: DeliveryWindow,
    groups: Sequence[StopGroup],
    usable: Sequence[tuple[VanStart, datetime, datetime]],
    t0: datetime,
    ready_by: datetime,
    service: dict[str, int],
    settings: LogisticsSettings,
) -> tuple[Problem, dict[tuple[str, int], int]]:
    """The solver Problem over depots, stop banks and mid-route van positions."""
    depot_ids = sorted({van.vehicle.depot_id for van, _, _ in usable})
    bank_ids = sorted(
        {g.bank_id for g in groups} | {v.at_bank_id for v, _, _ in usable if v.at_bank_id}
    )
    depots = {d.id: d for d in db_session.scalars(select(Depot).where(Depot.id.in_(depot_ids)))}
    banks = {
        b.id: b for b in db_session.scalars(select(LockerBank).where(LockerBank.id.in_(bank_ids)))
    }
    points: list[tuple[float, float]] = []
    index: dict[tuple[str, int], int] = {}
    for depot_id in depot_ids:
        index[("depot", depot_id)] = len(points)
        points.append((depots[depot_id].lat, depots[depot_id].lon))
    for bank_id in bank_ids:
        index[("bank", bank_id)] = len(points)
        points.append((banks[bank_id].lat, banks[bank_id].lon))
    durations, meters = travel_source(settings).matrix(points)

    limit = cold_chain_limit_s(settings)
    solver_depots = [SolverDepot(id=f"d{d}", location=index[("depot", d)]) for d in depot_ids]
    solver_vans: list[SolverVehicle] = []
    pinned = {g.pinned_vehicle_id for g in groups if g.pinned_vehicle_id}
    any_pins = bool(pinned) or any(not v.takes_fresh for v, _, _ in usable)
    seconds_per_minor = 3600 / settings.driving_cost_per_hour_minor
    latest_cold = max(
        ((ready_by - t0).total_seconds() - service[g.key] for g in groups if g.cold),
        default=-math.inf,
    )
    for van, begin, end in usable:
        vehicle = van.vehicle
        start_id = f"d{vehicle.depot_id}"
        if van.at_bank_id is not None:
            start_id = f"v{vehicle.id}"
            solver_depots.append(
                SolverDepot(
                    id=start_id,
                    location=index[("bank", van.at_bank_id)],
                    opens=(begin - t0).total_seconds(),
                )
            )
        capacity = _van_capacity(vehicle)
        if any_pins:
            capacity[FRESH] = BIG if van.takes_fresh else 0.0
            if vehicle.id in pinned:
                capacity[f"pin{vehicle.id}"] = BIG
        cold = limit if math.isinf(limit) else max(0.0, limit - van.cold_elapsed_s)
        if cold >= latest_cold - (begin - t0).total_seconds():
            cold = math.inf  # can never bind: no cold stop starts later than this after leaving
        solver_vans.append(
            SolverVehicle(
                id=f"van{vehicle.id}",
                start_depot=start_id,
                end_depot=f"d{vehicle.depot_id}",
                shift_start=(begin - t0).total_seconds(),
                shift_end=(end - t0).total_seconds(),
                capacity=capacity,
                fixed_cost=vehicle.fixed_cost_minor * seconds_per_minor,
                max_cold_chain=cold,
            )
        )
    stops: list[SolverStop] = []
    for g in groups:
        demand = g.demand()
        if any_pins:
            if g.pinned_vehicle_id:
                demand[f"pin{g.pinned_vehicle_id}"] = 1.0
            else:
                demand[FRESH] = 1.0
        stops.append(
            SolverStop(
                id=g.key,
                location=index[("bank", g.bank_id)],
                earliest=0.0,
                latest=(ready_by - t0).total_seconds() - service[g.key],
                service_fixed=float(settings.service_fixed_s),
                service_per_parcel=float(settings.service_per_parcel_s),
                parcels=len(g.parcels),
                demand=demand,
                cold_chain=g.cold,
            )
        )
    problem = Problem(
        durations=durations,
        distances=meters,
        depots=solver_depots,
        stops=stops,
        vehicles=solver_vans,
        objective="hierarchical",
    )
    return problem, index


def _store_routes(
    db_session: Session,
    *,
    window: DeliveryWindow,
    result: Result,
    problem: Problem,
    groups: dict[str, StopGroup],
    vans: dict[str, VanStart],
    t0: datetime,
    plan_version: int,
    new_route_status: RouteStatus,
    service: dict[str, int],
    report: PlanReport,
) -> None:
    """Write each solver route as a Route (new or continued) with its stops and parcels."""
    stop_location = {s.id: s.location for s in problem.stops}

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    parcel_links: list[dict[str, Any]] = []
    for solved in result.routes:
        van = vans[solved.vehicle_id]
        vehicle = van.vehicle
        start_depot = problem.depot(
            problem.vehicles[_vehicle_index(problem, solved.vehicle_id)].start_depot
        )
        end_depot = problem.depot(f"d{vehicle.depot_id}")
        route = van.route
        if route is None:
            route = Route(
                window_id=window.id,
                vehicle_id=vehicle.id,
                depot_id=vehicle.depot_id,
                driver_id=vehicle.default_driver_id,
                status=new_route_status,
                plan_version=plan_version,
                planned_departure=at(solved.departure),
                planned_return=at(solved.return_time),
                eta_return=at(solved.return_time),
            )
            db_session.add(route)
            next_sequence = 1
        else:
            route.plan_version = plan_version
            if route.status != RouteStatus.IN_PROGRESS:
                if route.status != new_route_status:
                    lifecycle.transition(route, new_route_status)
                route.planned_departure = at(solved.departure)
                route.aborted_at = None
            route.planned_return = at(solved.return_time)
            route.eta_return = at(solved.return_time)
            next_sequence = max((s.sequence for s in route.stops), default=0) + 1
        route.distance_m = int(round(solved.distance))
        route.travel_s = int(round(solved.travel_time))
        here = start_depot.location
        new_stops: list[tuple[RouteStop, StopGroup]] = []
        for offset, visit in enumerate(solved.visits):
            group = groups[visit.stop_id]
            there = stop_location[visit.stop_id]
            stop = RouteStop(
                bank_id=group.bank_id,
                sequence=next_sequence + offset,
                status=StopStatus.PENDING,
                travel_s_from_prev=int(round(problem.durations[here][there])),
                distance_m_from_prev=int(round(problem.distance(here, there))),
                service_s=service[visit.stop_id],
                not_before=t0,
                planned_arrival=at(visit.arrival),
                planned_start=at(visit.start),
                eta=at(visit.arrival),
                etd=at(visit.start + service[visit.stop_id]),
            )
            route.stops.append(stop)
            new_stops.append((stop, group))
            here = there
        route.return_travel_s = int(round(problem.durations[here][end_depot.location]))
        db_session.flush()
        for stop, group in new_stops:
            parcel_links.extend({"id": p.id, "route_stop_id": stop.id} for p in group.parcels)
            report.parcels_routed += len(group.parcels)
        report.routes += 1
        report.distance_m += route.distance_m
    for start in range(0, len(parcel_links), 2000):
        db_session.execute(update(Parcel), parcel_links[start : start + 2000])


def _vehicle_index(problem: Problem, vehicle_id: str) -> int:
    return next(i for i, v in enumerate(problem.vehicles) if v.id == vehicle_id)


def _store_unassigned(
    db_session: Session,
    window: DeliveryWindow,
    groups: dict[str, StopGroup],
    rejected: dict[str, tuple[str, str]],
    plan_version: int,
    report: PlanReport,
) -> None:
    """Store every unserved stop with its reason and tell operators through the outbox."""
    events: list[tuple[str, dict[str, Any]]] = []
    for key, (code, reason) in sorted(rejected.items()):
        group = groups[key]
        db_session.add(
            UnassignedStop(
                window_id=window.id,
                bank_id=group.bank_id,
                plan_version=plan_version,
                reason_code=code,
                reason=reason,
                parcel_count=len(group.parcels),
            )
        )
        report.unassigned.append(UnassignedInfo(group.bank_id, code, reason, len(group.parcels)))
        events.append(
            (
                f"route.unassigned:{window.id}:{plan_version}:{key}",
                {
                    "window_id": window.id,
                    "bank_id": group.bank_id,
                    "plan_version": plan_version,
                    "reason_code": code,
                    "reason": reason,
                    "parcel_ids": [p.id for p in group.parcels],
                },
            )
        )
    event_service.emit_many(db_session=db_session, kind="route.unassigned", events=events)
    handover.tell_not_routed(
        db_session=db_session,
        window_id=window.id,
        reasons={p.id: code for key, (code, _) in rejected.items() for p in groups[key].parcels},
    )
    db_session.flush()


def _loads(db_session: Session, parcel_filter: Any) -> list[ParcelLoad]:
    rows = db_session.execute(
        select(
            Parcel.id, Parcel.bank_id, Parcel.temperature_class, Parcel.volume_ml, Parcel.weight_g
        ).where(parcel_filter)
    ).all()
    return [ParcelLoad(r[0], r[1] or 0, TemperatureClass(r[2]), r[3], r[4]) for r in rows]


def fleet(*, db_session: Session, city_id: int) -> list[Vehicle]:
    """The city's active vans."""
    return list(
        db_session.scalars(
            select(Vehicle)
            .where(Vehicle.city_id == city_id, Vehicle.active.is_(True))
            .order_by(Vehicle.id)
        )
    )


def plan_window(
    *,
    db_session: Session,
    window_id: int,
    depart_after: datetime | None = None,
    time_limit_s: float | None = None,
    settings: LogisticsSettings | None = None,
) -> PlanReport:
    """Plan routes for the window's reserved parcels (once: a planned window is left alone)."""
    settings = settings or get_logistics_settings()
    window = _window(db_session, window_id)
    if db_session.scalar(
        select(func.count()).select_from(Route).where(Route.window_id == window_id)
    ):
        return PlanReport(plan_version=_plan_version(db_session, window_id), skipped=True)
    t0 = (depart_after or utcnow()).astimezone(UTC)
    parcels = _loads(
        db_session,
        (Parcel.window_id == window_id)
        & (Parcel.status == ParcelStatus.RESERVED)
        & Parcel.bank_id.is_not(None)
        & Parcel.route_stop_id.is_(None),
    )
    vans = [
        VanStart(vehicle=v, available_from=t0)
        for v in fleet(db_session=db_session, city_id=window.city_id)
    ]
    plan_version = _plan_version(db_session, window_id)
    report = PlanReport(plan_version=plan_version)
    _solve_and_store(
        db_session,
        window=window,
        parcels=parcels,
        vans=vans,
        t0=t0,
        plan_version=plan_version,
        new_route_status=RouteStatus.PLANNED,
        settings=settings,
        time_limit_s=time_limit_s or settings.solver_time_limit_s,
        report=report,
    )
    return report


def _plan_version(db_session: Session, window_id: int) -> int:
    run = db_session.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
    return 1 if run is None else run.plan_version


def replan_window(
    *,
    db_session: Session,
    window_id: int,
    vehicle_id_out: int | None = None,
    bank_id_out: int | None = None,
    now: datetime | None = None,
    depart_after: datetime | None = None,
    time_limit_s: float | None = None,
    settings: LogisticsSettings | None = None,
) -> PlanReport:
    """Re-plan what is left of a window after a van and/or a bank dropped out (caller commits).

    Served stops stay served; parcels loaded on a van still driving stay on it (pinned); the
    dropped van's remaining parcels and a dropped bank's parcels (re-reserved at the nearest bank
    with room) go to vans that start from the depot. Earlier unassigned stops are retried.
    """
    settings = settings or get_logistics_settings()
    now = (now or utcnow()).astimezone(UTC)
    window = _window(db_session, window_id)
    if vehicle_id_out is not None:
        vehicle = db_session.get(Vehicle, vehicle_id_out)
        if vehicle is None or vehicle.city_id != window.city_id:
            raise NotFound(f"vehicle {vehicle_id_out} does not exist", field="vehicle_id_out")
    if bank_id_out is not None:
        bank = db_session.get(LockerBank, bank_id_out)
        hood = db_session.get(Neighborhood, bank.neighborhood_id) if bank is not None else None
        if bank is None or hood is None or hood.city_id != window.city_id:
            raise NotFound(f"locker bank {bank_id_out} does not exist", field="bank_id_out")
    run = db_session.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
    if run is None:
        run = PipelineRun(window_id=window_id)
        db_session.add(run)
        db_session.flush()
    run.plan_version += 1
    plan_version = run.plan_version
    report = PlanReport(plan_version=plan_version)

    routes = list(
        db_session.scalars(
            select(Route).where(Route.window_id == window_id).options(selectinload(Route.stops))
        )
    )
    by_vehicle = {r.vehicle_id: r for r in routes}
    if vehicle_id_out is not None:
        dropped = by_vehicle.get(vehicle_id_out)
        if dropped is not None and dropped.status in LIVE_ROUTES:
            lifecycle.transition(dropped, RouteStatus.ABORTED)
            dropped.aborted_at = now
    if bank_id_out is not None:
        report.moved_parcels = _move_out_of_bank(db_session, window, bank_id_out, routes)

    handover.retry_not_routed(db_session=db_session, window_id=window_id)
    served_stop_ids = {s.id for r in routes for s in r.stops if s.arrived_at is not None}
    # Everything not yet at a served stop is re-planned: detach it from its unserved stop.
    open_stops = [s for r in routes for s in r.stops if s.arrived_at is None]
    stop_route = {s.id: r for r in routes for s in r.stops}
    rows = db_session.execute(
        select(Parcel.id, Parcel.status, Parcel.route_stop_id).where(
            Parcel.window_id == window_id,
            Parcel.status.in_(ACTIVE_PARCEL),
            Parcel.bank_id.is_not(None),
        )
    ).all()
    pinned_to: dict[int, int] = {}
    unload: list[int] = []
    for parcel_id, status, stop_id in rows:
        if stop_id in served_stop_ids:
            continue
        route = stop_route.get(stop_id) if stop_id is not None else None
        if (
            status == ParcelStatus.LOADED
            and route is not None
            and route.status == RouteStatus.IN_PROGRESS
            and route.vehicle_id != vehicle_id_out
        ):
            pinned_to[parcel_id] = route.vehicle_id
        elif status == ParcelStatus.LOADED:
            unload.append(parcel_id)
    lifecycle.move_parcels(
        db_session=db_session, parcel_ids=unload, frm=ParcelStatus.LOADED, to=ParcelStatus.RESERVED
    )
    open_ids = [s.id for s in open_stops]
    if open_ids:
        db_session.execute(
            update(Parcel)
            .where(Parcel.route_stop_id.in_(open_ids))
            .values(route_stop_id=None)
            .execution_options(synchronize_session=False)
        )
        for route in routes:
            for stop in [s for s in route.stops if s.arrived_at is None]:
                route.stops.remove(stop)
        db_session.flush()
    db_session.expire_all()
    routes = list(
        db_session.scalars(
            select(Route).where(Route.window_id == window_id).options(selectinload(Route.stops))
        )
    )
    by_vehicle = {r.vehicle_id: r for r in routes}

    parcels = [
        ParcelLoad(
            p.id, int(p.bank_id), p.temperature_class, p.volume_ml, p.weight_g, pinned_to.get(p.id)
        )
        for p in _loads(
            db_session,
            (Parcel.window_id == window_id)
            & Parcel.status.in_(ACTIVE_PARCEL)
            & Parcel.bank_id.is_not(None)
            & Parcel.route_stop_id.is_(None),
        )
    ]
    leave = max(now, depart_after or now)
    vans: list[VanStart] = []
    for vehicle in fleet(db_session=db_session, city_id=window.city_id):
        if vehicle.id == vehicle_id_out:
            continue
        route = by_vehicle.get(vehicle.id)
        if route is not None and route.status in (RouteStatus.COMPLETED, RouteStatus.ABORTED):
            continue
        if route is not None and route.status == RouteStatus.IN_PROGRESS:
            served = [s for s in route.stops if s.arrived_at is not None]
            last = max(served, key=lambda s: s.sequence) if served else None
            free_at = now
            if last is not None:
                free_at = max(now, last.departed_at or last.etd)
            started = route.started_at or now
            vans.append(
                VanStart(
                    vehicle=vehicle,
                    available_from=free_at,
                    at_bank_id=last.bank_id if last is not None else None,
                    cold_elapsed_s=max(0.0, (free_at - started).total_seconds()),
                    takes_fresh=False,
                    route=route,
                )
            )
        else:
            vans.append(VanStart(vehicle=vehicle, available_from=leave, route=route))

    db_session.execute(
        update(UnassignedStop)
        .where(UnassignedStop.window_id == window_id, UnassignedStop.resolved_at.is_(None))
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    _solve_and_store(
        db_session,
        window=window,
        parcels=parcels,
        vans=vans,
        t0=now,
        plan_version=plan_version,
        new_route_status=RouteStatus.PUBLISHED,
        settings=settings,
        time_limit_s=time_limit_s or settings.replan_time_limit_s,
        report=report,
    )
    for route in routes:
        if route.status in (RouteStatus.PLANNED, RouteStatus.PUBLISHED) and not route.stops:
            lifecycle.transition(route, RouteStatus.CANCELLED)
        elif route.status == RouteStatus.PLANNED:
            lifecycle.transition(route, RouteStatus.PUBLISHED)
    # A re-plan publishes what it plans (also the window's first routes after the fleet grew).
    reservation.emit_reserved_events(db_session=db_session, window_id=window_id)
    event_service.emit(
        db_session=db_session,
        kind="route.replanned",
        dedupe_key=f"route.replanned:{window_id}:{plan_version}",
        payload={
            "window_id": window_id,
            "plan_version": plan_version,
            "vehicle_id_out": vehicle_id_out,
            "bank_id_out": bank_id_out,
            "routes": report.routes,
            "unassigned": len(report.unassigned),
        },
    )
    db_session.flush()
    return report


def _move_out_of_bank(
    db_session: Session, window: DeliveryWindow, bank_id: int, routes: Sequence[Route]
) -> int:
    """Re-reserve the window's parcels not yet deposited in a bank that dropped out."""
    served = {s.id for r in routes for s in r.stops if s.arrived_at is not None}
    parcels = [
        p
        for p in db_session.scalars(
            select(Parcel).where(
                Parcel.window_id == window.id,
                Parcel.bank_id == bank_id,
                Parcel.status.in_(ACTIVE_PARCEL),
            )
        )
        if p.route_stop_id not in served
    ]
    if not parcels:
        return 0
    comp_ids = [p.compartment_id for p in parcels if p.compartment_id is not None]
    if comp_ids:
        compartment_lifecycle.move_compartments(
            db_session=db_session,
            ids=comp_ids,
            frm=CompartmentStatus.RESERVED,
            to=CompartmentStatus.FREE,
        )
    wants = []
    for p in parcels:
        p.bank_id = None
        p.compartment_id = None
        wants.append(
            reservation.Want(
                p.id,
                p.order_id,
                p.resident_id,
                p.neighborhood_id,
                TemperatureClass(p.temperature_class),
                p.compartment_size,
                ParcelStatus(p.status),
            )
        )
    db_session.flush()
    result = reservation.reserve(
        db_session=db_session,
        city_id=window.city_id,
        wants=wants,
        exclude_bank_ids={bank_id},
        from_bank_of={p.id: bank_id for p in parcels},
        commit=False,
    )
    if result.unplaced:
        # Parcels that fit nowhere fall back to packed (no compartment): reported, not routed.
        lifecycle.move_parcels(
            db_session=db_session,
            parcel_ids=list(result.unplaced_parcel_ids),
            frm=ParcelStatus.RESERVED,
            to=ParcelStatus.PACKED,
        )
    return result.reserved


def validate_replan(
    vehicle_id_out: int | None, bank_id_out: int | None, fleet_changed: bool = False
) -> None:
    """Refuse a re-plan request that names nothing that changed."""
    if vehicle_id_out is None and bank_id_out is None and not fleet_changed:
        raise InvalidInput(
            "name a vehicle_id_out or a bank_id_out, or set fleet_changed", field="vehicle_id_out"
        )
