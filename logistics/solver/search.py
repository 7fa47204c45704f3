"""Search strategies: OR-Tools parameters and one search run on a built model.

The search is OR-Tools' iterated local search with SISR ruin (Christiaens and Vanden
Berghe's slack induction by string removals) and cheapest-insertion recreate, accepted by
simulated annealing; see docs/benchmarks-routing.md for the measurements behind it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from logistics.solver.model import (
    Data,
    Model,
    Weights,
    build_model,
    max_arc_cost,
    mean_arc_cost,
    objective_value,
)

Routes = list[list[int]]
"""Solver nodes visited by each vehicle, in order, without the depots."""

_FirstSolution = routing_enums_pb2.FirstSolutionStrategy
_Metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic

# Operators switched off: pickup-and-delivery and visit-type moves (unused here) and the
# costly LNS / Lin-Kernighan moves; ruin-and-recreate does their work faster, and the
# lighter local search runs several times more iterations (R201: 2.5% -> 0.8% in 10 s).
_OFF_OPERATORS = (
    "lin_kernighan",
    "global_cheapest_insertion_path_lns",
    "local_cheapest_insertion_path_lns",
    "relocate_path_global_cheapest_insertion_insert_unperformed",
    "global_cheapest_insertion_visit_types_lns",
    "local_cheapest_insertion_visit_types_lns",
    "make_chain_inactive",
    "swap_active_chain",
    "shortest_path_swap_active",
    "shortest_path_two_opt",
    "relocate_pair",
    "light_relocate_pair",
    "exchange_pair",
    "relocate_subtrip",
    "exchange_subtrip",
)


@dataclass(frozen=True)
class Strategy:
    """One search configuration; parallel workers run different ones.

    fleet_share: under the hierarchical objective, the share of the time spent first on
    removing vans (see reduce_fleet), after a first search of first_share of the time,
    before minimising cost with the fleet capped at what it reached.
    temperature: simulated annealing's initial temperature as a share of the mean arc
    cost (final: a hundredth of it); 0 leaves it to OR-Tools (a tenth of a sampled mean).
    """

    avg_removed_visits: int = 20
    max_removed_sequence: int = 10
    fleet_share: float = 0.0
    first_share: float = 0.1
    temperature: float = 0.0


STRATEGIES = (Strategy(fleet_share=0.3), Strategy(fleet_share=0.5, temperature=0.025))
CONSTRUCT_CAP_S = 30.0


def parameters(
    strategy: Strategy, seconds: float, *, fleet: bool = False, mean_arc: float = 0.0
) -> pywrapcp.DefaultRoutingSearchParameters:
    """OR-Tools search parameters for a strategy and a time budget."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = _FirstSolution.LOCAL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = _Metaheuristic.GREEDY_DESCENT
    for operator in _OFF_OPERATORS:
        setattr(params.local_search_operators, f"use_{operator}", optional_boolean_pb2.BOOL_FALSE)
    params.use_iterated_local_search = True
    ils = params.iterated_local_search_parameters
    ruin_recreate = ils.ruin_recreate_parameters
    del ruin_recreate.ruin_strategies[:]
    sisr = ruin_recreate.ruin_strategies.add().sisr
    sisr.max_removed_sequence_size = strategy.max_removed_sequence
    sisr.avg_num_removed_visits = strategy.avg_removed_visits
    sisr.bypass_factor = 0.01
    ruin_recreate.recreate_strategy.heuristic = _FirstSolution.LOCAL_CHEAPEST_INSERTION
    ils.improve_perturbed_solution = True
    acceptance = ils.reference_solution_acceptance_strategy
    if fleet:
        acceptance.absences_based.remove_route_with_lowest_absences = True
    else:
        annealing = acceptance.simulated_annealing
        if strategy.temperature and mean_arc:
            annealing.initial_temperature = strategy.temperature * mean_arc
            annealing.final_temperature = strategy.temperature * mean_arc / 100
        else:
            annealing.automatic_temperatures = True
    params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    return params


def _solve(
    model: Model,
    params: pywrapcp.DefaultRoutingSearchParameters,
    on_solution: Callable[[int], None] | None,
) -> tuple[Routes, int] | None:
    """One iterated local search on a model; the routes and objective found, if any."""
    routing = model.routing
    if on_solution is not None:
        callback = on_solution
        routing.AddAtSolutionCallback(lambda: callback(int(routing.CostVar().Max())))
    solution = routing.SolveWithIteratedLocalSearch(params)
    if solution is None:
        return None
    return routes_of(model, solution), int(solution.ObjectiveValue())


