"""Decomposition for large problems: sweep sectors, recombination, then a global search.

Above DECOMPOSE_ABOVE stops, one search over every stop spends most of its time on the
first solution (local cheapest insertion on 1,000 stops and 250 vans: over 40 s) and
iterates slowly after it. Instead the stops are cut into sectors of about SECTOR_STOPS by
their angle around the depot (the plane recovered from the travel matrix by classical
multidimensional scaling, so no coordinates are needed) and each sector is searched on its
own with the vans nearest it; each worker takes a chain of neighbouring sectors in turn,
carrying the stops of each sector's lightest route into the next. Then parts of
neighbouring routes across the sector borders are searched from their routes and kept when
cheaper (lns.py), and guided local search, restricted to each stop's nearest neighbours,
improves the whole. Recombination (groups of routes searched afresh) is kept but gets no
time: in the city it improved nothing in its 3 s, the warm-started parts did.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import time
from collections.abc import Callable, Iterable

import numpy as np
from ortools.constraint_solver import routing_enums_pb2

from logistics.solver import search
from logistics.solver.lns import PROBLEM as _PROBLEM
from logistics.solver.lns import improve_parts, warm_start, with_vehicles
from logistics.solver.model import Data, build_data, objective_value
from logistics.solver.problem import Problem

DECOMPOSE_ABOVE = 150
SECTOR_STOPS = 100
SHORT_SECTOR_STOPS = 50
SHORT_PER_STOP_S = 0.05
SECTOR_SHARE = 0.6
RECOMBINE_SHARE = 0.0
LNS_SHARE = 0.35  # the rest (5 %) to the global guided local search
RECOMBINE_SLICE_S = 3.0
NEIGHBOURS = 40

Routes = list[list[int]]


def _plane(problem: Problem, locations: list[int]) -> np.ndarray:
    """2-D coordinates whose distances approximate the (symmetrised) travel matrix."""
    whole = problem.durations if problem.distances is None else problem.distances
    matrix = np.array([whole[a] for a in locations], dtype=float)[:, locations]
    squared = ((matrix + matrix.T) / 2) ** 2
    centred = squared - squared.mean(0) - squared.mean(1)[:, None] + squared.mean()
    gram = -0.5 * centred
    values, vectors = _top_two(gram)
    return np.asarray(vectors * np.sqrt(np.maximum(values, 0.0)))


def _top_two(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two largest eigenvalues of a symmetric matrix (ascending) and their vectors.

    Subspace iteration: a full eigendecomposition of a city's 600 x 600 matrix took over
    a second of a 20 s budget on a loaded machine; points in a plane leave a wide gap
    after the second eigenvalue, so a hundred products converge.
    """
    if len(gram) <= 3:
        values, vectors = np.linalg.eigh(gram)
        return values[-2:], vectors[:, -2:]
    basis = np.random.default_rng(0).standard_normal((len(gram), 2))
    for _ in range(100):
        basis, _ = np.linalg.qr(gram @ basis)
    values, rotation = np.linalg.eigh(basis.T @ gram @ basis)
    return values, basis @ rotation


def sectors(data: Data, size: int = SECTOR_STOPS) -> tuple[list[list[int]], np.ndarray]:
    """Stop indices (into problem.stops) cut by angle around the first van's depot.

    Also the stops' points relative to the depot, in the order of data.stop_indices.
    """
    problem = data.problem
    depot = problem.depot(problem.vehicles[0].start_depot).location
    stops = list(data.stop_indices)
    points = _plane(problem, [depot, *(problem.stops[i].location for i in stops)])
    relative = points[1:] - points[0]
    angles = np.arctan2(relative[:, 1], relative[:, 0])
    order = [stops[k] for k in np.argsort(angles)]
    count = max(1, round(len(order) / size))
    width = len(order) / count
    return [order[round(k * width) : round((k + 1) * width)] for k in range(count)], relative


Task = tuple[tuple[int, ...], tuple[int, ...], float, float]
"""A part to search: stop indices, vans (indices into problem.vehicles), seconds, deadline."""

PartRoutes = tuple[list[list[int]], int] | None
"""A part's routes (stop indices, one list per van of the task) and objective, if any."""


def _search_part(task: Task) -> PartRoutes:
    """Search one part with its vans for its seconds (never past the deadline)."""
    stops, fleet, seconds, deadline = task
    sub = build_data(with_vehicles(_PROBLEM[-1], list(fleet)), stops)
    found = search.run(sub, search.STRATEGIES[0], min(deadline, time.monotonic() + seconds))
    if found is None:
        found = search.construct(sub)
    if found is None:
        return None
    return [[sub.stop_of(node) for node in route] for route in found[0]], found[1]


