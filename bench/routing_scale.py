"""Routing benchmark at scale: Gehring-Homberger 200- and 1,000-customer instances.

    .venv/bin/python bench/routing.py --set homberger1000 [--time-limit 60] [--instances ...]

The first instance of every class (C1, C2, R1, R2, RC1, RC2), ours beside PyVRP with the
same seconds in the same run. Our solutions are checked by both independent checkers
(`logistics.solver.check` on the Result, `logistics.solomon.violations` on the routes);
PyVRP's by the latter. The instances and best-known values ship in bench/data/homberger
(see its README). The report replaces its own section of docs/benchmarks-routing.md.
"""

from __future__ import annotations

import csv
import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path

from routing import OBJECTIVES, SOLVERS, Run, gap, machine, with_pyvrp

from logistics import solomon
from logistics.solver import Objective, check, solve

DATA = Path(__file__).resolve().parent / "data" / "homberger"
CLASSES = ("C1", "C2", "R1", "R2", "RC1", "RC2")
SETS = {
    "homberger200": tuple(f"{c}_2_1" for c in CLASSES),
    "homberger1000": tuple(f"{c}_10_1" for c in CLASSES),
}
DEFAULT_SECONDS = {"homberger200": 20.0, "homberger1000": 60.0}


@dataclass(frozen=True)
class Reference:
    """Best-known vans and distance for one objective; hierarchical stands in if none."""

    vehicles: str
    distance: float
    stand_in: bool


def references(path: Path = DATA / "bks.csv") -> dict[tuple[str, Objective], Reference]:
    """Best-known values by (instance, objective).

    Distance-only best-knowns exist for the 1,000-customer instances only; for the
    200-customer ones the hierarchical best-known distance (an upper bound) stands in.
    """
    found: dict[tuple[str, Objective], Reference] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            name = row["instance"]
            hierarchical = Reference(row["vehicles"], float(row["distance"]), False)
            found[name, "hierarchical"] = hierarchical
            if row["distance_only_distance"]:
                found[name, "distance"] = Reference(
                    row["distance_only_vehicles"], float(row["distance_only_distance"]), False
                )
            else:
                found[name, "distance"] = Reference(
                    hierarchical.vehicles, hierarchical.distance, True
                )
    return found


def measure(
    instance: solomon.Instance, objective: Objective, solver: str, seconds: float, seed: int = 0
) -> Run:
    """Solve with one solver; check the solution independently."""
    problems: list[str] = []
    if solver == "ours":
        problem = solomon.to_problem(instance, objective)
        result = solve(problem, time_limit_s=seconds, seed=seed)
        problems += check.violations(problem, result)
        routes = [[int(stop) for stop in route.stop_ids] for route in result.routes]
    else:
        routes = with_pyvrp(instance, objective, seconds, seed)
    routes = [route for route in routes if route]
    problems += solomon.violations(instance, routes)
    return Run(
        instance=instance.name,
        objective=objective,
        solver=solver,
        vehicles=len(routes),
        distance=sum(solomon.route_distance(instance, r) for r in routes),
        violations=tuple(problems),
    )


def read(name: str) -> solomon.Instance:
    """A shipped instance, named as in the best-known table (e.g. RC1_10_1)."""
    instance = solomon.read(DATA / f"{name}.txt")
    return solomon.Instance(name, instance.vehicles, instance.capacity, instance.customers)


def section(
    set_name: str, runs: list[Run], seconds: float, command: str, load: str, notes: str = ""
) -> str:
    """The markdown section of one set: one table per objective measured."""
    bks = references()
    size = set_name.removeprefix("homberger")
    lines = [
        f"## Scale: Gehring-Homberger {size} customers, {seconds:g} s",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}; {datetime.date.today().isoformat()}. {load}",
    ]
    for objective in OBJECTIVES:
        measured = [r for r in runs if r.objective == objective]
        if not measured:
            continue
        lines += [
            "",
            f"### {size} customers, {objective} objective",
            "",
            "| instance | best known veh. | best known dist. | ours veh. | ours dist. | ours gap % "
            "| PyVRP veh. | PyVRP dist. | PyVRP gap % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        gaps: dict[str, list[float]] = {s: [] for s in SOLVERS}
        for name in dict.fromkeys(r.instance for r in measured):
            reference = bks[name, objective]
            mark = " (h)" if reference.stand_in else ""
            cells = [name, reference.vehicles, f"{reference.distance:.1f}{mark}"]
            for solver in SOLVERS:
                run = next((r for r in measured if (r.instance, r.solver) == (name, solver)), None)
                if run is None:
                    cells += ["", "", ""]
                    continue
                value = gap(run.distance, reference.distance)
                gaps[solver].append(value)
                flag = "" if not run.violations else " (INFEASIBLE)"
                cells += [str(run.vehicles), f"{run.distance:.1f}{flag}", f"{value:+.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
        means = [f"{sum(g) / len(g):+.2f}" if g else "" for g in gaps.values()]
        lines.append(f"| **mean** | | | | | **{means[0]}** | | | **{means[1]}** |")
    if any(r.objective == "distance" for r in runs) and size == "200":
        lines += [
            "",
            "(h): no distance-only best known is published for the 200-customer instances; "
            "the hierarchical best-known distance (an upper bound) stands in.",
        ]
    return "\n".join(lines) + "\n" + notes


def splice(path: Path, key: str, body: str) -> None:
    """Replace (or append) the section marked with key in a markdown file."""
    start, end = f"<!-- {key} -->", f"<!-- /{key} -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text + f"\n{block}\n"
    path.write_text(text)


def kept_sections(path: Path) -> str:
    """The scale sections of a report, to carry over when the Solomon part is rewritten."""
    if not path.exists():
        return ""
    found = re.findall(
        r"<!-- (homberger[\w-]+) -->.*?<!-- /\1 -->", path.read_text(), flags=re.DOTALL
    )
    text = path.read_text()
    blocks = [
        re.search(rf"<!-- {key} -->.*?<!-- /{key} -->", text, flags=re.DOTALL) for key in found
    ]
    return "".join(f"\n{b.group(0)}\n" for b in blocks if b is not None)


def load_note(before: float) -> str:
    """The load average around a run."""
    return (
        f"Load average (1 min) {before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        "(2 cores shared with other jobs; our solver runs two searches in two processes, "
        "PyVRP one)."
    )
