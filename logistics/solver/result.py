"""Solver output: routes with their schedule, totals, and every stop left unserved with why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Why a stop is unassigned."""

    CAPACITY = "demand exceeds every vehicle's capacity"
    TIME_WINDOW = "time window unreachable from any depot within any vehicle's shift"
    COLD_CHAIN = "cold-chain limit unreachable from any depot"
    NO_SINGLE_VEHICLE = "no vehicle meets capacity, time window and cold-chain limit together"
    FLEET_EXHAUSTED = "no vehicle left: every van is in use and none has room or time for it"
    TIME_LIMIT = "no vehicle left within time limit: no feasible insertion found in the search"


@dataclass(frozen=True)
class Visit:
    """A served stop: when the van arrives and when service starts."""

    stop_id: str
    arrival: float
    start: float


@dataclass(frozen=True)
class Route:
    """One van's trip: departure, visits in order, return, and its travel totals."""

    vehicle_id: str
    departure: float
    visits: tuple[Visit, ...]
    return_time: float
    distance: float
    travel_time: float

    @property
    def stop_ids(self) -> tuple[str, ...]:
        """Ids of the stops in visiting order."""
        return tuple(v.stop_id for v in self.visits)

    @property
    def duration(self) -> float:
        """Time from departure to return."""
        return self.return_time - self.departure


@dataclass(frozen=True)
class Unassigned:
    """A stop no route serves, with the reason."""

    stop_id: str
    reason: Reason


@dataclass(frozen=True)
class Result:
    """The best solution found: non-empty routes and unassigned stops."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    objective: int
    runtime_s: float

    @property
    def vehicles_used(self) -> int:
        """Number of vans with at least one stop."""
        return len(self.routes)

    @property
    def distance(self) -> float:
        """Total distance over all routes (un-rounded)."""
        return sum(r.distance for r in self.routes)

    @property
    def duration(self) -> float:
        """Total time from departure to return over all routes."""
        return sum(r.duration for r in self.routes)

    @property
    def travel_time(self) -> float:
        """Total driving time over all routes."""
        return sum(r.travel_time for r in self.routes)

    def route_of(self, vehicle_id: str) -> Route | None:
        """The route of this vehicle, or None when it stays at the depot."""
        return next((r for r in self.routes if r.vehicle_id == vehicle_id), None)
