"""Problem data: depots, stops, vehicles and travel matrices, validated at construction.

Times are in one unit chosen by the caller (seconds in production, Solomon's distance
units in benchmarks); every time field below (windows, service, shift, cold-chain limit)
uses that same unit as the travel-time matrix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Objective = Literal["hierarchical", "distance"]
Matrix = tuple[tuple[float, ...], ...]


def _frozen_amounts(what: str, amounts: Mapping[str, float]) -> Mapping[str, float]:
    """Copy a dimension -> amount mapping, refusing negative or non-finite amounts."""
    for key, value in amounts.items():
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{what}[{key!r}] must be a finite number >= 0, got {value!r}")
    return dict(amounts)


def _check_window(what: str, start: float, end: float) -> None:
    """Refuse a window that is negative, NaN or ends before it starts."""
    if math.isnan(start) or math.isnan(end):
        raise ValueError(f"{what}: window bounds must not be NaN")
    if start < 0 or math.isinf(start):
        raise ValueError(f"{what}: window start must be finite and >= 0, got {start}")
    if end < start:
        raise ValueError(f"{what}: window end {end} is before its start {start}")


@dataclass(frozen=True)
class Depot:
    """A depot (cold store) at a location; vans leave after `opens` and return by `closes`."""

    id: str
    location: int
    opens: float = 0.0
    closes: float = math.inf

    def __post_init__(self) -> None:
        _check_window(f"depot {self.id!r}", self.opens, self.closes)


@dataclass(frozen=True)
class Stop:
    """A stop to serve once: service must start within [earliest, latest]."""

    id: str
    location: int
    earliest: float = 0.0
    latest: float = math.inf
    service_fixed: float = 0.0
    service_per_parcel: float = 0.0
    parcels: int = 0
    demand: Mapping[str, float] = field(default_factory=dict)
    cold_chain: bool = False

    def __post_init__(self) -> None:
        _check_window(f"stop {self.id!r}", self.earliest, self.latest)
        for name in ("service_fixed", "service_per_parcel"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"stop {self.id!r}: {name} must be finite and >= 0")
        if self.parcels < 0:
            raise ValueError(f"stop {self.id!r}: parcels must be >= 0, got {self.parcels}")
        object.__setattr__(self, "demand", _frozen_amounts(f"stop {self.id!r} demand", self.demand))

    @property
    def service_time(self) -> float:
        """Time spent at the stop: a fixed part plus a part per parcel."""
        return self.service_fixed + self.service_per_parcel * self.parcels


@dataclass(frozen=True)
class Vehicle:
    """A van: where it starts and ends, its shift, capacity per dimension and costs.

    A dimension missing from `capacity` means the van carries none of it. `max_cold_chain`
    bounds the time from leaving the depot to the start of service at its last cold stop.
    """

    id: str
    start_depot: str
    end_depot: str | None = None
    shift_start: float = 0.0
    shift_end: float = math.inf
    capacity: Mapping[str, float] = field(default_factory=dict)
    fixed_cost: float = 0.0
    max_cold_chain: float = math.inf

    def __post_init__(self) -> None:
        _check_window(f"vehicle {self.id!r} shift", self.shift_start, self.shift_end)
        if not math.isfinite(self.fixed_cost) or self.fixed_cost < 0:
            raise ValueError(f"vehicle {self.id!r}: fixed_cost must be finite and >= 0")
        if math.isnan(self.max_cold_chain) or self.max_cold_chain < 0:
            raise ValueError(f"vehicle {self.id!r}: max_cold_chain must be >= 0")
        object.__setattr__(
            self, "capacity", _frozen_amounts(f"vehicle {self.id!r} capacity", self.capacity)
        )

    @property
    def return_depot(self) -> str:
        """The depot the van ends at (its start depot unless told otherwise)."""
        return self.start_depot if self.end_depot is None else self.end_depot


def _matrix(what: str, rows: Sequence[Sequence[float]], size: int | None) -> Matrix:
    """Copy a square matrix of finite non-negative numbers, checking its size."""
    n = len(rows) if size is None else size
    if len(rows) != n or any(len(row) != n for row in rows):
        raise ValueError(f"{what} must be a square {n}x{n} matrix")
    values = np.asarray(rows, dtype=float).reshape(n, n)
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f"{what}[{i}][{j}] must be finite and >= 0, got {values[i, j]}")
    return tuple(map(tuple, values.tolist()))


@dataclass(frozen=True, init=False)
class Problem:
    """A routing problem over locations 0..n-1 of the travel-time matrix.

    objective "hierarchical" uses as few vans as possible, then the least travel time;
    "distance" minimises distance (the distance matrix, else travel time) only. Vehicle
    fixed costs, in the same unit as the arcs, are added in both.
    """

    durations: Matrix
    depots: tuple[Depot, ...]
    stops: tuple[Stop, ...]
    vehicles: tuple[Vehicle, ...]
    distances: Matrix | None = None
    objective: Objective = "hierarchical"

    def __init__(
        self,
        *,
        durations: Sequence[Sequence[float]],
        depots: Sequence[Depot],
        stops: Sequence[Stop],
        vehicles: Sequence[Vehicle],
        distances: Sequence[Sequence[float]] | None = None,
        objective: Objective = "hierarchical",
    ) -> None:
        set_ = object.__setattr__
        set_(self, "durations", _matrix("durations", durations, None))
        size = len(self.durations)
        set_(
            self, "distances", None if distances is None else _matrix("distances", distances, size)
        )
        set_(self, "depots", tuple(depots))
        set_(self, "stops", tuple(stops))
        set_(self, "vehicles", tuple(vehicles))
        set_(self, "objective", objective)
        self._validate()

    def _validate(self) -> None:
        """Check references between the parts: locations, ids, depots of vehicles."""
        if self.objective not in ("hierarchical", "distance"):
            raise ValueError(
                f"objective must be 'hierarchical' or 'distance', not {self.objective!r}"
            )
        if not self.depots:
            raise ValueError("a problem needs at least one depot")
        if not self.vehicles:
            raise ValueError("a problem needs at least one vehicle")
        size = len(self.durations)
        places: list[Depot | Stop] = [*self.depots, *self.stops]
        for place in places:
            if not 0 <= place.location < size:
                raise ValueError(
                    f"{place.id!r}: location {place.location} is outside the {size}x{size} matrix"
                )
        ids = [p.id for p in places]
        vehicle_ids = [v.id for v in self.vehicles]
        for kind, seen in (("depot/stop", ids), ("vehicle", vehicle_ids)):
            duplicates = sorted({i for i in seen if seen.count(i) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} ids: {duplicates}")
        depot_ids = {d.id for d in self.depots}
        for v in self.vehicles:
            for depot in (v.start_depot, v.return_depot):
                if depot not in depot_ids:
                    raise ValueError(f"vehicle {v.id!r}: unknown depot {depot!r}")

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The capacity dimensions any stop has demand in, sorted."""
        return tuple(sorted({key for s in self.stops for key in s.demand}))

    def depot(self, depot_id: str) -> Depot:
        """The depot with this id."""
        return next(d for d in self.depots if d.id == depot_id)

    def distance(self, a: int, b: int) -> float:
        """Distance between two locations (travel time when no distance matrix is given)."""
        matrix = self.durations if self.distances is None else self.distances
        return matrix[a][b]
