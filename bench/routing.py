"""Routing benchmark: our solver and PyVRP on six Solomon instances, same time each, same run.

    .venv/bin/python bench/routing.py [--time-limit 10] [--out docs/benchmarks-routing.md]
    .venv/bin/python bench/routing.py --set homberger1000 [--time-limit 60]  (routing_scale.py)
    .venv/bin/python bench/routing.py --set city [--time-limit 20] [--export]  (routing_city.py)

Every solution is checked by logistics.solomon.violations, which recomputes loads and
times on real numbers without either solver. PyVRP needs integers: its matrices are the
Euclidean distances x1000 rounded up (so its schedules stay feasible on real numbers), and
its distance is recomputed unrounded from its routes. For the hierarchical objective PyVRP
spends half its time in `minimise_fleet`, then minimises distance with that fleet. PyVRP is
a benchmark-only dependency.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import math
import os
import platform
import shlex
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import routing_city  # noqa: E402
import routing_scale  # noqa: E402

from logistics import solomon  # noqa: E402
from logistics.solver import Objective, solve  # noqa: E402

INSTANCES = ("C101", "C201", "R101", "R201", "RC101", "RC201")
OBJECTIVES: tuple[Objective, ...] = ("hierarchical", "distance")
SOLVERS = ("ours", "pyvrp")
PYVRP_SCALE = 1000


@dataclass(frozen=True)
class Run:
    """One solver's solution to one instance under one objective."""

    instance: str
    objective: Objective
    solver: str
    vehicles: int
    distance: float
    violations: tuple[str, ...]


def ours(
    instance: solomon.Instance, objective: Objective, seconds: float, seed: int
) -> list[list[int]]:
    """Routes (customer numbers) from the production solver."""
    result = solve(solomon.to_problem(instance, objective), time_limit_s=seconds, seed=seed)
    return [[int(stop) for stop in route.stop_ids] for route in result.routes]


def with_pyvrp(
    instance: solomon.Instance, objective: Objective, seconds: float, seed: int
) -> list[list[int]]:
    """Routes (customer numbers) from PyVRP on the same instance."""
    customers = instance.customers
    n = len(customers)
    scaled = np.array(
        [[math.ceil(instance.distance(a, b) * PYVRP_SCALE) for b in range(n)] for a in range(n)],
        dtype=np.int64,
    )
    depot = instance.depot
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(x=int(c.x), y=int(c.y)) for c in customers],
        clients=[
            pyvrp.Client(
                location=c.number,
                delivery=[int(c.demand)],
                service_duration=int(c.service * PYVRP_SCALE),
                tw_early=int(c.ready * PYVRP_SCALE),
                tw_late=int(c.due * PYVRP_SCALE),
            )
            for c in customers[1:]
        ],
        depots=[pyvrp.Depot(location=0)],
        vehicle_types=[
            pyvrp.VehicleType(
                num_available=instance.vehicles,
                capacity=[int(instance.capacity)],
                tw_early=int(depot.ready * PYVRP_SCALE),
                tw_late=int(depot.due * PYVRP_SCALE),
            )
        ],
        distance_matrices=[scaled],
        duration_matrices=[scaled],
    )
    if objective == "hierarchical":
        # PyVRP's own way to put vans first: minimise the fleet (half the time), then
        # minimise distance with that fleet. (A huge fixed cost instead lets its penalised
        # search trade time-window violations for vans and end infeasible.)
        fleet = pyvrp.minimise_fleet(data, MaxRuntime(seconds / 2), seed=seed)
        data, seconds = data.replace(vehicle_types=[fleet]), seconds / 2
    result = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=seed, display=False)
    # Client k of ProblemData (0-based) is customer number k + 1.
    return [
        [activity.idx + 1 for activity in route.schedule() if activity.is_client()]
        for route in result.best.routes()
    ]


