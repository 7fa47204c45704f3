"""Translation of a Problem into an OR-Tools routing model on integer data.

OR-Tools works on integers, so times, distances, costs and demands are multiplied by
SCALE (1000: a millisecond when times are seconds, 1/1000 of a Solomon distance unit).
Travel and service times round up and window ends round down, so a schedule feasible on
the integers is feasible on the real numbers too; reported distances and times are
recomputed from the unscaled matrices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp

from logistics.solver.problem import Problem

SCALE = 1000
TIME = "time"
COLD = "cold"


def up(value: float) -> int:
    """Scale a time, duration or demand to solver units, rounding up."""
    return math.ceil(value * SCALE - 1e-9)


def down(value: float) -> int:
    """Scale a limit (window end, capacity) to solver units, rounding down."""
    return math.floor(value * SCALE + 1e-9)


def scaled_up(
    matrix: Sequence[Sequence[float]], location: Sequence[int]
) -> tuple[tuple[int, ...], ...]:
    """up() of every entry between the given locations (vectorised: a city has 350,000)."""
    rows = np.array([matrix[a] for a in location], dtype=float)[:, list(location)]
    scaled = np.ceil(rows * SCALE - 1e-9).astype(np.int64)
    return tuple(map(tuple, scaled.tolist()))


@dataclass(frozen=True)
class Data:
    """Integer data on solver nodes: one node per depot, then one per routed stop."""

    problem: Problem
    stop_indices: tuple[int, ...]
    location: tuple[int, ...]
    travel: tuple[tuple[int, ...], ...]
    service: tuple[int, ...]
    windows: tuple[tuple[int, int], ...]
    horizon: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    vehicle_windows: tuple[tuple[int, int], ...]

    @property
    def num_depots(self) -> int:
        """Number of depot nodes (they come first)."""
        return len(self.problem.depots)

    def stop_of(self, node: int) -> int:
        """Index in problem.stops of the stop at a node."""
        return self.stop_indices[node - self.num_depots]


def build_data(problem: Problem, stop_indices: tuple[int, ...]) -> Data:
    """Scale the problem to integers for the given stops (indices into problem.stops)."""
    depots = problem.depots
    stops = [problem.stops[i] for i in stop_indices]
    location = tuple(d.location for d in depots) + tuple(s.location for s in stops)
    travel = scaled_up(problem.durations, location)
    service = (0,) * len(depots) + tuple(up(s.service_time) for s in stops)
    finite = [
        x
        for x in (
            *(d.closes for d in depots),
            *(s.latest for s in stops),
            *(s.earliest for s in stops),
            *(v.shift_end for v in problem.vehicles),
            *(v.shift_start for v in problem.vehicles),
        )
        if math.isfinite(x)
    ]
    horizon = up(max(finite, default=0.0)) + sum(service) + sum(max(row) for row in travel)

    def window(start: float, end: float) -> tuple[int, int]:
        return up(start), horizon if math.isinf(end) else min(horizon, down(end))

    windows = tuple(window(d.opens, d.closes) for d in depots) + tuple(
        window(s.earliest, s.latest) for s in stops
    )
    depot_node = {d.id: i for i, d in enumerate(depots)}
    vehicle_windows = []
    for v in problem.vehicles:
        start, end = depot_node[v.start_depot], depot_node[v.return_depot]
        shift = window(v.shift_start, v.shift_end)
        earliest = max(shift[0], windows[start][0])
        latest = min(shift[1], windows[start][1], windows[end][1])
        # A van whose shift cannot even hold the drive between its depots stays home, but
        # the model must still admit its empty route, else nothing at all is feasible.
        vehicle_windows.append((earliest, max(latest, earliest + travel[start][end])))
    return Data(
        problem=problem,
        stop_indices=stop_indices,
        location=location,
        travel=travel,
        service=service,
        windows=windows,
        horizon=horizon,
        starts=tuple(depot_node[v.start_depot] for v in problem.vehicles),
        ends=tuple(depot_node[v.return_depot] for v in problem.vehicles),
        vehicle_windows=tuple(vehicle_windows),
    )


@dataclass(frozen=True)
class Weights:
    """Objective weights: per van used (hierarchical only) and per stop left out."""

    van: int
    unassigned: int


@dataclass
class Model:
    """An OR-Tools routing model built from Data, with its index manager."""

    data: Data
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    weights: Weights

    def node(self, index: int) -> int:
        """Solver node of a routing index."""
        return int(self.manager.IndexToNode(index))


def _arc_costs(data: Data) -> list[list[int]]:
    """Integer arc costs: travel time, or distance under the distance objective."""
    problem = data.problem
    if problem.objective == "distance" and problem.distances is not None:
        return [list(row) for row in scaled_up(problem.distances, data.location)]
    return [list(row) for row in data.travel]


def weights(data: Data) -> Weights:
    """A van outweighs any travel; a stop left out outweighs any use of the fleet."""
    arc_bound = sum(max(row) for row in _arc_costs(data))
    fixed = [up(v.fixed_cost) for v in data.problem.vehicles]
    van = arc_bound + sum(fixed) + 1 if data.problem.objective == "hierarchical" else 0
    return Weights(van=van, unassigned=len(fixed) * (van + max(fixed)) + arc_bound + 1)


def max_arc_cost(data: Data) -> int:
    """The largest arc cost: the scale of one stop's price in the van-removal phase."""
    return max(1, max(max(row) for row in _arc_costs(data)))


