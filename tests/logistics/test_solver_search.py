"""The search's van-removal phase on a small instance, without the parallel workers."""

import time

from logistics.solver import Depot, Problem, Stop, Vehicle
from logistics.solver.model import build_data, objective_value
from logistics.solver.search import reduce_fleet


def test_reduce_fleet_removes_vans_while_every_stop_stays_served() -> None:
    # Four stops on a line, each van carries two of them: three vans in, two out.
    positions = (0, 1, 2, 3, 4)
    problem = Problem(
        durations=[[abs(a - b) for b in positions] for a in positions],
        depots=[Depot("depot", 0)],
        stops=[Stop(f"s{i}", i, demand={"load": 1}) for i in range(1, 5)],
        vehicles=[Vehicle(f"van{i}", "depot", capacity={"load": 2}) for i in range(4)],
    )
    data = build_data(problem, (0, 1, 2, 3))
    nodes = [1, 2, 3, 4]  # node 0 is the depot
    three_vans = [[nodes[0]], [nodes[1], nodes[2]], [nodes[3]], []]

    routes = reduce_fleet(data, three_vans, time.monotonic() + 0.5)

    assert sum(1 for route in routes if route) == 2
    assert sorted(node for route in routes for node in route) == nodes
    assert all(len(route) <= 2 for route in routes)
    assert objective_value(data, routes) < objective_value(data, three_vans)
