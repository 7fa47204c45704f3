"""Decomposition of large problems: sweep sectors, recombination, the global search."""

import functools
import math
import multiprocessing
import time

import pytest

from logistics.solver import Depot, Problem, Stop, Vehicle, check, solve
from logistics.solver.decompose import DECOMPOSE_ABOVE, SECTOR_STOPS, sectors
from logistics.solver.lns import MIN_ROUTES, PROBLEM, _round, improve_parts
from logistics.solver.model import build_data, objective_value
from logistics.solver.solve import _result


def _ring(stops: int) -> Problem:
    """Stops on rings around a central depot (location 0), each van carrying ten."""
    points = [(0.0, 0.0)] + [
        ((1 + k % 3) * math.cos(k * 0.37), (1 + k % 3) * math.sin(k * 0.37)) for k in range(stops)
    ]
    return Problem(
        durations=[[10 * math.dist(p, q) for q in points] for p in points],
        depots=[Depot("depot", 0)],
        stops=[
            Stop(f"s{k}", k + 1, latest=200.0, service_fixed=1.0, demand={"load": 1})
            for k in range(stops)
        ],
        vehicles=[Vehicle(f"van{v}", "depot", capacity={"load": 10}) for v in range(stops // 5)],
    )


def test_sectors_cut_every_stop_once_into_parts_of_about_sector_stops() -> None:
    problem = _ring(2 * SECTOR_STOPS + 40)
    parts, points = sectors(build_data(problem, tuple(range(len(problem.stops)))))

    assert sorted(stop for part in parts for stop in part) == list(range(len(problem.stops)))
    assert len(parts) == 2
    assert all(abs(len(part) - len(problem.stops) / 2) <= 1 for part in parts)
    assert points.shape == (len(problem.stops), 2)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_problem_above_the_threshold_is_solved_by_sectors_and_checks(workers: int) -> None:
    problem = _ring(DECOMPOSE_ABOVE + 30)

    result = solve(problem, time_limit_s=6.0, workers=workers)

    assert check.violations(problem, result) == []
    assert not result.unassigned
    assert len(result.routes) >= math.ceil(len(problem.stops) / 10)


def test_a_budget_too_short_for_any_search_still_routes_every_stop() -> None:
    problem = _ring(600)

    result = solve(problem, time_limit_s=0.05, workers=1)

    assert check.violations(problem, result) == []
    assert not result.unassigned


@pytest.mark.parametrize("workers", [1, 2])
def test_improve_parts_keeps_every_stop_served_and_lowers_the_cost(workers: int) -> None:
    problem = _ring(DECOMPOSE_ABOVE + 30)
    data = build_data(problem, tuple(range(len(problem.stops))))
    _, points = sectors(data)
    # Poor routes: stops five at a time in their given order (around the rings, not by angle).
    nodes = list(range(data.num_depots, len(data.location)))
    routes = [nodes[k : k + 5] for k in range(0, len(nodes), 5)]
    routes += [[] for _ in range(len(problem.vehicles) - len(routes))]

    PROBLEM.append(problem)  # as decompose.run does: forked workers read it
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        search_parts = map if pool is None else functools.partial(pool.map, chunksize=1)
        improved = improve_parts(
            data, routes, points, time.monotonic() + 3.0, workers, search_parts
        )
    finally:
        PROBLEM.pop()
        if pool is not None:
            pool.terminate()

    assert sorted(node for route in improved for node in route) == nodes
    assert objective_value(data, improved) < objective_value(data, routes)
    stop_routes = [[data.stop_of(node) for node in route] for route in improved]
    result = _result(data, stop_routes, objective_value(data, improved), [], 0.0)
    assert check.violations(problem, result) == []


def test_a_round_gives_each_worker_a_part_sharing_no_route_with_the_others() -> None:
    problem = _ring(DECOMPOSE_ABOVE + 30)
    data = build_data(problem, tuple(range(len(problem.stops))))
    _, points = sectors(data)
    nodes = list(range(data.num_depots, len(data.location)))
    routes = [nodes[k : k + 6] for k in range(0, len(nodes), 6)]  # 30 routes, 6 vans idle
    routes += [[] for _ in range(len(problem.vehicles) - len(routes))]
    used = [v for v, route in enumerate(routes) if route]

    fleets = _round(data, routes, points, used, 2)

    assert len(fleets) == 2
    vans = [v for fleet in fleets for v in fleet]
    assert len(vans) == len(set(vans))
    assert all(sum(1 for v in fleet if routes[v]) >= MIN_ROUTES for fleet in fleets)
    assert all(sum(1 for v in fleet if not routes[v]) == 1 for fleet in fleets)
