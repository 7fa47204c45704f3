"""`pickup logistics`: run a window's cut-off with a progress display; solve VRPTW instances."""

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from app.core.db import get_sessionmaker
from app.core.errors import DomainError
from logistics import solver_cli
from logistics.cutoff_steps import STEPS
from logistics.pipeline import PipelineReport, run_cutoff

app = typer.Typer(
    help="Logistics: the cut-off pipeline (pack, reserve, route, publish) and the VRPTW solver.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.command("solve-vrptw")(solver_cli.solve_vrptw)
console = Console()


@app.command("cutoff")
def cutoff(
    window_id: Annotated[int, typer.Argument(help="The delivery window to cut off")],
    time_limit: Annotated[
        float | None,
        typer.Option("--time-limit", min=0.1, help="Routing search seconds (default: setting)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run report as JSON")] = False,
) -> None:
    """Run (or resume) WINDOW_ID's cut-off: close, pack, reserve, route, publish."""
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, TaskID] = {
            name: bar.add_task(name, total=None, start=False, state="waiting") for name in STEPS
        }

        def on_event(step: str, phase: str, done: int, total: int) -> None:
            task = tasks[step]
            if phase == "start":
                bar.start_task(task)
                bar.update(task, state="running")
            elif phase == "progress":
                bar.update(task, completed=done, total=total or None, state="running")
            elif phase in ("done", "skipped"):
                if not bar.tasks[task].started:
                    bar.start_task(task)
                finished = max(bar.tasks[task].total or 1, 1)
                state = "[green]done" if phase == "done" else "[dim]already done"
                bar.update(task, total=finished, completed=finished, state=state)
                bar.stop_task(task)
            elif phase == "failed":
                bar.update(task, state="[red]failed")
                bar.stop_task(task)

        try:
            report = run_cutoff(
                session_factory=get_sessionmaker(),
                window_id=window_id,
                time_limit_s=time_limit,
                on_event=on_event,
            )
        except DomainError as error:
            console.print(f"[red]{error.reason}[/red]")
            raise typer.Exit(1) from error
    if as_json:
        console.print_json(data=report.as_dict())
    else:
        _print(report)
    if report.status != "succeeded":
        raise typer.Exit(1)


def _print(report: PipelineReport) -> None:
    table = Table(title=f"Cut-off of window {report.window_id}: {report.status}")
    table.add_column("step")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("detail")
    for step in report.steps:
        seconds = "" if step.duration_s is None else f"{step.duration_s:.2f}"
        detail = ", ".join(f"{k}={v}" for k, v in step.detail.items() if k != "depart_after")
        table.add_row(step.name, step.status, seconds, step.error or detail)
    console.print(table)
    for item in report.unassigned:
        console.print(
            f"[yellow]unassigned[/yellow] bank {item.bank_id}: {item.parcel_count} parcels: "
            f"{item.reason}"
        )
    if report.error:
        console.print(f"[red]{report.error}[/red]")
