"""The city instance: the routing problem of the 600-neighborhood cut-off, ours beside PyVRP.

    .venv/bin/python bench/routing.py --set city [--time-limit 20]
    .venv/bin/python bench/routing.py --set city --export   (re-seed and rewrite the JSON)

`--export` seeds the cut-off benchmark's city (`bench/cutoff_city.py`: 600 neighborhoods,
13,000 orders, 120 vans over 3 depots) in a temporary SQLite database, runs the cut-off
(`logistics.pipeline.run_cutoff`) up to the solve, and keeps the solver Problem the planner
built there (multi-depot, litres and kilograms per temperature class, latest starts that meet
the ready-by, the cold-chain limit) as plain data in `bench/data/city600.json`: the bank and
depot coordinates and the travel settings (the matrices are rebuilt by great-circle travel,
and the rebuilt Problem is checked equal to the planner's), stops and vans.

Ours: `logistics.solver.solve` with the planner's settings (seed 0, one search, the cut-off's
budget). PyVRP models the same problem on integers (times in tenths of a second rounded up,
amounts in millilitres and grams): one vehicle type per depot, capacity per dimension, each
stop's latest start as its `tw_late`, and the cold-chain limit as the vehicle type's
`shift_duration`, made exact by folding each stop's service time into its outgoing arcs and
making the return leg take no time (route duration = departure to the start of service at
the last stop; exact when every stop has cold parcels, stricter otherwise). The shift end then
binds the last departure from a stop, so `tw_late` is the shift end minus the longest return
to that depot (stricter). Vans first: each van costs 200 km (PyVRP's `minimise_fleet` takes
one vehicle type only). Both solutions go through `violations` below, which recomputes loads
and times on real numbers from the plain routes alone.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime

from logistics.solver import Depot, Problem, Stop, Vehicle, solve
from logistics.solver.travel import GreatCircleTravel

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data" / "city600.json"
INFINITE = ("closes", "latest", "shift_end", "max_cold_chain")
TIME_SCALE = 10
AMOUNT_SCALE = 1000
VAN_COST_M = 200_000
TOLERANCE = 1e-6


@dataclass(frozen=True)
class CityRoute:
    """A van's route as plain data: its vehicle, where it starts and ends, its stops in order."""

    vehicle_id: str
    start_location: int
    stop_ids: tuple[str, ...]
    end_location: int


@dataclass(frozen=True)
class CityRun:
    """One solver's solution to the city instance, checked."""

    solver: str
    vans: int
    km: float
    violations: tuple[str, ...]


def _plain(obj: Any) -> dict[str, Any]:
    row = asdict(obj)
    for key in INFINITE:
        if key in row and math.isinf(row[key]):
            row[key] = None
    return row


def _back(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (math.inf if k in INFINITE and v is None else v) for k, v in row.items()}


def to_json(problem: Problem, points: list[tuple[float, float]], travel: GreatCircleTravel) -> str:
    """The Problem as plain data: points and travel settings instead of matrices."""
    return json.dumps(
        {
            "travel": {"speed_kmh": travel.speed_kmh, "detour_factor": travel.detour_factor},
            "points": points,
            "objective": problem.objective,
            "depots": [_plain(d) for d in problem.depots],
            "stops": [_plain(s) for s in problem.stops],
            "vehicles": [_plain(v) for v in problem.vehicles],
        },
        indent=0,
    )


def load(path: Path = DATA) -> Problem:
    """The city Problem from its plain data (matrices rebuilt by great-circle travel)."""
    data = json.loads(path.read_text())
    travel = GreatCircleTravel(**data["travel"])
    durations, meters = travel.matrix([tuple(p) for p in data["points"]])
    return Problem(
        durations=durations,
        distances=meters,
        depots=[Depot(**_back(d)) for d in data["depots"]],
        stops=[Stop(**_back(s)) for s in data["stops"]],
        vehicles=[Vehicle(**_back(v)) for v in data["vehicles"]],
        objective=data["objective"],
    )


