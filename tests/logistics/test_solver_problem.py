"""Problem validation: nonsense is refused at construction with a clear message."""

import math
from typing import Any

import pytest

from logistics.solver import Depot, Problem, Stop, Vehicle

LINE = [[0.0, 10.0], [10.0, 0.0]]


def problem(**changes: Any) -> Problem:
    """A valid two-location problem, with some arguments replaced."""
    args: dict[str, Any] = {
        "durations": LINE,
        "depots": [Depot("d", 0)],
        "stops": [Stop("s", 1)],
        "vehicles": [Vehicle("v", "d")],
    }
    args.update(changes)
    return Problem(**args)


def test_a_valid_problem_is_accepted() -> None:
    p = problem()
    assert p.durations == ((0.0, 10.0), (10.0, 0.0))
    assert p.vehicles[0].return_depot == "d"
    assert p.distance(0, 1) == 10.0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Stop("s", 1, earliest=-1), "window start"),
        (lambda: Stop("s", 1, earliest=10, latest=5), "before its start"),
        (lambda: Stop("s", 1, earliest=math.nan), "NaN"),
        (lambda: Stop("s", 1, service_fixed=-2), "service_fixed"),
        (lambda: Stop("s", 1, parcels=-1), "parcels"),
        (lambda: Stop("s", 1, demand={"frozen": -1.0}), "demand"),
        (lambda: Depot("d", 0, opens=8, closes=7), "before its start"),
        (lambda: Vehicle("v", "d", shift_start=5, shift_end=1), "before its start"),
        (lambda: Vehicle("v", "d", capacity={"chilled": math.inf}), "capacity"),
        (lambda: Vehicle("v", "d", fixed_cost=-1), "fixed_cost"),
        (lambda: Vehicle("v", "d", max_cold_chain=-1), "max_cold_chain"),
    ],
)
def test_parts_refuse_nonsense(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"durations": [[0.0, 1.0]]}, "square"),
        ({"durations": [[0.0, 1.0], [1.0]]}, "square"),
        ({"durations": [[0.0, -1.0], [1.0, 0.0]]}, "durations\\[0\\]\\[1\\]"),
        ({"durations": [[0.0, math.inf], [1.0, 0.0]]}, "finite"),
        ({"distances": [[0.0]]}, "distances must be a square 2x2"),
        ({"stops": [Stop("s", 2)]}, "outside the 2x2 matrix"),
        ({"depots": [Depot("d", 5)]}, "outside"),
        ({"vehicles": [Vehicle("v", "nowhere")]}, "unknown depot 'nowhere'"),
        ({"vehicles": [Vehicle("v", "d", end_depot="x")]}, "unknown depot 'x'"),
        ({"stops": [Stop("s", 1), Stop("s", 0)]}, "duplicate depot/stop ids"),
        ({"vehicles": [Vehicle("v", "d"), Vehicle("v", "d")]}, "duplicate vehicle ids"),
        ({"vehicles": []}, "at least one vehicle"),
        ({"depots": []}, "at least one depot"),
        ({"objective": "fastest"}, "objective"),
    ],
)
def test_problem_refuses_nonsense(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        problem(**changes)


def test_service_time_is_fixed_plus_per_parcel() -> None:
    stop = Stop("s", 1, service_fixed=60, service_per_parcel=15, parcels=4)
    assert stop.service_time == 120
