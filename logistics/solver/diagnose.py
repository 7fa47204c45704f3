"""Reasons for unassigned stops: prechecks on a stop alone, and classification after a solve."""

from __future__ import annotations

import math
from collections.abc import Collection

from logistics.solver.model import Data, down, up
from logistics.solver.problem import Problem
from logistics.solver.result import Reason


def _fits(problem: Problem, stop: int, vehicle: int) -> bool:
    """Whether the van's capacity holds the stop's demand in every dimension."""
    demand = problem.stops[stop].demand
    capacity = problem.vehicles[vehicle].capacity
    return all(up(amount) <= down(capacity.get(name, 0.0)) for name, amount in demand.items())


def _reachable(data: Data, node: int, vehicle: int) -> bool:
    """Whether the van can go depot -> stop -> depot alone within all time windows."""
    earliest, latest = data.vehicle_windows[vehicle]
    start, end = data.starts[vehicle], data.ends[vehicle]
    window_start, window_end = data.windows[node]
    service = max(earliest + data.travel[start][node], window_start)
    back = service + data.service[node] + data.travel[node][end]
    return service <= window_end and back <= latest


def _cold_ok(data: Data, node: int, vehicle: int) -> bool:
    """Whether a cold stop can be reached from the van's depot within its cold-chain limit."""
    problem = data.problem
    if not problem.stops[data.stop_of(node)].cold_chain:
        return True
    limit = problem.vehicles[vehicle].max_cold_chain
    return math.isinf(limit) or data.travel[data.starts[vehicle]][node] <= down(limit)


def _serves_alone(data: Data, stop: int, node: int, vehicle: int) -> bool:
    """Whether the van could serve this stop on a trip of its own."""
    return (
        _fits(data.problem, stop, vehicle)
        and _reachable(data, node, vehicle)
        and _cold_ok(data, node, vehicle)
    )


def _distinct_vehicles(data: Data) -> list[int]:
    """One van of each kind the checks tell apart (a city's 120 vans are 3 kinds)."""
    kinds: dict[tuple[object, ...], int] = {}
    for v, van in enumerate(data.problem.vehicles):
        kind = (
            tuple(sorted(van.capacity.items())),
            van.max_cold_chain,
            data.vehicle_windows[v],
            data.starts[v],
            data.ends[v],
        )
        kinds.setdefault(kind, v)
    return list(kinds.values())


def precheck(data: Data) -> dict[int, Reason]:
    """Stops (indices into problem.stops) that no van could serve even alone, with why."""
    problem = data.problem
    vehicles = _distinct_vehicles(data)
    reasons: dict[int, Reason] = {}
    for node in range(data.num_depots, len(data.location)):
        stop = data.stop_of(node)
        checks = [
            (_fits(problem, stop, v), _reachable(data, node, v), _cold_ok(data, node, v))
            for v in vehicles
        ]
        if any(all(check) for check in checks):
            continue
        if not any(fits for fits, _, _ in checks):
            reasons[stop] = Reason.CAPACITY
        elif not any(reach for _, reach, _ in checks):
            reasons[stop] = Reason.TIME_WINDOW
        elif not any(reach and cold for _, reach, cold in checks):
            reasons[stop] = Reason.COLD_CHAIN
        else:
            reasons[stop] = Reason.NO_SINGLE_VEHICLE
    return reasons


def after_search(data: Data, node: int, used_vehicles: Collection[int]) -> Reason:
    """Why a stop that passed the prechecks was left out of the best solution found."""
    stop = data.stop_of(node)
    for v in range(len(data.problem.vehicles)):
        if v not in used_vehicles and _serves_alone(data, stop, node, v):
            return Reason.TIME_LIMIT
    return Reason.FLEET_EXHAUSTED
