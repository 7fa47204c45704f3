"""`pickup day`: the played day, headless, on whichever stack the settings select."""

import json
import logging
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.live import Live

from app import serving
from app.core.settings import get_settings
from app.seed import cli as seed_cli
from app.seed.demo import DEMO_DRIVER
from simulation.day import DayOptions, DayState, run_day
from simulation.phones import LOGIN_CODE_TEXT as LOGIN_CODE
from simulation.stack import StackConfig
from simulation.summary import live_panel, report_json, report_table

console = Console()


def day(
    neighborhoods: int = typer.Option(20, min=1, help="Neighborhoods of the city"),
    orders: int = typer.Option(500, min=0, help="Orders residents place during the day"),
    seed: int = typer.Option(7, help="Seed of the city and of every simulated choice"),
    time_limit: float = typer.Option(10.0, help="Seconds the route solver may take per cut-off"),
    workdir: Path = typer.Option(None, help="Keep the day's database and logs here"),
    keep_database: bool = typer.Option(False, help="Keep the PostgreSQL database afterwards"),
    quiet: bool = typer.Option(False, help="No live summary, only the report"),
    report: Path = typer.Option(None, help="Also write the invariant report here as JSON"),
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
    _log_to(workdir)
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
    if report is not None:
        report.write_text(json.dumps(report_json(result), indent=2, default=str))
    if not result.report.ok:
        console.print("[red bold]Some invariants broke.[/red bold]")
        raise typer.Exit(1)
    console.print(f"[green bold]Every invariant holds.[/green bold] ({result.wall_s:.0f} s)")


def _log_to(workdir: Path | None) -> None:
    """Warnings to `workdir/day.log` when kept; else only errors to the terminal."""
    form = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(level=logging.WARNING, format=form, filename=workdir / "day.log")
        return
    logging.basicConfig(level=logging.ERROR, format=form)
    # The embedded broker (amqtt) logs a late PUBACK from a busy subscriber as an error; the
    # bridge's event sequence numbers and replay are what make delivery whole.
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)


def demo(
    host: str = serving.HostOption,
    port: int | None = serving.PortOption,
    mqtt_port: int | None = serving.MqttPortOption,
    port_base: int | None = serving.PortBaseOption,
    speed: float = typer.Option(
        200.0, min=1.0, help="Simulated seconds per real second (200: a window in about 4 min)"
    ),
    orders: int = typer.Option(600, min=0, help="Orders the simulated residents place"),
    seed: int = typer.Option(7, help="Seed of every simulated choice"),
    play: bool = typer.Option(True, help="Play the day (--no-play: seed and serve only)"),
    leave_driver: bool = typer.Option(
        True,
        "--leave-driver/--crew-drives-all",
        help="Leave the demo `driver` login's routes to you, on /driver (the crew drives the rest)",
    ),
) -> None:
    """The demo city living a day you can watch: residents order, groups form or fail, vans
    go out, lockers fill, phones buzz, food is collected; the API stays up to explore."""
    if not play:
        seed_cli.demo(host=host, port=port, mqtt_port=mqtt_port, port_base=port_base)
        return
    address = seed_cli.prepare_address(
        host=host, port=port, mqtt_port=mqtt_port, port_base=port_base
    )
    workdir = Path(".pickup-demo").resolve()
    workdir.mkdir(exist_ok=True)
    logging.basicConfig(  # the live panel owns the terminal; warnings go to a file
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        filename=workdir / "demo.log",
    )

    def on_city(city: dict[str, Any]) -> None:
        seed_cli.print_demo(city["demo"], base_url=address.base_url, played=True)

    def on_sms(phone: str, body: str) -> None:
        if LOGIN_CODE.search(body):
            console.print(f"[bold black on yellow] LOGIN CODE [/] SMS to {phone}: {body}")
        else:
            console.print(f"[cyan]SMS to {phone}[/cyan]: {body}")

    options = DayOptions(
        orders=orders,
        seed=seed,
        speed=speed,
        demo_seed=True,
        keep_serving=True,
        on_report=lambda result: console.print(report_table(result)),
        on_city=on_city,
        watch_phone=on_sms,
        crew_skips=(DEMO_DRIVER,) if leave_driver else (),
        stack=StackConfig(
            host=address.host,
            port=address.http_port,
            mqtt_port=address.mqtt_port,
            workdir=workdir,
        ),
    )
    console.print(
        f"Playing a day of the demo city at {speed:.0f}x; its database is {workdir}/day.db "
        "(fresh each start)."
    )
    with Live(live_panel(DayState()), console=console, refresh_per_second=2) as live:
        run_day(options, lambda state: live.update(live_panel(state)))
