"""`pickup seed ...`: demo and benchmark data; and `demo`, the one command that sets up and serves.

`demo` is a plain function for the top-level CLI to mount (`pickup demo`)."""

import json
import os
import time as clock

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import inspect

from app import serving
from app.cities import service as city_service
from app.core.db import get_engine, get_sessionmaker
from app.core.settings import get_settings
from app.seed import demo as demo_data
from app.seed.city import CitySpec, CitySummary, build_city
from app.seed.fleet import DRIVER_PASSWORD
from lockers.broker import PortInUse

console = Console()
app = typer.Typer(
    help="Demo and benchmark data: believable cities built deterministically from a seed.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _refuse_production() -> None:
    if get_settings().environment == "production":
        console.print(
            "[red]Refusing:[/red] demo data creates accounts with published passwords; "
            "it is for development only (ENVIRONMENT=production)."
        )
        raise typer.Exit(1)


def _require_schema() -> None:
    if not inspect(get_engine()).has_table("cities"):
        console.print(
            "[red]The database has no tables yet.[/red] Run [bold]pickup db upgrade[/bold] "
            "first (or [bold]pickup demo[/bold], which migrates, seeds and serves)."
        )
        raise typer.Exit(1)


def _counts_table(summary: CitySummary, *, title: str) -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("Rows")
    table.add_column("Count", justify="right")
    for kind, count in summary.counts().items():
        table.add_row(kind.replace("_", " "), f"{count:,}")
    return table


def _timings_table(summary: CitySummary, commit_seconds: float) -> Table:
    table = Table(title="Timing", show_header=True, header_style="bold")
    table.add_column("Step")
    table.add_column("Seconds", justify="right")
    for step, seconds in summary.timings.items():
        table.add_row(step, f"{seconds:.2f}")
    table.add_row("Commit", f"{commit_seconds:.2f}")
    table.add_row("[bold]Total[/bold]", f"[bold]{summary.seconds + commit_seconds:.2f}[/bold]")
    return table


def show_sms_in_full_to(phone: str) -> None:
    """Print console SMS to `phone` in full from now on (the rest is summed up per burst)."""
    phones = [p.strip() for p in get_settings().sms_console_phones.split(",") if p.strip()]
    if phone and phone not in phones:
        os.environ["SMS_CONSOLE_PHONES"] = ",".join([*phones, phone])
        get_settings.cache_clear()


def seed_demo_city(seed: int = demo_data.DEMO_SEED) -> demo_data.DemoResult:
    """Build and commit the demo city (with progress bars), or find it if it exists."""
    with get_sessionmaker()() as session:
        if city_service.get_by_name(db_session=session, name=demo_data.DEMO_SPEC.name):
            return demo_data.seed_demo(db_session=session, seed=seed)
        with _progress() as progress:
            result = demo_data.seed_demo(db_session=session, seed=seed, progress=progress)
        session.commit()
    return result


def print_demo(
    result: demo_data.DemoResult, *, base_url: str | None = None, played: bool = False
) -> None:
    """The demo city's counts, the address, the logins and the demo resident's panel."""
    if result.created and result.summary is not None:
        console.print(_counts_table(result.summary, title=f"Demo city {result.city_name}"))
        console.print(f"Built in {result.summary.seconds:.1f} s.")
    else:
        console.print(
            f"[yellow]The demo city {result.city_name!r} exists (id {result.city_id}): "
            "nothing changed.[/yellow] (To rebuild it, start from an empty database.)"
        )
    for username in result.staff_skipped:
        console.print(
            f"[yellow]Staff account {username!r} already existed: left as it is.[/yellow]"
        )
    lines = []
    if base_url:
        lines += [
            f"Operators [bold]{base_url}/ops[/bold]",
            f"Residents [bold]{base_url}/[/bold]  (on a phone, or a narrow window)",
            f"Drivers   [bold]{base_url}/driver[/bold]",
            f"API docs  [bold]{base_url}/docs[/bold]",
            "",
        ]
    lines.append("[bold]Demo logins (development only, never in production)[/bold]")
    for role, username, password in result.logins:
        lines.append(f"  {role:<9} {username} / {password}")
    if result.fleet_drivers:
        first, last = result.fleet_drivers[0], result.fleet_drivers[-1]
        lines.append(f"  drivers   {first} ... {last} / {DRIVER_PASSWORD}  (one per van)")
    lines += [
        "",
        "Staff:     POST /auth/staff/token",
        "Residents: POST /auth/resident/code, then POST /auth/resident/token",
    ]
    console.print(Panel("\n".join(lines), title="Pickup demo", border_style="green", expand=False))
    if result.resident_phone:
        console.print(_resident_panel(result.resident_phone, base_url, played=played))


def _resident_panel(phone: str, base_url: str | None, *, played: bool = False) -> Panel:
    """How to log in as the demo resident: the phone, and where its login code appears."""
    body = json.dumps({"phone": phone})
    others = (
        [
            "SMS    to this phone print in full; the other residents are simulated",
            "       and read theirs on their own phones (the panel counts them).",
        ]
        if played
        else [
            "SMS    to this phone print in full; to other residents, one summary",
            "       line per burst (all of them: [bold]pickup notifications outbox[/bold]).",
        ]
    )
    lines = [
        f"Phone  [bold]{phone}[/bold]",
        "Code   POST /auth/resident/code with this phone: the code appears",
        "       in this terminal on a [bold black on yellow] LOGIN CODE [/] line.",
        *others,
    ]
    if base_url:
        lines += [
            "",
            f"curl -X POST {base_url}/auth/resident/code \\",
            f"  -H 'content-type: application/json' -d '{body}'",
        ]
    return Panel("\n".join(lines), title="Demo resident", border_style="yellow", expand=False)


@app.command("demo")
def seed_demo_command(
    seed: int = typer.Option(demo_data.DEMO_SEED, help="Random seed: the same seed, the same city"),
) -> None:
    """Build the demo city: Shanghai, 60 neighborhoods with locker banks, 2,000 residents,
    80 products, two windows a day, group buys with orders, depots and a refrigerated fleet
    with a driver per van, and dev-only staff logins.

    Skips (and says so) if the demo city already exists."""
    _refuse_production()
    _require_schema()
    print_demo(seed_demo_city(seed))


@app.command("city")
def seed_city_command(
    neighborhoods: int = typer.Option(600, min=1, help="Neighborhoods, one locker bank each"),
    residents: int = typer.Option(130_000, min=1, help="Residents"),
    seed: int = typer.Option(1, help="Random seed: the same seed, the same city"),
    name: str = typer.Option("Shanghai Benchmark", help="City name (must be new)"),
    code_prefix: str = typer.Option("BM", help="Locker bank code prefix, e.g. BM -> BM-001"),
    timezone: str = typer.Option("Asia/Shanghai", help="IANA time zone"),
    products: int = typer.Option(80, min=1, help="Products (at most 80)"),
    days: int = typer.Option(3, min=1, help="Local days of windows from today"),
    group_buys: int = typer.Option(20, min=0, help="Group buys per neighborhood and window"),
    order_share: float = typer.Option(
        0.10, min=0.0, max=1.0, help="Share of residents ordering in each window"
    ),
    vans: int | None = typer.Option(
        None, min=0, help="Refrigerated vans [default: sized for the neighborhoods and orders]"
    ),
) -> None:
    """Build a full-size city for benchmarks (default: 600 neighborhoods, 130,000 residents,
    a fleet sized for them) with bulk inserts, and report how long each step took."""
    _require_schema()
    spec = CitySpec(
        name=name,
        neighborhoods=neighborhoods,
        residents=residents,
        timezone=timezone,
        bank_code_prefix=code_prefix,
        products=products,
        window_days=days,
        group_buys_per_window=group_buys,
        order_share=order_share,
        vans=vans,
    )
    try:
        spec.validate()
    except ValueError as exc:
        console.print(f"[red]Invalid option:[/red] {exc}")
        raise typer.Exit(2) from exc
    with get_sessionmaker()() as session:
        existing = city_service.get_by_name(db_session=session, name=name)
        if existing is not None:
            console.print(
                f"[red]A city named {name!r} exists (id {existing.id}).[/red] "
                "Choose another --name (and --code-prefix)."
            )
            raise typer.Exit(1)
        with _progress() as progress:
            summary = build_city(db_session=session, spec=spec, seed=seed, progress=progress)
        started = clock.perf_counter()
        session.commit()
        commit_seconds = clock.perf_counter() - started
    console.print(_counts_table(summary, title=f"City {summary.name} (id {summary.city_id})"))
    console.print(_timings_table(summary, commit_seconds))


def migrate_database() -> None:
    """Bring the configured database to the latest schema, with a spinner."""
    from app import dbtools

    with console.status("Migrating the database..."):
        dbtools.upgrade(get_settings().database_url)


def prepare_address(
    *, host: str, port: int | None, mqtt_port: int | None, port_base: int | None
) -> serving.ServeAddress:
    """The address to serve on, every port free, told to the process; else exit 1 naming the
    taken port and the option that changes it."""
    try:
        return serving.prepare(host=host, port=port, mqtt_port=mqtt_port, port_base=port_base)
    except PortInUse as exc:
        console.print(f"[red]Cannot start:[/red] {exc}")
        raise typer.Exit(1) from exc


def demo(
    host: str = serving.HostOption,
    port: int | None = serving.PortOption,
    mqtt_port: int | None = serving.MqttPortOption,
    port_base: int | None = serving.PortBaseOption,
) -> None:
    """Set up and serve in one go: migrate the database, seed the demo city if absent, print
    the address, the demo logins and how to get the demo resident's login code, then serve."""
    _refuse_production()
    address = prepare_address(host=host, port=port, mqtt_port=mqtt_port, port_base=port_base)
    migrate_database()
    result = seed_demo_city(demo_data.DEMO_SEED)
    show_sms_in_full_to(result.resident_phone)
    print_demo(result, base_url=address.base_url)
    serving.run(address)
