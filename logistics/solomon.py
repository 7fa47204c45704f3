"""Solomon VRPTW instances: reader, conversion to a solver Problem, and an independent checker.

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
    """Parse a Solomon text file."""
    lines = [line.split() for line in Path(path).read_text().splitlines()]
    words = [w for w in lines if w]
    name = words[0][0]
    try:
        at = next(i for i, w in enumerate(words) if w[0].upper() == "NUMBER")
        vehicles, capacity = int(words[at + 1][0]), float(words[at + 1][1])
        first = next(i for i, w in enumerate(words) if w[0].upper() == "CUST") + 1
        customers = tuple(
            Customer(int(w[0]), *(float(x) for x in w[1:7])) for w in words[first:] if len(w) == 7
        )
    except (StopIteration, ValueError, IndexError, TypeError) as error:
        raise ValueError(f"{path}: not a Solomon instance ({error})") from error
    if not customers or [c.number for c in customers] != list(range(len(customers))):
        raise ValueError(f"{path}: customers must be numbered 0..n-1 with the depot first")
    return Instance(name=name, vehicles=vehicles, capacity=capacity, customers=customers)


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
