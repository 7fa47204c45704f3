"""Scale benchmark of the cut-off pipeline: 600 neighborhoods, 13,000 confirmed orders, one window.

For each database (SQLite file, PostgreSQL database of its own, created and dropped here) it
builds the city with `app.seed.city.build_city` (one locker bank per neighborhood, 60
compartments each), adds depots and a van fleet, then times `logistics.pipeline.run_cutoff`
step by step: close (group buys formed, orders confirmed at their tier), pack, reserve, route
(the solver's budget is `--time-limit`, i.e. LOGISTICS_SOLVER_TIME_LIMIT_S), publish. It checks
that every stop is served or reported and that no stored route takes longer than the cold-chain
limit from its departure to its last chilled or frozen deposit, and writes the table to
docs/benchmarks-cutoff.md.

    .venv/bin/python bench/cutoff.py --db sqlite --db postgresql --time-limit 20 \
        --write docs/benchmarks-cutoff.md

The city's time zone is picked so that its local time is early morning when the benchmark runs
(vans on a 05:00-14:00 shift, ready-by five hours after the cut-off), so it runs at any hour.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shlex
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import dbtools  # noqa: E402
from app.cities.models import Depot  # noqa: E402
from app.core.db import make_engine  # noqa: E402
from app.core.enums import TemperatureClass  # noqa: E402
from app.groupbuys.models import GroupBuy  # noqa: E402
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus  # noqa: E402
from app.schema import load_all_models  # noqa: E402
from app.seed.city import CitySpec, SlotSpec, build_city  # noqa: E402
from app.windows.models import DeliveryWindow  # noqa: E402
from logistics.cutoff_steps import STEPS  # noqa: E402
from logistics.models import Parcel, ParcelStatus, Route, RouteStop, UnassignedStop, Vehicle  # noqa: E402
from logistics.pipeline import run_cutoff  # noqa: E402
from logistics.settings import LogisticsSettings  # noqa: E402

console = Console(stderr=True)
COLD = (TemperatureClass.CHILLED, TemperatureClass.FROZEN)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
HEADER = """# Cut-off pipeline benchmark

`bench/cutoff.py` times the whole cut-off of one window (`logistics.pipeline.run_cutoff`, the
code behind `POST /windows/{id}/cutoff`, `pickup logistics cutoff` and the Celery task
`logistics.run_cutoff`) on a generated city: 600 neighborhoods with one locker bank each (24
ambient, 24 chilled, 12 frozen compartments), 13,000 orders placed in one window (every group
buy forms, so the close step confirms all of them), a fleet of refrigerated vans over three
depots. Each database is fresh (SQLite file; PostgreSQL database created and dropped by the
script, never `test`). The steps are timed as the pipeline records them in `pipeline_steps`;
"end to end" is the wall time of `run_cutoff` (claim, the five steps, the report).
Seeding is not timed. The machine has 2 cores shared with other work, so figures vary by run.
"""


def morning_zone(now: datetime) -> str:
    """An Etc/GMT zone whose local time now is between 06:00 and 07:59."""
    for offset in range(-12, 15):
        if 6 <= (now.hour + offset) % 24 <= 7:
            return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    raise AssertionError("unreachable")


@dataclass
class Outcome:
    """One database's run."""

    database: str
    seed_s: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0
    status: str = ""
    orders_confirmed: int = 0
    parcels: int = 0
    reserved: int = 0
    unplaced: int = 0
    overflowed: int = 0
    stops: int = 0
    stops_served: int = 0
    stops_unassigned: int = 0
    unassigned_reasons: dict[str, int] = field(default_factory=dict)
    routes: int = 0
    vans_available: int = 0
    distance_km: float = 0.0
    solver_s: float = 0.0
    cold_max_min: float = 0.0
    check: str = ""
    load_before: str = ""


