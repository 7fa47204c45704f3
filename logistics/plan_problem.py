"""The planning problem: reserved parcels and the usable vans -> a solver Problem.

Stops are locker banks with parcels (split when one bank's load exceeds the biggest van);
vans come from the city's fleet (their depot, capacity per zone in litres and kilograms, shift,
fixed cost converted to driving seconds); times are seconds after `t0`, the moment the vans may
leave (packing done). A stop must start service early enough to finish before the window's
ready-by. The cold-chain limit (time from a van leaving its depot to its last chilled or
frozen deposit) is the setting `LOGISTICS_COLD_CHAIN_MINUTES` (default 180), used as is: it is
how long the refrigerated van keeps parcels in temperature. It deliberately does not come from
products' `max_minutes_out`, which is how long a product may be OUT of its temperature (20
minutes for ice cream): on board a refrigerated van it is in temperature, and taking the
strictest product's value left most of a city unserved.

A van re-planned mid-route starts from the bank it last served and carries a capacity
dimension only it has (`pin<vehicle id>`), so the parcels loaded on it stay on it; vans that
start from the depot carry the `fresh` dimension the other stops need.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cities import queries as city_queries
from app.core.enums import TemperatureClass
from app.neighborhoods import queries as neighborhood_queries
from app.windows.queries import WindowView
from app.windows.schedule import local_to_utc, zone
from logistics import busy as fleet_busy
from logistics.models import Parcel, Route, Vehicle
from logistics.settings import LogisticsSettings
from logistics.solver import Depot as SolverDepot
from logistics.solver import Problem
from logistics.solver import Stop as SolverStop
from logistics.solver import Vehicle as SolverVehicle
from logistics.solver.travel import GreatCircleTravel, OsrmTravel, TravelTimeSource

COLD = (TemperatureClass.CHILLED, TemperatureClass.FROZEN)
FRESH = "fresh"
BIG = 1e9


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
            add_load(amounts, p)
        return dict(amounts)

    @property
    def cold(self) -> bool:
        """Whether a chilled or frozen parcel is deposited here."""
        return any(p.temperature_class in COLD for p in self.parcels)


def add_load(amounts: dict[str, float], parcel: ParcelLoad) -> None:
    """Add one parcel's litres and kilograms to its temperature class's running totals."""
    tc = TemperatureClass(parcel.temperature_class).value
    amounts[f"{tc}_l"] += parcel.volume_ml / 1000
    amounts[f"{tc}_kg"] += parcel.weight_g / 1000


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
class UsableVan:
    """A van that can work this window, with the span it is free in."""

    van: VanStart
    begin: datetime
    end: datetime


def travel_source(settings: LogisticsSettings) -> TravelTimeSource:
    """The configured travel-time source: great-circle by default, OSRM when configured."""
    if settings.travel_source == "osrm" and settings.osrm_url:
        return OsrmTravel(settings.osrm_url)
    return GreatCircleTravel(speed_kmh=settings.speed_kmh, detour_factor=settings.detour_factor)


def cold_chain_limit_s(settings: LogisticsSettings) -> float:
    """Seconds a refrigerated van may take from leaving to its last cold deposit (the setting)."""
    return settings.cold_chain_minutes * 60.0


def shift_bounds(vehicle: Vehicle, window: WindowView, tz_name: str) -> tuple[datetime, datetime]:
    """The van's shift on the window's local date, in UTC (an end before the start is next day)."""
    tz = zone(tz_name)
    start = local_to_utc(datetime.combine(window.local_date, vehicle.shift_start_local), tz)
    end_day = window.local_date
    if vehicle.shift_end_local <= vehicle.shift_start_local:
        end_day = end_day + timedelta(days=1)
    end = local_to_utc(datetime.combine(end_day, vehicle.shift_end_local), tz)
    return start, end


def loads(db_session: Session, parcel_filter: Any) -> list[ParcelLoad]:
    """The planner's view of the parcels `parcel_filter` selects."""
    rows = db_session.execute(
        select(
            Parcel.id, Parcel.bank_id, Parcel.temperature_class, Parcel.volume_ml, Parcel.weight_g
        ).where(parcel_filter)
    ).all()
    return [ParcelLoad(r[0], r[1] or 0, TemperatureClass(r[2]), r[3], r[4]) for r in rows]


