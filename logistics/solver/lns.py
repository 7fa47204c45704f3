"""Large neighbourhood search on the joined routes of a decomposed solve.

After the sectors, each round takes the lightest route not yet in a round with its
nearest routes (by the centres of their stops in the sweep plane), at least MIN_ROUTES
routes and GROUP_STOPS stops, and searches that part alone from its current routes, with
one idle van more; the part's new routes replace its old ones when they cost less. With
several workers (a forked pool), each takes a part that shares no route with the others'
and the results apply together.

One worker runs a plain local search to its first local optimum (OR-Tools' iterated local
search cannot start from given routes: `SolveFromAssignmentWithParameters` stops at the
first local optimum, about 25 ms for 60 city stops). Parallel workers run guided local
search for the part's slice instead: the descents alone saturate (two workers found
exactly what one did), guided local search keeps improving with the time two cores give.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from ortools.constraint_solver import routing_enums_pb2

from logistics.solver import search
from logistics.solver.model import Data, Model, build_data, build_model, objective_value
from logistics.solver.problem import Problem

Routes = list[list[int]]

GROUP_STOPS = 60
MIN_ROUTES = 7
SLICE_S = 1.0

PROBLEM: list[Problem] = []
"""The problem being decomposed, read by forked pool workers (a 1,000-stop matrix is not
worth pickling for every task)."""

Part = tuple[tuple[int, ...], tuple[tuple[int, ...], ...], float, bool]
"""A part to search: vans, each van's route (stop indices), the deadline, and whether the
search is guided."""


def with_vehicles(problem: Problem, vehicles: list[int]) -> Problem:
    """The problem with only some of its vans (already validated: no new references)."""
    sub = copy.copy(problem)
    object.__setattr__(sub, "vehicles", tuple(problem.vehicles[v] for v in vehicles))
    return sub


def _group(data: Data, routes: Routes, points: np.ndarray, van: int, taken: set[int]) -> list[int]:
    """The van's route and its nearest routes not taken: MIN_ROUTES and GROUP_STOPS at least.

    Clustered instances with wide windows (Gehring-Homberger C2: about 25 stops a route)
    gained 12 % in their parts with 7 routes, 9 % with the 2-3 routes of 60 stops.
    """
    used = [v for v, route in enumerate(routes) if route and v not in taken]
    centre = {v: np.mean([points[node - data.num_depots] for node in routes[v]], 0) for v in used}
    near = sorted(used, key=lambda v: (float(np.sum((centre[v] - centre[van]) ** 2)), v))
    group: list[int] = []
    for v in near:
        group.append(v)
        if len(group) >= MIN_ROUTES and sum(len(routes[u]) for u in group) >= GROUP_STOPS:
            break
    return group


def warm_start(data: Data, routes: Routes) -> tuple[Model, Any] | None:
    """The model of `data` and its assignment holding `routes` (None if they do not fit it)."""
    model = build_model(data)
    start = model.routing.ReadAssignmentFromRoutes(
        [[model.manager.NodeToIndex(node) for node in route] for route in routes], True
    )
    return None if start is None else (model, start)


def descend(data: Data, routes: Routes, deadline: float, guided: bool) -> Routes | None:
    """Local search from the routes: to its first local optimum, or guided until the deadline."""
    warm = warm_start(data, routes)
    if warm is None:
        return None
    model, start = warm
    params = search.parameters(search.Strategy(), deadline - time.monotonic())
    if guided:
        params.use_iterated_local_search = False
        params.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        )
    solution = model.routing.SolveFromAssignmentWithParameters(start, params)
    return None if solution is None else search.routes_of(model, solution)


def search_part(part: Part) -> Routes | None:
    """Search one part (in a worker); its new routes as stop indices, if they cost less."""
    fleet, routes, deadline, guided = part
    stops = tuple(stop for route in routes for stop in route)
    sub = build_data(with_vehicles(PROBLEM[-1], list(fleet)), stops)
    position = {stop: sub.num_depots + k for k, stop in enumerate(stops)}
    current = [[position[stop] for stop in route] for route in routes]
    found = descend(sub, current, deadline, guided)
    if found is None or objective_value(sub, found) >= objective_value(sub, current):
        return None
    return [[sub.stop_of(node) for node in route] for route in found]


def _round(
    data: Data, routes: Routes, points: np.ndarray, candidates: list[int], workers: int
) -> list[list[int]]:
    """Up to `workers` parts sharing no route, lightest route first, each with a spare van."""
    spares = [v for v, route in enumerate(routes) if not route]
    fleets: list[list[int]] = []
    taken: set[int] = set()
    while candidates and len(fleets) < workers:
        van = min(candidates, key=lambda v: (len(routes[v]), v))
        group = _group(data, routes, points, van, taken)
        taken.update(group)
        fleets.append(group + spares[len(fleets) : len(fleets) + 1])
        candidates = [v for v in candidates if v not in taken]
    return fleets


def improve_parts(
    data: Data,
    routes: Routes,
    points: np.ndarray,
    deadline: float,
    workers: int = 1,
    search_parts: Callable[..., Iterable[Routes | None]] = map,
) -> Routes:
    """Re-search parts of neighbouring routes from their routes until the deadline.

    search_parts maps search_part over a round's parts (a forked pool's map with workers).
    """
    routes = [list(route) for route in routes]
    node_of = {stop: data.num_depots + k for k, stop in enumerate(data.stop_indices)}
    done: set[int] = set()
    PROBLEM.append(data.problem)
    try:
        while deadline - time.monotonic() > SLICE_S / 2:
            candidates = [v for v, route in enumerate(routes) if route and v not in done]
            if not candidates:
                if not done:
                    break
                done.clear()
                continue
            fleets = _round(data, routes, points, candidates, workers)
            done.update(v for fleet in fleets for v in fleet)
            end = min(deadline, time.monotonic() + SLICE_S)
            parts = [
                (
                    tuple(fleet),
                    tuple(tuple(data.stop_of(node) for node in routes[v]) for v in fleet),
                    end,
                    workers > 1,
                )
                for fleet in fleets
            ]
            for fleet, found in zip(fleets, search_parts(search_part, parts), strict=True):
                for k, route in enumerate(found or ()):
                    routes[fleet[k]] = [node_of[stop] for stop in route]
    finally:
        PROBLEM.pop()
    return routes