def _fleets(data: Data, parts: list[list[int]]) -> list[list[int]]:
    """Disjoint vans for each part: its share of the fleet and two more, if they exist.

    The parts take turns picking the van whose depot is nearest their stops (several depots:
    a van from across the city would start every route with a long drive). More idle vans
    only slow a part's search: 52 instead of 25 for 100 stops, 4 % worse.
    """
    problem = data.problem
    vans = len(problem.vehicles)
    total = sum(len(part) for part in parts)
    wanted = [math.ceil(vans * len(part) / total) + 2 for part in parts]
    if sum(wanted) > vans:
        wanted = [max(1, vans * len(part) // total) for part in parts]
    depots = {v.start_depot for v in problem.vehicles}
    near = [
        {
            d: sum(
                problem.durations[problem.depot(d).location][problem.stops[i].location]
                for i in part
            )
            for d in depots
        }
        for part in parts
    ]

    def nearest_first(distance: dict[str, float]) -> list[int]:
        return sorted(range(vans), key=lambda v: (distance[problem.vehicles[v].start_depot], v))

    ranked = [nearest_first(distance) for distance in near]
    fleets: list[list[int]] = [[] for _ in parts]
    taken: set[int] = set()
    while len(taken) < vans and any(len(f) < w for f, w in zip(fleets, wanted, strict=True)):
        for k, fleet in enumerate(fleets):
            if len(fleet) < wanted[k]:
                v = next((v for v in ranked[k] if v not in taken), None)
                if v is not None:
                    fleet.append(v)
                    taken.add(v)
    return fleets


Chain = tuple[tuple[tuple[int, ...], ...], tuple[int, ...], float]
"""Sectors to search in turn (stop indices each), the chain's vans, and its deadline."""

ChainRoutes = list[tuple[int, list[int]]]
"""The van and the stops (indices into problem.stops) of each route a chain kept."""


def _nearest_vans(problem: Problem, stops: Iterable[int], free: list[int], count: int) -> list[int]:
    """Up to count of the free vans, those whose depot is nearest the stops first."""
    locations = [problem.stops[i].location for i in stops]
    away = {
        d.id: sum(problem.durations[d.location][loc] for loc in locations) for d in problem.depots
    }
    return sorted(free, key=lambda v: (away[problem.vehicles[v].start_depot], v))[:count]


def _route_time(problem: Problem, van: int, stops: list[int]) -> float:
    """Driving and service time of a route, depot to depot."""
    vehicle = problem.vehicles[van]
    path = [
        problem.depot(vehicle.start_depot).location,
        *(problem.stops[i].location for i in stops),
        problem.depot(vehicle.return_depot).location,
    ]
    driving = sum(problem.durations[a][b] for a, b in zip(path, path[1:], strict=False))
    return driving + sum(problem.stops[i].service_time for i in stops)


def _search_chain(chain: Chain) -> ChainRoutes:
    """Search a chain's sectors in turn; each sector's lightest route joins the next sector.

    A sector searched alone ends with a part-filled van (50 stops are rarely a whole number
    of routes); its stops, carried into the next sector, fill that sector's vans instead.
    """
    parts, fleet, end = chain
    problem = _PROBLEM[-1]
    free = list(fleet)
    kept: ChainRoutes = []
    carried: list[int] = []
    chain_stops = sum(len(part) for part in parts)
    for k, part in enumerate(parts):
        stops = (*carried, *part)
        share = len(stops) / (len(carried) + sum(len(p) for p in parts[k:]))
        wanted = math.ceil(len(fleet) * len(stops) / chain_stops) + 2
        vans = _nearest_vans(problem, stops, free, wanted)
        found = _search_part((stops, tuple(vans), (end - time.monotonic()) * share, end))
        carried = []
        if found is None:
            continue
        routes = [(v, route) for v, route in zip(vans, found[0], strict=True) if route]
        if k < len(parts) - 1 and len(routes) > 1:
            lightest = min(routes, key=lambda r: _route_time(problem, *r))
            routes.remove(lightest)
            carried = lightest[1]
        kept += routes
        free = [v for v in free if v not in {van for van, _ in routes}]
    return kept


def run(
    data: Data,
    deadline: float,
    workers: int,
    on_solution: Callable[[int], None] | None = None,
) -> tuple[Routes, int] | None:
    """Sectors searched by the workers, parts improved from their routes, then a global GLS."""
    problem = data.problem
    started = time.monotonic()
    per_stop = (deadline - started) * SECTOR_SHARE * workers / len(data.stop_indices)
    # Under about 5 s per 100-stop sector (the city's 592 stops in 20 s on one core: 2 s),
    # sectors of 50 stops did better (3 of 3 runs: 1,452-1,510 km against 1,549-1,698).
    size = SECTOR_STOPS if per_stop >= SHORT_PER_STOP_S else SHORT_SECTOR_STOPS
    parts, points = sectors(data, size)
    vans = len(problem.vehicles)
    routes: Routes = [[] for _ in range(vans)]
    node_of = {stop: data.num_depots + k for k, stop in enumerate(data.stop_indices)}
    _PROBLEM.append(problem)
    pool = None
    if workers > 1:
        pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        search_parts = map if pool is None else functools.partial(pool.map, chunksize=1)
        count = min(workers, len(parts))
        chains = [
            parts[k * len(parts) // count : (k + 1) * len(parts) // count] for k in range(count)
        ]
        fleets = _fleets(data, [[i for part in chain for i in part] for chain in chains])
        sectors_end = started + (deadline - started) * SECTOR_SHARE
        tasks = [
            (tuple(tuple(part) for part in chain), tuple(fleet), sectors_end)
            for chain, fleet in zip(chains, fleets, strict=True)
        ]
        for kept in search_parts(_search_chain, tasks):
            for van, route in kept:
                routes[van] = [node_of[stop] for stop in route]
        recombine_end = started + (deadline - started) * (SECTOR_SHARE + RECOMBINE_SHARE)
        routes = recombine(data, routes, points, recombine_end, workers, search_parts)
        lns_end = recombine_end + (deadline - started) * LNS_SHARE
        routes = improve_parts(data, routes, points, lns_end, count, search_parts)
    finally:
        _PROBLEM.pop()
        if pool is not None:
            pool.terminate()
    return improve(data, routes, deadline, on_solution)


def _groups(
    data: Data, routes: Routes, points: np.ndarray, start_at: int, count: int
) -> list[list[int]]:
    """Disjoint groups of consecutive routes by angle, about SECTOR_STOPS stops each.

    The groups are spread evenly around the depot from the start_at-th route.
    """
    used = [v for v, route in enumerate(routes) if route]
    centre = {v: np.mean([points[node - data.num_depots] for node in routes[v]], 0) for v in used}
    used.sort(key=lambda v: math.atan2(centre[v][1], centre[v][0]))
    groups: list[list[int]] = []
    taken: set[int] = set()
    for g in range(count):
        group: list[int] = []
        at = start_at + g * len(used) // count
        for k in range(len(used)):
            v = used[(at + k) % len(used)]
            if v in taken:
                break
            group.append(v)
            taken.add(v)
            if sum(len(routes[u]) for u in group) >= SECTOR_STOPS:
                break
        if group:
            groups.append(group)
    return groups


def recombine(
    data: Data,
    routes: Routes,
    points: np.ndarray,
    deadline: float,
    workers: int,
    search_parts: Callable[..., Iterable[PartRoutes]],
) -> Routes:
    """Re-search groups of neighbouring routes (by angle) across the sector borders.

    Each group, about SECTOR_STOPS stops from consecutive routes, is searched afresh with
    its vans and one spare; the new routes replace the group's when they cost less.
    """
    problem = data.problem
    node_of = {stop: data.num_depots + k for k, stop in enumerate(data.stop_indices)}
    slice_s = RECOMBINE_SLICE_S * max(1.0, len(data.stop_indices) / 1000)
    start_at = SECTOR_STOPS // 20
    while deadline - time.monotonic() > slice_s / 2:
        groups = _groups(data, routes, points, start_at, workers)
        start_at += max(1, sum(len(g) for g in groups) // len(groups))
        spares = [v for v, route in enumerate(routes) if not route]
        fleets = [group + spares[k : k + 1] for k, group in enumerate(groups)]
        tasks = [
            (
                tuple(data.stop_of(node) for v in group for node in routes[v]),
                tuple(fleet),
                slice_s,
                deadline,
            )
            for group, fleet in zip(groups, fleets, strict=True)
        ]
        for task, fleet, found in zip(
            tasks, fleets, search_parts(_search_part, tasks), strict=True
        ):
            if found is None:
                continue
            sub = build_data(with_vehicles(problem, fleet), task[0])
            position = {stop: sub.num_depots + k for k, stop in enumerate(sub.stop_indices)}
            current = [[position[data.stop_of(node)] for node in routes[v]] for v in fleet]
            if found[1] < objective_value(sub, current):
                for k, route in enumerate(found[0]):
                    routes[fleet[k]] = [node_of[stop] for stop in route]
    return routes


def improve(
    data: Data,
    routes: Routes,
    deadline: float,
    on_solution: Callable[[int], None] | None = None,
) -> tuple[Routes, int] | None:
    """Guided local search over all stops from the given routes until the deadline."""
    warm = warm_start(data, routes)
    if warm is None:
        return None
    model, start = warm
    routing = model.routing
    params = search.parameters(search.Strategy(), deadline - time.monotonic())
    params.use_iterated_local_search = False
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.ls_operator_neighbors_ratio = NEIGHBOURS / len(data.location)
    params.ls_operator_min_neighbors = NEIGHBOURS
    if on_solution is not None:
        callback = on_solution
        routing.AddAtSolutionCallback(lambda: callback(int(routing.CostVar().Max())))
    solution = routing.SolveFromAssignmentWithParameters(start, params)
    found = search.routes_of(model, start if solution is None else solution)
    return found, objective_value(data, found)
