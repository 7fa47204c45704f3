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

from logistics.solver.model import Data, Model, build_model

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
    removing vans (SISR's absence-based acceptance, which drops the route whose visits were
    least often left out) before minimising cost with the fleet capped at what it reached.
    """

    avg_removed_visits: int = 20
    max_removed_sequence: int = 10
    fleet_share: float = 0.0


STRATEGIES = (Strategy(), Strategy(fleet_share=0.4))


def parameters(
    strategy: Strategy, seconds: float, *, fleet: bool = False
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
        acceptance.simulated_annealing.automatic_temperatures = True
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


def run(
    data: Data,
    strategy: Strategy,
    deadline: float,
    on_solution: Callable[[int], None] | None = None,
) -> tuple[Routes, int] | None:
    """Search until the deadline (time.monotonic()); the best routes and objective, if any."""
    seconds = deadline - time.monotonic()
    if data.problem.objective != "hierarchical" or not strategy.fleet_share:
        return _solve(build_model(data), parameters(strategy, seconds), on_solution)
    fleet_params = parameters(strategy, seconds * strategy.fleet_share, fleet=True)
    first = _solve(build_model(data), fleet_params, on_solution)
    if first is None:
        return None
    model = build_model(data)
    routes = first[0]
    model.routing.SetMaximumNumberOfActiveVehicles(sum(1 for route in routes if route))
    hint = model.routing.ReadAssignmentFromRoutes(
        [[model.manager.NodeToIndex(node) for node in route] for route in routes], True
    )
    if hint is not None:
        model.routing.SetFirstSolutionHint(hint)
    params = parameters(strategy, deadline - time.monotonic())
    second = _solve(model, params, on_solution)
    return first if second is None or second[1] > first[1] else second


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