def _exceeds(
    capacity: dict[str, float], litres: str, volume: float, kilos: str, weight: float
) -> bool:
    return volume > capacity.get(litres, 0.0) + 1e-9 or weight > capacity.get(kilos, 0.0) + 1e-9


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
        totals: dict[str, float] = defaultdict(float)
        # Only a chunk of one parcel can be over (a parcel bigger than the van): it stands alone.
        current_over = False
        for p in sorted(items, key=lambda x: x.id):
            tc = TemperatureClass(p.temperature_class).value
            litres, kilos = f"{tc}_l", f"{tc}_kg"
            volume = totals[litres] + p.volume_ml / 1000
            weight = totals[kilos] + p.weight_g / 1000
            over = current_over or _exceeds(capacity_max, litres, volume, kilos, weight)
            if over and current.parcels:
                chunks.append(current)
                current = StopGroup(key="", bank_id=bank_id, pinned_vehicle_id=pinned)
                totals = defaultdict(float)
                volume, weight = p.volume_ml / 1000, p.weight_g / 1000
            current.parcels.append(p)
            totals[litres], totals[kilos] = volume, weight
            current_over = _exceeds(capacity_max, litres, volume, kilos, weight)
        chunks.append(current)
        for i, chunk in enumerate(chunks):
            chunk.key = f"b{bank_id}" + (f"-v{pinned}" if pinned else "") + (f"-{i}" if i else "")
            groups.append(chunk)
    return groups


def van_capacity(vehicle: Vehicle) -> dict[str, float]:
    """The van's litres and kilograms per temperature class, as solver capacity dimensions."""
    capacity: dict[str, float] = {}
    for tc in TemperatureClass:
        volume, weight = vehicle.capacity(tc)
        capacity[f"{tc.value}_l"] = volume / 1000
        capacity[f"{tc.value}_kg"] = weight / 1000
    return capacity


def usable_vans(
    db_session: Session,
    window: WindowView,
    vans: Sequence[VanStart],
    t0: datetime,
    tz_name: str,
) -> list[UsableVan]:
    """The vans free to work the window, continued routes first, each with its free span."""
    usable: list[UsableVan] = []
    busy = fleet_busy.busy_elsewhere(db_session, window.id, [van.vehicle for van in vans])
    drivers_taken = {van.route.driver_id for van in vans if van.route is not None}
    for van in sorted(vans, key=lambda v: (v.route is None, v.vehicle.id)):
        start, end = shift_bounds(van.vehicle, window, tz_name)
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
            usable.append(UsableVan(van, begin, end))
    return usable


def stop_groups(parcels: Sequence[ParcelLoad], usable: Sequence[UsableVan]) -> list[StopGroup]:
    """Solver stops: unpinned parcels sized to the biggest fresh van, pinned ones to their van."""
    fresh_max: dict[str, float] = defaultdict(float)
    for u in usable:
        if u.van.takes_fresh:
            for k, v in van_capacity(u.van.vehicle).items():
                fresh_max[k] = max(fresh_max[k], v)
    groups = group_stops([p for p in parcels if p.pinned_vehicle_id is None], fresh_max)
    pinned: dict[int, list[ParcelLoad]] = defaultdict(list)
    for p in parcels:
        if p.pinned_vehicle_id is not None:
            pinned[p.pinned_vehicle_id].append(p)
    for u in usable:
        mine = pinned.get(u.van.vehicle.id)
        if mine:
            groups.extend(group_stops(mine, van_capacity(u.van.vehicle)))
    return groups


def _points(
    db_session: Session, groups: Sequence[StopGroup], usable: Sequence[UsableVan]
) -> tuple[list[tuple[float, float]], dict[tuple[str, int], int], list[int]]:
    """Coordinates of depots then banks, each one's index there, and the depot ids in order."""
    depot_ids = sorted({u.van.vehicle.depot_id for u in usable})
    bank_ids = sorted(
        {g.bank_id for g in groups} | {u.van.at_bank_id for u in usable if u.van.at_bank_id}
    )
    depots = city_queries.depot_places(db_session, depot_ids)
    banks = neighborhood_queries.locker_banks_by_ids(db_session=db_session, bank_ids=bank_ids)
    points: list[tuple[float, float]] = []
    index: dict[tuple[str, int], int] = {}
    for depot_id in depot_ids:
        index[("depot", depot_id)] = len(points)
        points.append((depots[depot_id].lat, depots[depot_id].lon))
    for bank_id in bank_ids:
        index[("bank", bank_id)] = len(points)
        points.append((banks[bank_id].lat, banks[bank_id].lon))
    return points, index, depot_ids