def measure(instance: solomon.Instance, objective: Objective, solver: str, seconds: float) -> Run:
    """Solve with one solver and check the solution independently."""
    solve_with = ours if solver == "ours" else with_pyvrp
    routes = [r for r in solve_with(instance, objective, seconds, 0) if r]
    return Run(
        instance=instance.name,
        objective=objective,
        solver=solver,
        vehicles=len(routes),
        distance=sum(solomon.route_distance(instance, r) for r in routes),
        violations=tuple(solomon.violations(instance, routes)),
    )


def best_known(directory: Path) -> dict[str, dict[str, str]]:
    """bks.csv rows by instance name."""
    with (directory / "bks.csv").open() as f:
        return {row["instance"]: row for row in csv.DictReader(f)}


def machine() -> str:
    """CPU model, cores and versions of this run."""
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu}, {cores} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, "
        f"ortools {version('ortools')}, pyvrp {version('pyvrp')}"
    )


def gap(distance: float, reference: float) -> float:
    """Percentage above the reference distance (0 when equal to two decimals)."""
    value = 100.0 * (distance / reference - 1.0)
    return 0.0 if abs(value) < 0.005 else value


NOTES = """
## What got the quality there

Measured with 10 s per instance on the same machine, over the four hard instances (R101,
R201, RC101, RC201) unless said otherwise. Single runs are noisy (a point or two per
instance between seeds and with the machine's load, 2-4 during this work); most candidates
below were measured once or twice, so small differences are not significant. The final
configuration, on the four with seed 3 instead of 0 (load 3): hierarchical R101 20 vans
(-0.18 %), R201 +1.05 %, RC101 15 vans (-1.22 %), RC201 +3.03 %; distance-only R101
+0.34 %, R201 +1.92 %, RC101 +0.95 %, RC201 +1.38 % (about +0.77 % over the six, C101/C201
being at 0): still within the targets, with less margin than the table above.

- OR-Tools defaults (PATH_CHEAPEST_ARC + guided local search, Python callbacks) find no
  feasible solution on R101/RC101 in 10 s. Matrices registered in C++
  (`RegisterTransitMatrix`, `RegisterUnaryTransitVector`) instead of Python callbacks, with
  LOCAL_CHEAPEST_INSERTION + guided local search: 1.48 % distance-only over all six.
- OR-Tools' iterated local search (`SolveWithIteratedLocalSearch`) with SISR ruin
  (string removals, 20 visits on average, sequences up to 10), local-cheapest-insertion
  recreate and simulated-annealing acceptance: 1.2-1.8 % (noisy); 20 removed visits beat
  10 and 30.
- Switching off the costly operators (Lin-Kernighan, the insertion LNS operators,
  pickup-and-delivery and visit-type moves) so each ILS iteration is cheaper: about 1.0 %
  on the four (R201 2.5 % -> 0.8 %). A smaller neighbourhood (`ls_operator_neighbors_ratio`
  0.3) was much worse (15 %).
- Van removal (hierarchical objective), the change that took RC101 from 16 vans to 15 and
  the hierarchical mean from +1.9 % to about +0.7 % on the four: after a first ILS (10 % of
  the time), the fleet is capped at one van fewer (`SetMaximumNumberOfActiveVehicles`),
  the shortest route's stops start out unserved, and rounds of local search from the
  last solution (`SolveFromAssignmentWithParameters`) price each stop left out at the
  largest arc cost times one plus the rounds it was already left out (stops hard to place
  gain weight, as in SISR's absence counts); when every stop is served again the next van
  goes. Then an ILS minimises distance with the fleet capped at what was reached.
  OR-Tools' own absence-based acceptance (`remove_route_with_lowest_absences`), used
  before, oscillated between 16 and 17 vans on RC101 and never left 5 on R201/RC201 in
  8 s. Soft time windows (`SetCumulVarSoftUpperBound`) during removal did no better than
  the priced stops (1 stop short on RC101 in 8 s) and were not kept.
- Warm starts: `SolveWithIteratedLocalSearch` ignores `SetFirstSolutionHint` (its first
  solution is rebuilt by the first-solution strategy; checked by the objective of its
  first solution), and `SolveFromAssignmentWithParameters` runs a plain local search even
  when iterated local search is asked for (it stops at the first local optimum, 0.2 s).
  The previous "warm-started" distance phase was therefore a cold start; now only the
  van-removal rounds start from a given solution, and the capped distance phase starts
  afresh (guided local search from the capped solution instead was worse: RC101 16 vans,
  R201 +2.0 %, RC201 +7.7 %).
- Two searches in two processes (2 cores) with different stop orders and settings: the
  first removes vans for 30 % of the time with OR-Tools' automatic annealing temperature
  (a tenth of a sampled mean arc); the second for 50 % with a cooler start (2.5 % of the
  mean arc, a hundredth of it at the end), which did better on RC201/RC101 distance-only
  in single runs (e.g. RC101 +1.5 % -> +0.9 %, RC201 +2.0 % -> +1.1 %) but not on
  R201, so the two temperatures run side by side. Under the distance objective both run
  ILS only.
- Not reached: RC201 with 4 vans stays 2-5 % above the best known (PyVRP about 0.5 %); the
  capped ILS starts from scratch and LOCAL_CHEAPEST_INSERTION with 4 long routes is a poor
  start. Not tried for lack of time: `guided_local_search_lambda_coefficient`, tuning the
  SISR ruin size per instance class.
- OR-Tools' routing search does not release the GIL, so parallel searches need processes
  (forked; one search stays in the calling process; a daemonic process, e.g. a Celery
  prefork worker, runs one search only).
"""


