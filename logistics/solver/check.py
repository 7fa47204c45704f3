"""An independent check of a Result against its Problem, on real numbers, without OR-Tools."""

from __future__ import annotations

from logistics.solver.problem import Problem
from logistics.solver.result import Result, Route

TOLERANCE = 1e-6


def violations(problem: Problem, result: Result) -> list[str]:
    """Everything wrong with a result; empty when every constraint holds."""
    problems: list[str] = []
    served = [stop_id for route in result.routes for stop_id in route.stop_ids]
    left = [u.stop_id for u in result.unassigned]
    expected = sorted(s.id for s in problem.stops)
    if sorted(served + left) != expected:
        problems.append("stops are not each either served once or reported unassigned")
    vehicles = [r.vehicle_id for r in result.routes]
    if len(set(vehicles)) != len(vehicles):
        problems.append("a vehicle has more than one route")
    for route in result.routes:
        problems.extend(f"{route.vehicle_id}: {p}" for p in _route_violations(problem, route))
    return problems


def _route_violations(problem: Problem, route: Route) -> list[str]:
    """What is wrong with one route: times, windows, capacities, cold chain."""
    vehicle = next((v for v in problem.vehicles if v.id == route.vehicle_id), None)
    if vehicle is None:
        return ["unknown vehicle"]
    start_depot, end_depot = problem.depot(vehicle.start_depot), problem.depot(vehicle.return_depot)
    stops = {s.id: s for s in problem.stops}
    found: list[str] = []
    if route.departure < max(vehicle.shift_start, start_depot.opens) - TOLERANCE:
        found.append(f"departs at {route.departure} before the shift or depot opens")
    time, here, last_cold = route.departure, start_depot.location, route.departure
    load: dict[str, float] = {}
    for visit in route.visits:
        stop = stops[visit.stop_id]
        arrival = time + problem.durations[here][stop.location]
        start = max(arrival, stop.earliest)
        if abs(visit.start - start) > TOLERANCE or abs(visit.arrival - arrival) > TOLERANCE:
            found.append(f"{stop.id}: reported times differ from the recomputed {arrival}/{start}")
        if start > stop.latest + TOLERANCE:
            found.append(
                f"{stop.id}: service starts at {start} after its window ends {stop.latest}"
            )
        if stop.cold_chain:
            last_cold = start
        for name, amount in stop.demand.items():
            load[name] = load.get(name, 0.0) + amount
        time, here = start + stop.service_time, stop.location
    back = time + problem.durations[here][end_depot.location]
    if back > min(vehicle.shift_end, end_depot.closes) + TOLERANCE:
        found.append(f"returns at {back} after the shift or depot closes")
    if abs(back - route.return_time) > TOLERANCE:
        found.append(f"reported return {route.return_time} differs from the recomputed {back}")
    for name, amount in load.items():
        if amount > vehicle.capacity.get(name, 0.0) + TOLERANCE:
            found.append(f"load {amount} of {name!r} exceeds capacity")
    if last_cold - route.departure > vehicle.max_cold_chain + TOLERANCE:
        found.append(f"last cold stop {last_cold - route.departure} after departure > limit")
    return found