def _uses_pins(groups: Sequence[StopGroup], usable: Sequence[UsableVan]) -> bool:
    """Whether any stop is pinned to a van or any van refuses fresh stops."""
    return any(g.pinned_vehicle_id for g in groups) or any(not u.van.takes_fresh for u in usable)


def _solver_vans(
    usable: Sequence[UsableVan],
    groups: Sequence[StopGroup],
    index: dict[tuple[str, int], int],
    *,
    t0: datetime,
    latest: dict[str, float],
    settings: LogisticsSettings,
) -> tuple[list[SolverVehicle], list[SolverDepot]]:
    """One solver vehicle per usable van, and a start depot for each van starting mid-route."""
    limit = cold_chain_limit_s(settings)
    pinned = {g.pinned_vehicle_id for g in groups if g.pinned_vehicle_id}
    any_pins = _uses_pins(groups, usable)
    seconds_per_minor = 3600 / settings.driving_cost_per_hour_minor
    latest_cold = max((latest[g.key] for g in groups if g.cold), default=-math.inf)
    solver_vans: list[SolverVehicle] = []
    mid_route_starts: list[SolverDepot] = []
    for u in usable:
        vehicle, begin_s = u.van.vehicle, (u.begin - t0).total_seconds()
        start_id = f"d{vehicle.depot_id}"
        if u.van.at_bank_id is not None:
            start_id = f"v{vehicle.id}"
            location = index[("bank", u.van.at_bank_id)]
            mid_route_starts.append(SolverDepot(id=start_id, location=location, opens=begin_s))
        capacity = van_capacity(vehicle)
        if any_pins:
            capacity[FRESH] = BIG if u.van.takes_fresh else 0.0
            if vehicle.id in pinned:
                capacity[f"pin{vehicle.id}"] = BIG
        cold = limit if math.isinf(limit) else max(0.0, limit - u.van.cold_elapsed_s)
        if cold >= latest_cold - begin_s:
            cold = math.inf  # can never bind: no cold stop starts later than this after leaving
        solver_vans.append(
            SolverVehicle(
                id=f"van{vehicle.id}",
                start_depot=start_id,
                end_depot=f"d{vehicle.depot_id}",
                shift_start=begin_s,
                shift_end=(u.end - t0).total_seconds(),
                capacity=capacity,
                fixed_cost=vehicle.fixed_cost_minor * seconds_per_minor,
                max_cold_chain=cold,
            )
        )
    return solver_vans, mid_route_starts


def _solver_stops(
    groups: Sequence[StopGroup],
    index: dict[tuple[str, int], int],
    *,
    any_pins: bool,
    latest: dict[str, float],
    settings: LogisticsSettings,
) -> list[SolverStop]:
    """One solver stop per group, with its demand and the latest start that meets ready-by."""
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
                latest=latest[g.key],
                service_fixed=float(settings.service_fixed_s),
                service_per_parcel=float(settings.service_per_parcel_s),
                parcels=len(g.parcels),
                demand=demand,
                cold_chain=g.cold,
            )
        )
    return stops


def build_problem(
    db_session: Session,
    groups: Sequence[StopGroup],
    usable: Sequence[UsableVan],
    *,
    t0: datetime,
    ready_by: datetime,
    service: dict[str, int],
    settings: LogisticsSettings,
) -> Problem:
    """The solver Problem over depots, stop banks and mid-route van positions."""
    points, index, depot_ids = _points(db_session, groups, usable)
    durations, meters = travel_source(settings).matrix(points)
    latest = {g.key: (ready_by - t0).total_seconds() - service[g.key] for g in groups}
    solver_vans, mid_route_starts = _solver_vans(
        usable, groups, index, t0=t0, latest=latest, settings=settings
    )
    depots = [SolverDepot(id=f"d{d}", location=index[("depot", d)]) for d in depot_ids]
    stops = _solver_stops(
        groups, index, any_pins=_uses_pins(groups, usable), latest=latest, settings=settings
    )
    return Problem(
        durations=durations,
        distances=meters,
        depots=depots + mid_route_starts,
        stops=stops,
        vehicles=solver_vans,
        objective="hierarchical",
    )