def markdown(
    runs: list[Run], bks: dict[str, dict[str, str]], command: str, seconds: float, load: str
) -> str:
    """The benchmark report: one table per objective, means, command and machine."""
    lines = [
        "# Routing benchmark (Solomon VRPTW)",
        "",
        f"Six 100-customer Solomon instances, {seconds:g} s per instance and objective for each "
        "solver, all in the same run. Distances are Euclidean, unrounded; every solution "
        "passed the independent checker (`logistics.solomon.violations`) unless marked. "
        "Our solver runs two searches in parallel processes (2 cores); PyVRP runs one.",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}; {datetime.date.today().isoformat()}. {load}",
    ]
    for objective in OBJECTIVES:
        vehicles_key, distance_key = (
            ("vehicles", "distance")
            if objective == "hierarchical"
            else ("distance_only_vehicles", "distance_only_distance")
        )
        title = (
            "Hierarchical objective (fewest vehicles, then distance)"
            if objective == "hierarchical"
            else "Distance-only objective"
        )
        lines += [
            "",
            f"## {title}",
            "",
            "| instance | best known veh. | best known dist. | ours veh. | ours dist. | ours gap % "
            "| PyVRP veh. | PyVRP dist. | PyVRP gap % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        gaps: dict[str, list[float]] = {s: [] for s in SOLVERS}
        for name in INSTANCES:
            row = bks[name]
            reference = float(row[distance_key])
            cells = [name, row[vehicles_key], f"{reference:.2f}"]
            for solver in SOLVERS:
                run = next(
                    r
                    for r in runs
                    if (r.instance, r.objective, r.solver) == (name, objective, solver)
                )
                g = gap(run.distance, reference)
                gaps[solver].append(g)
                flag = "" if not run.violations else " (INFEASIBLE)"
                cells += [str(run.vehicles), f"{run.distance:.2f}{flag}", f"{g:+.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
        means = [f"{sum(gaps[s]) / len(gaps[s]):+.2f}" for s in SOLVERS]
        lines.append(f"| **mean** | | | | | **{means[0]}** | | | **{means[1]}** |")
    return "\n".join(lines) + "\n" + NOTES


def city(args: argparse.Namespace) -> None:
    """The city instance: both solvers, same seconds, one checker; print and write."""
    console = Console()
    if args.export:
        routing_city.export(args)
    problem = routing_city.load()
    seconds = args.time_limit or 20.0
    console.print(routing_city.describe(problem))
    load_before = os.getloadavg()[0]
    runs = []
    for solver in SOLVERS:
        run = routing_city.measure(problem, solver, seconds)
        runs.append(run)
        status = "ok" if not run.violations else "; ".join(run.violations[:3])
        console.print(f"city {solver:5} vans {run.vans:3} km {run.km:9.1f}  {status}")
    command = ".venv/bin/python " + shlex.join(["bench/routing.py", *sys.argv[1:]])
    load = (
        f"Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
        "end (2 cores shared with other jobs; each solver runs one search, one after the other)."
    )
    body = routing_city.section(runs, problem, seconds, command, load)
    console.print(body)
    routing_scale.splice(args.out, "city", body)
    if any(run.violations for run in runs):
        sys.exit(1)


def main() -> None:
    """Run every instance, objective and solver; print and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set", default="solomon", choices=("solomon", "city", *routing_scale.SETS)
    )
    parser.add_argument("--time-limit", type=float, help="seconds per instance and solver")
    parser.add_argument("--dir", type=Path, default=REPO / "tests" / "data" / "vrptw")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks-routing.md"))
    parser.add_argument("--instances", help="comma-separated names (default: the whole set)")
    parser.add_argument("--objectives", default=",".join(OBJECTIVES))
    parser.add_argument("--export", action="store_true", help="city: re-seed and rewrite its JSON")
    args = parser.parse_args()
    if args.set == "city":
        city(args)
        return
    scale = args.set != "solomon"
    whole = routing_scale.SETS[args.set] if scale else INSTANCES
    names = args.instances.split(",") if args.instances else list(whole)
    objectives = [o for o in OBJECTIVES if o in args.objectives.split(",")]
    seconds = args.time_limit or routing_scale.DEFAULT_SECONDS.get(args.set, 10.0)
    console = Console()
    runs: list[Run] = []
    load_before = os.getloadavg()[0]
    jobs = [(n, o, s) for n in names for o in objectives for s in SOLVERS]
    with Progress(console=console) as progress:
        task = progress.add_task("solving", total=len(jobs))
        for name, objective, solver in jobs:
            progress.update(task, description=f"{name} {objective} {solver}")
            if scale:
                run = routing_scale.measure(routing_scale.read(name), objective, solver, seconds)
            else:
                run = measure(solomon.read(args.dir / f"{name}.txt"), objective, solver, seconds)
            runs.append(run)
            status = "ok" if not run.violations else "; ".join(run.violations[:3])
            progress.console.print(
                f"{name:8} {objective:12} {solver:5} vehicles {run.vehicles:3} "
                f"distance {run.distance:9.2f}  {status}"
            )
            progress.advance(task)
    table = Table("instance", "objective", "solver", "vehicles", "distance", "feasible")
    for run in runs:
        table.add_row(
            run.instance,
            run.objective,
            run.solver,
            str(run.vehicles),
            f"{run.distance:.2f}",
            "yes" if not run.violations else "NO",
        )
    console.print(table)
    command = ".venv/bin/python " + shlex.join(["bench/routing.py", *sys.argv[1:]])
    if scale:
        body = routing_scale.section(
            args.set, runs, seconds, command, routing_scale.load_note(load_before)
        )
        console.print(body)
        key = args.set if objectives == list(OBJECTIVES) else "-".join([args.set, *objectives])
        routing_scale.splice(args.out, key, body)
        console.print(f"wrote the {key} section of {args.out}")
    elif names == list(INSTANCES) and objectives == list(OBJECTIVES):
        args.out.parent.mkdir(parents=True, exist_ok=True)
        load = (
            f"Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
            "the end: the machine is shared, so other jobs took CPU from both solvers."
        )
        kept = routing_scale.kept_sections(args.out)
        args.out.write_text(markdown(runs, best_known(args.dir), command, seconds, load) + kept)
        console.print(f"wrote {args.out}")
    if any(run.violations for run in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