def build(session: Session, args: argparse.Namespace, now: datetime) -> int:
    """The benchmark city with one window whose cut-off has just passed; returns the window id."""
    zone = morning_zone(now)
    spec = CitySpec(
        name=f"Cutoff Bench {uuid.uuid4().hex[:6]}",
        neighborhoods=args.neighborhoods,
        residents=int(args.orders * 1.03) + 50,
        timezone=zone,
        bank_code_prefix="CB" + uuid.uuid4().hex[:4].upper(),
        window_days=1,
        group_buys_per_window=20,
        order_share=1.0,
        radius_km=args.radius_km,
        slots=(SlotSpec("bench", clock_time(23, 59), 1, 24),),
        vans=0,  # the benchmark adds its own fleet below
        depots=1,
    )
    summary = build_city(db_session=session, spec=spec, seed=args.seed, now=now)
    window = session.scalar(select(DeliveryWindow).where(DeliveryWindow.city_id == summary.city_id))
    assert window is not None
    # The cut-off has just passed; lockers must be ready five hours later.
    window.cutoff_at = now - timedelta(minutes=1)
    window.ready_by = now + timedelta(hours=5)
    window.pickup_deadline = window.ready_by + timedelta(hours=24)
    window.local_date = now.astimezone(ZoneInfo(zone)).date()
    # Exactly `orders` orders stay placed (the rest were cancelled by their residents), and every
    # group forms, so the close step confirms all of them.
    order_ids = list(
        session.scalars(select(Order.id).where(Order.window_id == window.id).order_by(Order.id))
    )
    if len(order_ids) < args.orders:
        raise SystemExit(f"the seed made only {len(order_ids)} orders; raise residents")
    extra = order_ids[args.orders :]
    for start in range(0, len(extra), 1000):
        chunk = extra[start : start + 1000]
        for gb_id, qty in session.execute(
            select(OrderLine.group_buy_id, func.sum(OrderLine.quantity))
            .where(OrderLine.order_id.in_(chunk))
            .group_by(OrderLine.group_buy_id)
        ).all():
            session.execute(
                update(GroupBuy)
                .where(GroupBuy.id == gb_id)
                .values(ordered_quantity=GroupBuy.ordered_quantity - qty)
            )
        session.execute(
            update(OrderLine)
            .where(OrderLine.order_id.in_(chunk))
            .values(status=LineStatus.CANCELLED)
        )
        session.execute(
            update(Order).where(Order.id.in_(chunk)).values(status=OrderStatus.CANCELLED)
        )
    session.execute(update(GroupBuy).where(GroupBuy.window_id == window.id).values(min_quantity=1))
    # Depots: the seeded one plus more around the city; vans spread over them.
    rng = random.Random(args.seed)
    first = session.scalar(select(Depot).where(Depot.city_id == summary.city_id))
    assert first is not None
    depots = [first]
    for k in range(1, args.depots):
        angle = 2 * 3.14159 * k / args.depots
        depots.append(
            Depot(
                city_id=summary.city_id,
                name=f"Depot {k + 1}",
                lat=31.23 + 0.6 * args.radius_km / 111 * math.sin(angle),
                lon=121.47 + 0.6 * args.radius_km / 95 * math.cos(angle),
            )
        )
    session.add_all(depots[1:])
    session.flush()
    for n in range(args.vans):
        session.add(
            Vehicle(
                city_id=summary.city_id,
                depot_id=depots[n % len(depots)].id,
                code=f"{spec.bank_code_prefix}-VAN-{n + 1:03d}",
                name=f"Van {n + 1}",
                ambient_volume_ml=2_000_000,
                ambient_weight_g=700_000,
                chilled_volume_ml=2_000_000,
                chilled_weight_g=700_000,
                frozen_volume_ml=800_000,
                frozen_weight_g=300_000,
                shift_start_local=clock_time(5, 0),
                shift_end_local=clock_time(14, 0),
                fixed_cost_minor=20_000 + rng.randint(0, 2000),
            )
        )
    session.flush()
    return window.id


