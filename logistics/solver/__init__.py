"""Vehicle routing with time windows on OR-Tools: plain data in, routes out."""

from logistics.solver.problem import Depot, Objective, Problem, Stop, Vehicle
from logistics.solver.result import Reason, Result, Route, Unassigned, Visit
from logistics.solver.solve import Improvement, solve

__all__ = [
    "Depot",
    "Improvement",
    "Objective",
    "Problem",
    "Reason",
    "Result",
    "Route",
    "Stop",
    "Unassigned",
    "Vehicle",
    "Visit",
    "solve",
]