def mean_arc_cost(data: Data) -> float:
    """The mean arc cost between distinct nodes (simulated annealing's temperature scale)."""
    costs = _arc_costs(data)
    n = len(costs)
    return sum(map(sum, costs)) / max(1, n * (n - 1))


def objective_value(data: Data, routes: Sequence[Sequence[int]]) -> int:
    """The objective of routes (solver nodes per vehicle) as build_model's model counts it."""
    costs = _arc_costs(data)
    weight = weights(data)
    served = {node for route in routes for node in route}
    total = weight.unassigned * (len(data.location) - data.num_depots - len(served))
    for v, route in enumerate(routes):
        if not route:
            continue
        path = [data.starts[v], *route, data.ends[v]]
        total += weight.van + up(data.problem.vehicles[v].fixed_cost)
        total += sum(costs[a][b] for a, b in zip(path, path[1:], strict=False))
    return total


def build_model(
    data: Data, weight: Weights | None = None, penalties: Sequence[int] | None = None
) -> Model:
    """Build the routing model: costs, time windows, capacities, cold chain, disjunctions.

    weight overrides the objective's weights and penalties (by node) the price of leaving
    each stop out: the van-removal phase caps the fleet instead of pricing vans, and prices
    stops left out lower, so that the search can trade them.
    """
    problem = data.problem
    n_vehicles = len(problem.vehicles)
    manager = pywrapcp.RoutingIndexManager(
        len(data.location), n_vehicles, list(data.starts), list(data.ends)
    )
    routing = pywrapcp.RoutingModel(manager)

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(_arc_costs(data)))
    weight = weights(data) if weight is None else weight
    for v, vehicle in enumerate(problem.vehicles):
        routing.SetFixedCostOfVehicle(weight.van + up(vehicle.fixed_cost), v)

    transit = [
        [data.service[a] + data.travel[a][b] for b in range(len(data.location))]
        for a in range(len(data.location))
    ]
    time_cb = routing.RegisterTransitMatrix(transit)
    routing.AddDimension(time_cb, data.horizon, data.horizon, False, TIME)
    time = routing.GetDimensionOrDie(TIME)
    for node in range(data.num_depots, len(data.location)):
        time.CumulVar(manager.NodeToIndex(node)).SetRange(*data.windows[node])
    for v, (earliest, latest) in enumerate(data.vehicle_windows):
        time.CumulVar(routing.Start(v)).SetRange(earliest, latest)
        time.CumulVar(routing.End(v)).SetRange(earliest, latest)
        routing.AddVariableMaximizedByFinalizer(time.CumulVar(routing.Start(v)))
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(routing.End(v)))

    _add_capacities(data, routing)
    _add_cold_chain(data, manager, routing, time_cb)

    for node in range(data.num_depots, len(data.location)):
        penalty = weight.unassigned if penalties is None else penalties[node]
        routing.AddDisjunction([manager.NodeToIndex(node)], penalty)
    for node in set(range(data.num_depots)) - set(data.starts) - set(data.ends):
        # A depot no van starts or ends at would be a place to visit: it stays out.
        index = manager.NodeToIndex(node)
        routing.AddDisjunction([index], 0)
        routing.ActiveVar(index).SetValue(0)
    return Model(data=data, manager=manager, routing=routing, weights=weight)


