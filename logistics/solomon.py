"""Solomon VRPTW instances: reading (vrplib), a solver Problem of one, an independent checker.

Conventions (those of the published best-known solutions): Euclidean distance in double
precision, never rounded; travel time equals distance; a customer's due date is the latest
start of service; the depot's due date is the latest return to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from logistics.solver import Depot, Objective, Problem, Stop, Vehicle

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Customer:
    """One line of the customer table (number 0 is the depot)."""

    number: int
    x: float
    y: float
    demand: float
    ready: float
    due: float
    service: float


@dataclass(frozen=True)
class Instance:
    """A Solomon instance: name, fleet and the depot followed by the customers."""

    name: str
    vehicles: int
    capacity: float
    customers: tuple[Customer, ...]

    @property
    def depot(self) -> Customer:
        """The depot (customer number 0)."""
        return self.customers[0]

    def distance(self, a: int, b: int) -> float:
        """Euclidean distance between two customers by number."""
        p, q = self.customers[a], self.customers[b]
        return math.hypot(p.x - q.x, p.y - q.y)


def read(path: str | Path) -> Instance:
    """Parse a Solomon text file (with `vrplib`, in the test and bench extras)."""
    try:
        import vrplib
    except ModuleNotFoundError as error:  # a production install has no instance files to read
        raise RuntimeError(
            "reading Solomon instances needs vrplib: pip install pickup[bench]"
        ) from error
    try:
        data = vrplib.read_instance(
            str(path), instance_format="solomon", compute_edge_weights=False
        )
        coords, windows = data["node_coord"], data["time_window"]
        customers = tuple(
            Customer(
                number,
                float(coords[number][0]),
                float(coords[number][1]),
                float(data["demand"][number]),
                float(windows[number][0]),
                float(windows[number][1]),
                float(data["service_time"][number]),
            )
            for number in range(len(coords))
        )
        vehicles, capacity = int(data["vehicles"]), float(data["capacity"])
    except (RuntimeError, KeyError, ValueError, IndexError, TypeError) as error:
        raise ValueError(f"{path}: not a Solomon instance ({error})") from error
    if not customers:
        raise ValueError(f"{path}: no depot and no customers")
    return Instance(
        name=str(data["name"]), vehicles=vehicles, capacity=capacity, customers=customers
    )


def to_problem(instance: Instance, objective: Objective = "hierarchical") -> Problem:
    """The instance as a solver Problem; stop and vehicle ids are customer/van numbers."""
    n = len(instance.customers)
    matrix = [[instance.distance(a, b) for b in range(n)] for a in range(n)]
    depot = instance.depot
    return Problem(
        durations=matrix,
        depots=[Depot(id="depot", location=0, opens=depot.ready, closes=depot.due)],
        stops=[
            Stop(
                id=str(c.number),
                location=c.number,
                earliest=c.ready,
                latest=c.due,
                service_fixed=c.service,
                demand={"load": c.demand},
            )
            for c in instance.customers[1:]
        ],
        vehicles=[
            Vehicle(id=str(v), start_depot="depot", capacity={"load": instance.capacity})
            for v in range(instance.vehicles)
        ],
        objective=objective,
    )


def route_distance(instance: Instance, route: Sequence[int]) -> float:
    """Length of a depot -> customers -> depot route, unrounded."""
    path = [0, *route, 0]
    return sum(instance.distance(a, b) for a, b in zip(path, path[1:], strict=False))


def violations(instance: Instance, routes: Sequence[Sequence[int]]) -> list[str]:
    """Everything wrong with a solution (routes of customer numbers); empty when feasible.

    Checks, on real numbers and independently of the solver: each customer served exactly
    once, the fleet size, each route's load, service starting within each customer's
    window, and the return to the depot by its due date.
    """
    problems: list[str] = []
    served = sorted(c for route in routes for c in route)
    expected = list(range(1, len(instance.customers)))
    if served != expected:
        missing = sorted(set(expected) - set(served))
        extra = sorted({c for c in served if served.count(c) > 1 or c not in expected})
        problems.append(
            f"customers not served exactly once: missing {missing}, repeated/unknown {extra}"
        )
        return problems
    used = [r for r in routes if r]
    if len(used) > instance.vehicles:
        problems.append(f"{len(used)} routes but only {instance.vehicles} vehicles")
    depot = instance.depot
    for k, route in enumerate(used):
        load = sum(instance.customers[c].demand for c in route)
        if load > instance.capacity + TOLERANCE:
            problems.append(f"route {k}: load {load} > capacity {instance.capacity}")
        time, here = depot.ready, 0
        for c in route:
            customer = instance.customers[c]
            time = max(time + instance.distance(here, c), customer.ready)
            if time > customer.due + TOLERANCE:
                problems.append(
                    f"route {k}: customer {c} starts at {time:.4f} > due {customer.due}"
                )
            time, here = time + customer.service, c
        time += instance.distance(here, 0)
        if time > depot.due + TOLERANCE:
            problems.append(f"route {k}: returns at {time:.4f} > depot due {depot.due}")
    return problems