def export(args: argparse.Namespace, path: Path = DATA) -> Problem:
    """Seed the cut-off's city, run the cut-off to the solve, and write its Problem."""
    import tempfile
    from datetime import UTC, datetime, timedelta

    from cutoff_city import build
    from sqlalchemy.orm import sessionmaker

    from app import dbtools
    from app.core.db import make_engine
    from app.schema import load_all_models
    from logistics import plan_problem, planning
    from logistics.pipeline import run_cutoff
    from logistics.settings import LogisticsSettings

    settings = LogisticsSettings(
        solver_time_limit_s=args.time_limit or 20.0, cold_chain_minutes=180, solver_workers=1
    )
    travel = plan_problem.travel_source(settings)
    assert isinstance(travel, GreatCircleTravel)
    seen: dict[str, Any] = {}

    class Recording:
        def matrix(self, points: Any) -> Any:
            seen["points"] = [tuple(p) for p in points]
            return travel.matrix(points)

    def keep(problem: Problem, *_: Any) -> None:
        seen["problem"] = problem

    city = argparse.Namespace(
        neighborhoods=600, orders=13_000, vans=120, depots=3, radius_km=12.0, seed=1
    )
    original = (plan_problem.travel_source, planning.solve_problem)
    plan_problem.travel_source = lambda _settings: Recording()  # type: ignore[assignment]
    planning.solve_problem = keep  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/city.db"
            load_all_models()
            dbtools.upgrade(url)
            engine = make_engine(url)
            factory = sessionmaker(bind=engine, expire_on_commit=False)
            now = datetime.now(UTC).replace(microsecond=0)
            with factory() as session:
                window_id = build(session, city, now)
                session.commit()
            run_cutoff(
                session_factory=factory,
                window_id=window_id,
                settings=settings,
                now=now + timedelta(seconds=1),
            )
            engine.dispose()
    finally:
        plan_problem.travel_source, planning.solve_problem = original
    problem: Problem = seen["problem"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(problem, seen["points"], travel) + "\n")
    if load(path) != problem:
        raise SystemExit(f"{path} does not rebuild the planner's Problem")
    return problem


def ours(problem: Problem, seconds: float) -> list[CityRoute]:
    """The planner's solve: seed 0, one search (LOGISTICS_SOLVER_WORKERS' default)."""
    result = solve(problem, time_limit_s=seconds, seed=0, workers=1)
    vans = {v.id: v for v in problem.vehicles}
    return [
        CityRoute(
            vehicle_id=r.vehicle_id,
            start_location=problem.depot(vans[r.vehicle_id].start_depot).location,
            stop_ids=tuple(r.stop_ids),
            end_location=problem.depot(vans[r.vehicle_id].return_depot).location,
        )
        for r in result.routes
        if r.stop_ids
    ]