def _add_capacities(data: Data, routing: pywrapcp.RoutingModel) -> None:
    """One capacity dimension per demand dimension (missing vehicle capacity = 0)."""
    problem = data.problem
    for name in problem.dimensions:
        demand = [0] * data.num_depots + [
            up(problem.stops[i].demand.get(name, 0.0)) for i in data.stop_indices
        ]
        capacity = [down(v.capacity.get(name, 0.0)) for v in problem.vehicles]
        callback = routing.RegisterUnaryTransitVector(demand)
        routing.AddDimensionWithVehicleCapacity(callback, 0, capacity, True, f"load:{name}")


def _add_cold_chain(
    data: Data,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    time_callback: int,
) -> None:
    """Start of service at each cold stop minus its van's departure <= that van's limit.

    A second time dimension, COLD, starts at 0 on every van and moves with the time
    dimension (same transits, its slack tied to time's slack at every node), so its cumul
    is the time elapsed since the van left. Capping that cumul at cold stops is a plain
    bound the routing filters check on every move, which scales to a city (592 stops x 120
    vans) where one reified constraint per stop and van left the search without any
    solution. When all vans share one limit, the cap is exact. Otherwise the cap is the
    loosest finite limit (when every van has one), and each cold stop also gets one element
    constraint: its cumul <= the limit of the van that serves it.
    """
    problem = data.problem
    cold_nodes = [
        node
        for node in range(data.num_depots, len(data.location))
        if problem.stops[data.stop_of(node)].cold_chain
    ]
    limits = [
        down(v.max_cold_chain) if math.isfinite(v.max_cold_chain) else None
        for v in problem.vehicles
    ]
    if not cold_nodes or all(limit is None for limit in limits):
        return
    routing.AddDimension(
        time_callback,
        data.horizon,
        data.horizon,
        True,
        COLD,
    )
    time = routing.GetDimensionOrDie(TIME)
    cold = routing.GetDimensionOrDie(COLD)
    solver = routing.solver()
    for index in range(routing.Size()):
        if not routing.IsEnd(index):
            solver.Add(cold.SlackVar(index) == time.SlackVar(index))
    finite = [limit for limit in limits if limit is not None]
    cap = max(finite) if len(finite) == len(limits) else None
    for node in cold_nodes:
        index = manager.NodeToIndex(node)
        if cap is not None:
            cold.CumulVar(index).SetMax(cap)
    if cap is not None and min(finite) == cap:
        return
    # VehicleVar is -1 while a stop is unperformed: shift it by one to index the limits.
    by_vehicle = [data.horizon] + [data.horizon if x is None else x for x in limits]
    for node in cold_nodes:
        index = manager.NodeToIndex(node)
        served_by = (routing.VehicleVar(index) + 1).Var()
        solver.Add(cold.CumulVar(index) <= solver.Element(by_vehicle, served_by))
