"""Timed routes on real numbers from a visiting order, recomputed from the unscaled matrices."""

from __future__ import annotations

from collections.abc import Sequence

from logistics.solver.problem import Problem
from logistics.solver.result import Route, Visit


def timed_route(problem: Problem, vehicle: int, stops: Sequence[int]) -> Route:
    """The route of a vehicle through stops (indices into problem.stops) in this order.

    The van leaves as late as it can without returning later or missing a window, which
    removes waiting before the first stops and shortens the time cold parcels travel.
    """
    van = problem.vehicles[vehicle]
    start, end = problem.depot(van.start_depot), problem.depot(van.return_depot)
    path = [problem.stops[i] for i in stops]
    locations = [start.location, *(s.location for s in path), end.location]
    legs = [problem.durations[a][b] for a, b in zip(locations, locations[1:], strict=False)]

    earliest = max(van.shift_start, start.opens)
    departure = earliest + _departure_delay(problem, vehicle, stops, earliest)
    visits, time = [], departure
    for stop, leg in zip(path, legs, strict=False):
        arrival = time + leg
        begin = max(arrival, stop.earliest)
        visits.append(Visit(stop_id=stop.id, arrival=arrival, start=begin))
        time = begin + stop.service_time
    distance = sum(problem.distance(a, b) for a, b in zip(locations, locations[1:], strict=False))
    return Route(
        vehicle_id=van.id,
        departure=departure,
        visits=tuple(visits),
        return_time=time + legs[-1],
        distance=distance,
        travel_time=sum(legs),
    )


def _departure_delay(
    problem: Problem, vehicle: int, stops: Sequence[int], earliest: float
) -> float:
    """How long the van can wait at the depot: no later than the waiting it saves on the road,
    and no later than any window or the return deadline allows."""
    van = problem.vehicles[vehicle]
    start, end = problem.depot(van.start_depot), problem.depot(van.return_depot)
    here, time, waited = start.location, earliest, 0.0
    room = float("inf")
    for i in stops:
        stop = problem.stops[i]
        arrival = time + problem.durations[here][stop.location]
        begin = max(arrival, stop.earliest)
        waited += begin - arrival
        room = min(room, waited + stop.latest - begin)
        here, time = stop.location, begin + stop.service_time
    back = time + problem.durations[here][end.location]
    room = min(room, waited + min(van.shift_end, end.closes) - back)
    return max(0.0, min(room, waited))