def _pyvrp_data(problem: Problem) -> tuple[pyvrp.ProblemData, list[list[str]]]:
    """PyVRP's model of the problem (see the module's text) and the van ids of each type."""
    n = len(problem.durations)
    depot_locations = [d.location for d in problem.depots]
    depot_at = {loc: k for k, loc in enumerate(depot_locations)}
    service = [0.0] * n
    for s in problem.stops:
        service[s.location] = s.service_time
    durations = np.zeros((n, n), dtype=np.int64)
    distances = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            if j not in depot_at and i != j:
                durations[i, j] = math.ceil((service[i] + problem.durations[i][j]) * TIME_SCALE)
            distances[i, j] = math.ceil(problem.distance(i, j))
    dims = problem.dimensions
    clients = [
        pyvrp.Client(
            location=s.location,
            delivery=[math.ceil(s.demand.get(d, 0) * AMOUNT_SCALE - TOLERANCE) for d in dims],
            tw_early=math.ceil(s.earliest * TIME_SCALE),
            tw_late=math.floor(s.latest * TIME_SCALE),
        )
        for s in problem.stops
    ]
    groups: dict[tuple[Any, ...], list[Vehicle]] = defaultdict(list)
    for v in problem.vehicles:
        capacity = tuple(math.floor(v.capacity.get(d, 0) * AMOUNT_SCALE + TOLERANCE) for d in dims)
        key = (v.start_depot, v.return_depot, capacity, v.shift_start, v.shift_end)
        groups[(*key, v.max_cold_chain)].append(v)
    types, members = [], []
    for (start, end, capacity, shift_start, shift_end, cold), vans in groups.items():
        end_location = problem.depot(end).location
        longest_return = max(problem.durations[s.location][end_location] for s in problem.stops)
        last_leave = min(shift_end, problem.depot(end).closes) - longest_return
        extra = {} if math.isinf(cold) else {"shift_duration": math.floor(cold * TIME_SCALE)}
        if math.isfinite(last_leave):
            extra["tw_late"] = math.floor(last_leave * TIME_SCALE)
        types.append(
            pyvrp.VehicleType(
                num_available=len(vans),
                capacity=list(capacity),
                start_depot=depot_at[problem.depot(start).location],
                end_depot=depot_at[end_location],
                fixed_cost=VAN_COST_M,
                tw_early=math.ceil(max(shift_start, problem.depot(start).opens) * TIME_SCALE),
                **extra,
            )
        )
        members.append([v.id for v in vans])
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(x=0, y=0) for _ in range(n)],
        clients=clients,
        depots=[pyvrp.Depot(location=loc) for loc in depot_locations],
        vehicle_types=types,
        distance_matrices=[distances],
        duration_matrices=[durations],
    )
    return data, members


def with_pyvrp(problem: Problem, seconds: float) -> list[CityRoute]:
    """PyVRP's routes on the same problem, same seconds, one search."""
    data, members = _pyvrp_data(problem)
    result = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=0, display=False)
    taken: dict[int, int] = defaultdict(int)
    routes = []
    for route in result.best.routes():
        kind = route.vehicle_type()
        vehicle_id = members[kind][taken[kind]]
        taken[kind] += 1
        stops = tuple(problem.stops[a.idx].id for a in route.schedule() if a.is_client())
        depots = problem.depots
        routes.append(
            CityRoute(
                vehicle_id,
                depots[route.start_depot()].location,
                stops,
                depots[route.end_depot()].location,
            )
        )
    return routes


def _times(
    problem: Problem, route: CityRoute, departure: float
) -> tuple[list[tuple[Stop, float]], float]:
    """Start of service at each stop and the return time, leaving at `departure`."""
    stops = {s.id: s for s in problem.stops}
    time, here, starts = departure, route.start_location, []
    for stop_id in route.stop_ids:
        stop = stops[stop_id]
        start = max(time + problem.durations[here][stop.location], stop.earliest)
        starts.append((stop, start))
        time, here = start + stop.service_time, stop.location
    return starts, time + problem.durations[here][route.end_location]


def _route_violations(problem: Problem, route: CityRoute) -> list[str]:
    """Depots, capacity per dimension, windows, shift and cold chain of one route."""
    van = next((v for v in problem.vehicles if v.id == route.vehicle_id), None)
    if van is None:
        return ["unknown vehicle"]
    found = []
    if route.start_location != problem.depot(van.start_depot).location:
        found.append("does not start at its van's depot")
    if route.end_location != problem.depot(van.return_depot).location:
        found.append("does not end at its van's depot")
    load: dict[str, float] = defaultdict(float)
    stops = {s.id: s for s in problem.stops}
    for stop_id in route.stop_ids:
        for name, amount in stops[stop_id].demand.items():
            load[name] += amount
    for name, amount in load.items():
        if amount > van.capacity.get(name, 0.0) + TOLERANCE:
            found.append(f"load {amount:.3f} of {name} over capacity")
    back_by = min(van.shift_end, problem.depot(van.return_depot).closes)

    def on_time(departure: float) -> bool:
        starts, back = _times(problem, route, departure)
        return back <= back_by + TOLERANCE and all(
            start <= stop.latest + TOLERANCE for stop, start in starts
        )

    earliest = max(van.shift_start, problem.depot(van.start_depot).opens)
    if not on_time(earliest):
        return [*found, "a stop's window or the shift end is missed even leaving at once"]
    low, high = earliest, max([earliest, *(s.latest for s in problem.stops if s.latest < math.inf)])
    if on_time(high):
        low = high
    for _ in range(60):  # the latest departure on time: the shortest cold chain
        middle = (low + high) / 2
        low, high = (middle, high) if on_time(middle) else (low, middle)
    starts, _ = _times(problem, route, low)
    cold = [start - low for stop, start in starts if stop.cold_chain]
    if cold and max(cold) > van.max_cold_chain + TOLERANCE:
        found.append(f"cold chain {max(cold) / 60:.1f} min over {van.max_cold_chain / 60:.1f}")
    return found


