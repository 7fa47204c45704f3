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

This module holds the CLI and the report; the city is built in `cutoff_city.py` and one
database's timed run is `cutoff_run.py`, beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cutoff_run import Outcome, console, run_one  # noqa: E402

from app.core.db import make_engine  # noqa: E402
from logistics.cutoff_steps import STEPS  # noqa: E402

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