def construct(data: Data) -> tuple[Routes, int] | None:
    """The first solution alone, however long it takes (up to CONSTRUCT_CAP_S): for a part
    whose timed search ran out before it found any, so its stops are not left unrouted."""
    params = parameters(STRATEGIES[0], CONSTRUCT_CAP_S)
    params.use_iterated_local_search = False
    params.solution_limit = 1
    model = build_model(data)
    solution = model.routing.SolveWithParameters(params)
    if solution is None:
        return None
    return routes_of(model, solution), int(solution.ObjectiveValue())


def run(
    data: Data,
    strategy: Strategy,
    deadline: float,
    on_solution: Callable[[int], None] | None = None,
) -> tuple[Routes, int] | None:
    """Search until the deadline (time.monotonic()); the best routes and objective, if any."""
    now = time.monotonic()
    seconds = deadline - now
    mean_arc = mean_arc_cost(data)
    if data.problem.objective != "hierarchical" or not strategy.fleet_share:
        params = parameters(strategy, seconds, mean_arc=mean_arc)
        return _solve(build_model(data), params, on_solution)
    params = parameters(strategy, seconds * strategy.first_share, mean_arc=mean_arc)
    first = _solve(build_model(data), params, on_solution)
    if first is None:
        return None
    routes = reduce_fleet(data, first[0], now + seconds * strategy.fleet_share)
    reduced = (routes, objective_value(data, routes))
    if on_solution is not None:
        on_solution(reduced[1])
    model = build_model(data)
    model.routing.SetMaximumNumberOfActiveVehicles(sum(1 for route in routes if route))
    second = _solve(
        model, parameters(strategy, deadline - time.monotonic(), mean_arc=mean_arc), on_solution
    )
    return reduced if second is None or second[1] > reduced[1] else second


def _indices(model: Model, routes: Routes) -> list[list[int]]:
    """Routes of solver nodes as routing indices."""
    return [[model.manager.NodeToIndex(node) for node in route] for route in routes]


def reduce_fleet(data: Data, routes: Routes, deadline: float) -> Routes:
    """Remove vans one at a time until the deadline; the routes with the fewest vans found.

    The fleet is capped at one van fewer than the best routes use, the shortest route's
    stops start out unserved, and a local search prices each stop left out (the largest
    arc cost, times one plus the number of rounds it was left out, so stops that are hard
    to place gain weight); rounds repeat from the last solution until every stop the best
    routes serve is served again, then the next van goes.
    """
    best, current = routes, None
    target = sum(len(route) for route in routes)
    base = max_arc_cost(data)
    absences = [0] * len(data.location)
    while time.monotonic() < deadline:
        used = [v for v, route in enumerate(best) if route]
        if len(used) <= 1:
            break
        if current is None:
            drop = min(used, key=lambda v: len(best[v]))
            current = [[] if v == drop else route for v, route in enumerate(best)]
        model = build_model(
            data, Weights(van=0, unassigned=base), [base * (1 + a) for a in absences]
        )
        model.routing.SetMaximumNumberOfActiveVehicles(len(used) - 1)
        start = model.routing.ReadAssignmentFromRoutes(_indices(model, current), True)
        params = parameters(Strategy(), deadline - time.monotonic())
        params.use_iterated_local_search = False
        if start is None:
            break
        solution = model.routing.SolveFromAssignmentWithParameters(start, params)
        if solution is None:
            break
        current = routes_of(model, solution)
        served = {node for route in current for node in route}
        if len(served) >= target:
            best, current = current, None
            continue
        for node in range(data.num_depots, len(data.location)):
            if node not in served:
                absences[node] += 1
    return best


def routes_of(model: Model, solution: pywrapcp.Assignment) -> Routes:
    """The nodes each vehicle visits in a solution."""
    routing = model.routing
    routes: Routes = []
    for vehicle in range(routing.vehicles()):
        index = solution.Value(routing.NextVar(routing.Start(vehicle)))
        route = []
        while not routing.IsEnd(index):
            route.append(model.node(index))
            index = solution.Value(routing.NextVar(index))
        routes.append(route)
    return routes