def violations(problem: Problem, routes: list[CityRoute]) -> list[str]:
    """Everything wrong with plain routes; empty when every stop is served once, feasibly."""
    found = []
    served = sorted(stop_id for r in routes for stop_id in r.stop_ids)
    if served != sorted(s.id for s in problem.stops):
        found.append(f"{len(served)} visits for {len(problem.stops)} stops, not each once")
    vans = [r.vehicle_id for r in routes]
    if len(set(vans)) != len(vans):
        found.append("a van has two routes")
    for route in routes:
        found += [f"{route.vehicle_id}: {p}" for p in _route_violations(problem, route)]
    return found


def km(problem: Problem, routes: list[CityRoute]) -> float:
    """Kilometres driven, depot to depot."""
    total = 0.0
    for route in routes:
        stops = {s.id: s.location for s in problem.stops}
        path = [route.start_location, *(stops[i] for i in route.stop_ids), route.end_location]
        total += sum(problem.distance(a, b) for a, b in zip(path, path[1:], strict=False))
    return total / 1000


def measure(problem: Problem, solver: str, seconds: float) -> CityRun:
    """Solve with one solver, check independently, count vans and km."""
    routes = (ours if solver == "ours" else with_pyvrp)(problem, seconds)
    return CityRun(solver, len(routes), km(problem, routes), tuple(violations(problem, routes)))


def describe(problem: Problem) -> str:
    """The instance in one sentence."""
    cold = sum(s.cold_chain for s in problem.stops)
    limits = {v.max_cold_chain for v in problem.vehicles}
    return (
        f"{len(problem.stops)} stops ({cold} with cold parcels), {len(problem.vehicles)} vans "
        f"over {len(problem.depots)} depots, {len(problem.dimensions)} capacity dimensions, "
        f"cold-chain limit {', '.join(f'{x / 60:g}' for x in sorted(limits))} min"
    )


def section(runs: list[CityRun], problem: Problem, seconds: float, command: str, load: str) -> str:
    """The markdown section: vans and km side by side, and the target."""
    by = {r.solver: r for r in runs}
    lines = [
        f"## City instance: the 600-neighborhood cut-off's routing problem, {seconds:g} s",
        "",
        f"Command: `{command}`",
        "",
        f"Instance (`bench/data/city600.json`): {describe(problem)}. {load}",
        "",
        "| solver | vans | km | independent check |",
        "|---|---:|---:|---|",
    ]
    for run in runs:
        status = "passes" if not run.violations else "; ".join(run.violations[:3])
        lines.append(f"| {run.solver} | {run.vans} | {run.km:,.1f} | {status} |")
    if "ours" in by and "pyvrp" in by:
        a, b = by["ours"], by["pyvrp"]
        lines += [
            "",
            f"Target: no more vans than PyVRP and km within 2 %. Ours {a.vans - b.vans:+d} vans, "
            f"km {100 * (a.km / b.km - 1):+.2f} % against PyVRP.",
        ]
    return "\n".join(lines) + "\n"