def run_one(database: str, url: str, args: argparse.Namespace) -> Outcome:
    """Migrate, seed, and time the pipeline on one database."""
    outcome = Outcome(database=database)
    outcome.load_before = _load()
    load_all_models()
    dbtools.upgrade(url)
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    now = datetime.now(UTC).replace(microsecond=0)
    console.print(f"[bold]{database}[/bold]: seeding {args.neighborhoods} neighborhoods ...")
    started = time.perf_counter()
    with factory() as session:
        window_id = build(session, args, now)
        session.commit()
    outcome.seed_s = time.perf_counter() - started
    settings = LogisticsSettings(
        solver_time_limit_s=args.time_limit,
        cold_chain_minutes=args.cold_chain_minutes,
        solver_workers=args.workers,
    )
    columns = (
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        tasks = {name: bar.add_task(name, total=None, start=False) for name in STEPS}

        def on_event(step: str, phase: str, done: int, total: int) -> None:
            task = tasks[step]
            if phase == "start":
                bar.start_task(task)
            elif phase == "progress" and total:
                bar.update(task, completed=done, total=total)
            elif phase in ("done", "skipped", "failed"):
                bar.update(task, total=1, completed=1)
                bar.stop_task(task)

        clock = time.perf_counter()
        report = run_cutoff(
            session_factory=factory,
            window_id=window_id,
            settings=settings,
            on_event=on_event,
            now=now + timedelta(seconds=1),
        )
        outcome.total_s = time.perf_counter() - clock
    outcome.status = report.status
    if report.error:
        console.print(f"[red]{report.error}[/red]")
    for step in report.steps:
        outcome.steps[step.name] = step.duration_s or 0.0
    detail = {s.name: s.detail for s in report.steps}
    outcome.orders_confirmed = int(detail["close"].get("orders_confirmed", 0))
    outcome.overflowed = int(detail["reserve"].get("overflowed_now", 0))
    outcome.vans_available = int(detail["route"].get("vehicles_available", 0))
    outcome.solver_s = float(detail["route"].get("solver_runtime_s", 0.0))
    with factory() as session:
        in_window = Parcel.window_id == window_id
        outcome.parcels = (
            session.scalar(select(func.count()).select_from(Parcel).where(in_window)) or 0
        )
        outcome.reserved = (
            session.scalar(
                select(func.count())
                .select_from(Parcel)
                .where(in_window, Parcel.status == ParcelStatus.RESERVED)
            )
            or 0
        )
        outcome.unplaced = outcome.parcels - outcome.reserved
        routes = list(session.scalars(select(Route).where(Route.window_id == window_id)))
        outcome.routes = len(routes)
        outcome.distance_km = sum(r.distance_m for r in routes) / 1000
        outcome.stops_served = (
            session.scalar(
                select(func.count())
                .select_from(RouteStop)
                .join(Route)
                .where(Route.window_id == window_id)
            )
            or 0
        )
        unassigned = list(
            session.scalars(select(UnassignedStop).where(UnassignedStop.window_id == window_id))
        )
        outcome.stops_unassigned = len(unassigned)
        for u in unassigned:
            outcome.unassigned_reasons[u.reason_code] = (
                outcome.unassigned_reasons.get(u.reason_code, 0) + 1
            )
        outcome.stops = int(detail["route"].get("stops", 0))
        # Every reserved parcel is on a route stop or counted in an unassigned stop.
        unrouted = (
            session.scalar(
                select(func.count())
                .select_from(Parcel)
                .where(
                    in_window,
                    Parcel.status == ParcelStatus.RESERVED,
                    Parcel.route_stop_id.is_(None),
                )
            )
            or 0
        )
        reported = sum(u.parcel_count for u in unassigned)
        # The cold chain as stored: departure -> start of service at each van's last stop
        # with a chilled or frozen parcel, against the limit.
        cold_stop_ids = set(
            session.scalars(
                select(Parcel.route_stop_id).where(
                    in_window,
                    Parcel.route_stop_id.is_not(None),
                    Parcel.temperature_class.in_(COLD),
                )
            )
        )
        for route in routes:
            for stop in route.stops:
                if stop.id in cold_stop_ids:
                    elapsed = (stop.planned_start - route.planned_departure).total_seconds()
                    outcome.cold_max_min = max(outcome.cold_max_min, elapsed / 60)
        cold_ok = outcome.cold_max_min <= args.cold_chain_minutes + 1e-6
        ok = (
            outcome.stops == outcome.stops_served + outcome.stops_unassigned
            and unrouted == reported
            and cold_ok
        )
        outcome.check = (
            "every stop served or reported, cold chain within the limit"
            if ok
            else (
                f"MISMATCH: {outcome.stops} stops, {outcome.stops_served} served, "
                f"{outcome.stops_unassigned} reported; {unrouted} unrouted parcels, "
                f"{reported} reported; longest cold chain {outcome.cold_max_min:.1f} min"
            )
        )
    engine.dispose()
    return outcome


def _load() -> str:
    """The machine's load averages (1, 5, 15 minutes), where the platform has them."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'cutoff-bench.db'}"


def _pg(base: str) -> tuple[str, Any, str]:
    """Create a database of our own; return its URL, the admin engine and its name."""
    url = make_url(base).set(drivername="postgresql+psycopg")
    name = f"pickup_bench_cutoff_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return url.set(database=name).render_as_string(hide_password=False), admin, name


def markdown(outcomes: list[Outcome], args: argparse.Namespace, command: str) -> str:
    """The results as the docs page."""
    lines = [
        f"## {args.label}",
        "",
        f"City of {args.neighborhoods} neighborhoods (one locker bank of 60 compartments each), "
        f"{args.orders:,} orders confirmed at the close of one window, {args.vans} vans over "
        f"{args.depots} depots; solver budget {args.time_limit:g} s "
        f"(LOGISTICS_SOLVER_TIME_LIMIT_S), cold-chain limit "
        f"{args.cold_chain_minutes} min (LOGISTICS_COLD_CHAIN_MINUTES), "
        f"{args.workers or 'default'} solver worker(s). Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores (shared), Python {platform.python_version()}. "
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        "| step (seconds) | " + " | ".join(o.database for o in outcomes) + " |",
        "|---|" + "---:|" * len(outcomes),
    ]
    for name in STEPS:
        lines.append(
            f"| {name} | " + " | ".join(f"{o.steps.get(name, 0):.1f}" for o in outcomes) + " |"
        )
    lines.append(
        "| **end to end** (target < 60 s) | "
        + " | ".join(f"**{o.total_s:.1f}**" for o in outcomes)
        + " |"
    )
    rows: list[tuple[str, Callable[[Outcome], object]]] = [
        ("status", lambda o: o.status),
        ("orders confirmed", lambda o: f"{o.orders_confirmed:,}"),
        ("parcels", lambda o: f"{o.parcels:,}"),
        ("parcels reserved", lambda o: f"{o.reserved:,}"),
        ("parcels overflowed to another bank", lambda o: f"{o.overflowed:,}"),
        ("parcels without a compartment (reported)", lambda o: f"{o.unplaced:,}"),
        ("stops", lambda o: f"{o.stops:,}"),
        ("stops served", lambda o: f"{o.stops_served:,}"),
        (
            "stops reported unassigned",
            lambda o: (
                f"{o.stops_unassigned}"
                + (
                    f" ({', '.join(f'{k}: {v}' for k, v in o.unassigned_reasons.items())})"
                    if o.unassigned_reasons
                    else ""
                )
            ),
        ),
        ("routes (vans used) / vans available", lambda o: f"{o.routes} / {o.vans_available}"),
        ("distance (km)", lambda o: f"{o.distance_km:,.0f}"),
        ("solver run time (s)", lambda o: f"{o.solver_s:.1f}"),
        (
            "longest departure -> last cold deposit (min)",
            lambda o: f"{o.cold_max_min:.0f} (limit {args.cold_chain_minutes})",
        ),
        ("check", lambda o: o.check),
        ("seeding (not timed above, s)", lambda o: f"{o.seed_s:.1f}"),
        ("load average 1/5/15 min before the run", lambda o: o.load_before),
    ]
    lines += ["", "| outcome | " + " | ".join(o.database for o in outcomes) + " |"]
    lines.append("|---|" + "---|" * len(outcomes))
    for label, value in rows:
        lines.append(f"| {label} | " + " | ".join(str(value(o)) for o in outcomes) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--neighborhoods", type=int, default=600)
    parser.add_argument("--orders", type=int, default=13_000)
    parser.add_argument("--vans", type=int, default=120)
    parser.add_argument("--depots", type=int, default=3)
    parser.add_argument("--radius-km", type=float, default=12.0)
    parser.add_argument("--time-limit", type=float, default=20.0, help="solver budget, seconds")
    parser.add_argument("--cold-chain-minutes", type=int, default=180)
    parser.add_argument("--workers", type=int, default=1, help="parallel solver searches")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", type=Path, default=None, help="markdown file to write")
    parser.add_argument("--append", action="store_true", help="add a section to --write")
    parser.add_argument("--label", default="Results", help="section title in --write")
    args = parser.parse_args()
    databases = args.db or ["sqlite", "postgresql"]
    outcomes: list[Outcome] = []
    for database in databases:
        if database == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                outcomes.append(run_one("SQLite", _sqlite_url(Path(tmp)), args))
        else:
            url, admin, name = _pg(args.pg_url)
            try:
                outcomes.append(run_one("PostgreSQL", url, args))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    table = Table(title="Cut-off pipeline (seconds)")
    table.add_column("step")
    for o in outcomes:
        table.add_column(o.database, justify="right")
    for name in STEPS:
        table.add_row(name, *(f"{o.steps.get(name, 0):.1f}" for o in outcomes))
    table.add_row("end to end", *(f"{o.total_s:.1f}" for o in outcomes))
    table.add_row(
        "stops / served / reported",
        *(f"{o.stops}/{o.stops_served}/{o.stops_unassigned}" for o in outcomes),
    )
    table.add_row("routes", *(str(o.routes) for o in outcomes))
    table.add_row("check", *(o.check for o in outcomes))
    Console().print(table)
    if args.write:
        command = ".venv/bin/python bench/cutoff.py " + shlex.join(sys.argv[1:])
        section = markdown(outcomes, args, command)
        if args.append and args.write.exists():
            args.write.write_text(args.write.read_text() + "\n" + section)
        else:
            args.write.write_text(HEADER + "\n" + section)
        console.print(f"written: {args.write}")


if __name__ == "__main__":
    main()
