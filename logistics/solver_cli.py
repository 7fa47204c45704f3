"""Command line for the routing solver: `solve-vrptw` on a Solomon instance file."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from logistics import solomon
from logistics.solver import Improvement, solve

app = typer.Typer(help="Vehicle routing: solve instances with the production solver.")


@app.callback()
def main() -> None:
    """Vehicle routing: solve instances with the production solver."""


class ObjectiveChoice(StrEnum):
    """Objective names accepted on the command line."""

    hierarchical = "hierarchical"
    distance = "distance"


@app.command("solve-vrptw")
def solve_vrptw(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Solomon file")],
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="Seconds")] = 10.0,
    objective: Annotated[
        ObjectiveChoice, typer.Option(help="hierarchical: fewest vans, then distance")
    ] = ObjectiveChoice.hierarchical,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
) -> None:
    """Solve a Solomon VRPTW instance and print the solution as JSON."""
    try:
        instance = solomon.read(file)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="FILE") from error
    problem = solomon.to_problem(instance, objective.value)
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"{instance.name}: searching", total=time_limit)

        def show(progress: Improvement) -> None:
            vans = "" if progress.vehicles is None else f"{progress.vehicles} vans, "
            text = f"{instance.name}: best {vans}cost {progress.cost:.2f}"
            if progress.unassigned:
                text += f", {progress.unassigned} unassigned"
            bar.update(task, completed=progress.elapsed_s, description=text)

        result = solve(problem, time_limit_s=time_limit, seed=seed, on_improvement=show)
    routes = [[int(stop_id) for stop_id in route.stop_ids] for route in result.routes]
    output = {
        "instance": instance.name,
        "vehicles": len(routes),
        "distance": sum(solomon.route_distance(instance, r) for r in routes),
        "unassigned": [int(u.stop_id) for u in result.unassigned],
        "routes": routes,
    }
    typer.echo(json.dumps(output, indent=2))


if __name__ == "__main__":
    app()
