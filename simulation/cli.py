"""`pickup day`: the played day, headless, on whichever stack the settings select."""

import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live

from app.core.settings import get_settings
from simulation.day import DayOptions, DayState, run_day
from simulation.stack import StackConfig
from simulation.summary import live_panel, report_table

console = Console()


def day(
    neighborhoods: int = typer.Option(20, min=1, help="Neighborhoods of the city"),
    orders: int = typer.Option(500, min=0, help="Orders residents place during the day"),
    seed: int = typer.Option(7, help="Seed of the city and of every simulated choice"),
    time_limit: float = typer.Option(10.0, help="Seconds the route solver may take per cut-off"),
    workdir: Path = typer.Option(None, help="Keep the day's database and logs here"),
    keep_database: bool = typer.Option(False, help="Keep the PostgreSQL database afterwards"),
    quiet: bool = typer.Option(False, help="No live summary, only the report"),
) -> None:
    """Play one day as fast as the work allows and check its invariants (exit 1 if one breaks).

    On the embedded defaults (SQLite, in-process broker, tasks here) unless DATABASE_URL is
    PostgreSQL: then a fresh database on that server, MQTT_URL's broker (Mosquitto), and a
    Celery worker and beat over CELERY_BROKER_URL (Redis) as child processes."""
    settings = get_settings()
    production = settings.database_url.startswith("postgresql")
    if production and settings.celery_broker_url.startswith("memory://"):
        console.print("[red]The production stack needs CELERY_BROKER_URL=redis://...[/red]")
        raise typer.Exit(2)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = DayOptions(
        neighborhoods=neighborhoods,
        orders=orders,
        seed=seed,
        time_limit_s=time_limit,
        stack=StackConfig(
            production=production,
            database_url=settings.database_url if production else None,
            mqtt_url=settings.mqtt_url if production else None,
            redis_url=settings.celery_broker_url if production else None,
            keep_database=keep_database,
            workdir=workdir,
        ),
    )
    stack_name = "PostgreSQL + Mosquitto + Celery/Redis" if production else "embedded defaults"
    console.print(
        f"Playing a day: {neighborhoods} neighborhoods, {orders} orders, seed {seed}, "
        f"on the {stack_name}"
    )
    if quiet:
        result = run_day(options)
    else:
        with Live(live_panel(DayState()), console=console, refresh_per_second=4) as live:

            def show(state: DayState) -> None:
                live.update(live_panel(state))

            result = run_day(options, show)
    console.print(report_table(result))
    if not result.report.ok:
        console.print("[red bold]Some invariants broke.[/red bold]")
        raise typer.Exit(1)
    console.print(f"[green bold]Every invariant holds.[/green bold] ({result.wall_s:.0f} s)")
