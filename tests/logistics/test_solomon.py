"""The Solomon reader, the independent checker, a short solve, and the solve-vrptw command."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logistics import solomon
from logistics.solver import solve
from logistics.solver.check import violations
from logistics.solver_cli import app

SMALL = """SMALL

VEHICLE
NUMBER     CAPACITY
  2         10

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0        100          0
    1      3          4          6          0         10          1
    2      0          10         3          5         60          1
    3      -6         8          4         20         80          2
"""


@pytest.fixture(scope="session")
def c101(vrptw_dir: Path) -> solomon.Instance:
    return solomon.read(vrptw_dir / "C101.txt")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.txt"
    path.write_text(SMALL)
    return path


def test_reads_c101(c101: solomon.Instance) -> None:
    assert c101.name == "C101"
    assert (c101.vehicles, c101.capacity) == (25, 200)
    assert len(c101.customers) == 101  # the depot and 100 customers
    assert c101.depot == solomon.Customer(0, 40, 50, 0, 0, 1236, 0)
    assert c101.customers[1] == solomon.Customer(1, 45, 68, 10, 912, 967, 90)


def test_reads_every_shipped_instance_of_the_best_known_table(vrptw_dir: Path) -> None:
    names = [line.split(",")[0] for line in (vrptw_dir / "bks.csv").read_text().split()[1:]]
    assert names == ["C101", "C201", "R101", "R201", "RC101", "RC201"]
    for name in names:
        instance = solomon.read(vrptw_dir / f"{name}.txt")
        assert instance.name == name
        assert len(instance.customers) == 101
        assert [c.number for c in instance.customers] == list(range(101))


def test_to_problem_keeps_the_conventions(c101: solomon.Instance) -> None:
    problem = solomon.to_problem(c101)
    assert len(problem.stops) == 100 and len(problem.vehicles) == 25
    assert problem.durations[0][1] == pytest.approx((5**2 + 18**2) ** 0.5)  # unrounded
    assert problem.depots[0].closes == 1236
    assert problem.stops[0].latest == 967 and problem.stops[0].service_time == 90


def test_checker_finds_each_kind_of_violation(small: Path) -> None:
    instance = solomon.read(small)
    assert solomon.violations(instance, [[1, 2], [3]]) == []
    assert "not served exactly once" in solomon.violations(instance, [[1, 2]])[0]
    assert "not served exactly once" in solomon.violations(instance, [[1, 2], [3, 1]])[0]
    assert any("load" in v for v in solomon.violations(instance, [[1, 2, 3]]))
    assert any("> due" in v for v in solomon.violations(instance, [[2, 1], [3]]))
    assert any("routes but only" in v for v in solomon.violations(instance, [[1], [2], [3]]))


def test_rejects_a_file_that_is_not_solomon(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("hello\nworld\n")
    with pytest.raises(ValueError, match="not a Solomon instance"):
        solomon.read(path)


def test_short_solve_of_c101_passes_the_independent_checker(c101: solomon.Instance) -> None:
    problem = solomon.to_problem(c101)
    result = solve(problem, time_limit_s=2.0, seed=1)  # two worker processes
    routes = [[int(stop) for stop in route.stop_ids] for route in result.routes]
    assert solomon.violations(c101, routes) == []
    assert violations(problem, result) == []
    assert result.unassigned == ()
    assert len(routes) <= 11  # best known: 10
    distance = sum(solomon.route_distance(c101, r) for r in routes)
    assert result.distance == pytest.approx(distance)


def test_solve_vrptw_command_prints_the_solution_as_json(small: Path) -> None:
    out = CliRunner().invoke(
        app, ["solve-vrptw", str(small), "--time-limit", "0.5", "--objective", "distance"]
    )
    assert out.exit_code == 0, out.output
    solution = json.loads(out.stdout)
    assert sorted(c for route in solution["routes"] for c in route) == [1, 2, 3]
    assert solution["vehicles"] == len(solution["routes"])
    instance = solomon.read(small)
    assert solomon.violations(instance, solution["routes"]) == []
    assert solution["distance"] == pytest.approx(
        sum(solomon.route_distance(instance, r) for r in solution["routes"])
    )
