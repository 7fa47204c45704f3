"""Fault scenarios at bench size (results in docs/benchmarks-faults.md).

Each scenario is the one tests/faults/ runs in CI, with larger numbers; each reports lost
(target 0) and duplicated (target 0). Every server that is restarted is one of our own, on
another port in a temp directory: a PostgreSQL (initdb + pg_ctl), a Redis, a Mosquitto.

    .venv/bin/python bench/faults.py                      # every scenario
    .venv/bin/python bench/faults.py --only db --only cutoff --json out.json

Scenarios: db (PostgreSQL restarted and crashed mid-order-burst), cutoff (the cut-off pipeline
SIGKILLed at every step boundary and inside steps, on SQLite and PostgreSQL), broker (Mosquitto
restarted mid-deposits, SIGTERM and SIGKILL), redis (Redis killed under a real Celery worker
sending SMS), replay (a locker's day of buffered events, replayed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("SECRET_KEY", "bench-faults-secret-key-long-enough-0123456789")
os.environ.setdefault("LOGISTICS_SOLVER_TIME_LIMIT_S", "2")

from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app.core.db import make_engine  # noqa: E402
from tests.faults import (  # noqa: E402
    broker_restart,
    cutoff_kill,
    db_restart,
    locker_replay,
    redis_restart,
)
from tests.faults.servers import PostgresProcess  # noqa: E402
from tests.support import mosquitto  # noqa: E402

SCENARIOS = ("db", "cutoff", "broker", "redis", "replay")
KILL_POINTS = [
    "after:close",
    "after:pack",
    "during:reserve",
    "after:reserve",
    "during:route",
    "after:route",
]


@contextmanager
def own_postgres() -> Iterator[PostgresProcess]:
    folder = Path(tempfile.mkdtemp(prefix="pickup-bench-pg-"))
    pg = PostgresProcess(folder).init().start()
    try:
        yield pg
    finally:
        pg.stop(mode="immediate")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def database(pg: PostgresProcess) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """A fresh migrated database on our PostgreSQL: its URL and a session factory."""
    with cutoff_kill.fresh_databases(1, pg.url) as (url,):
        engine = make_engine(url)
        try:
            yield url, sessionmaker(bind=engine, expire_on_commit=False)
        finally:
            engine.dispose()


def scenario_db(args: argparse.Namespace, _pg: PostgresProcess) -> list[dict[str, Any]]:
    rows = []
    for mode, name in (("fast", "restart (pg_ctl -m fast)"), ("immediate", "crash (-m immediate)")):
        result = db_restart.run(orders=args.orders, workers=args.workers, mode=mode)
        rows.append(
            {
                "scenario": f"PostgreSQL {name} mid-order-burst",
                "size": f"{result.orders} orders, {args.workers} clients",
                "lost": result.lost,
                "duplicated": result.duplicated,
                "figures": (
                    f"answers {dict(result.answers)}; half-written {result.half_written}; "
                    f"other answers {len(result.unexpected)}; recovered "
                    f"{result.recovered_after_s} s after the restart ({result.restart_s:.1f} s)"
                ),
                "wall_s": round(result.wall_s, 1),
            }
        )
    return rows


def scenario_cutoff(args: argparse.Namespace, pg: PostgresProcess) -> list[dict[str, Any]]:
    rows = []
    for db_name, server in (("SQLite", None), ("PostgreSQL", pg.url)):
        result = cutoff_kill.run(
            kill_points=KILL_POINTS,
            hoods=args.hoods,
            orders_per_hood=args.orders_per_hood,
            server_url=server,
        )
        row = result.row()
        rows.append(
            {
                "scenario": f"cut-off SIGKILLed and resumed ({db_name})",
                "size": f"{result.orders} orders, {args.hoods} neighborhoods",
                "lost": result.lost,
                "duplicated": result.duplicated,
                "figures": (
                    f"{result.kills} kills ({', '.join(KILL_POINTS)}), {result.runs} runs; "
                    f"same outcome as uninterrupted: {result.same_outcome}; charges "
                    f"{row['charges']}, refunds {row['refunds']}, parcels {row['parcels']}"
                ),
                "wall_s": round(result.wall_s, 1),
            }
        )
    return rows


def scenario_broker(args: argparse.Namespace, pg: PostgresProcess) -> list[dict[str, Any]]:
    rows = []
    for kill in (False, True):
        with database(pg) as (_url, sessions):
            result = broker_restart.run(
                sessions,
                banks=args.banks,
                kill=kill,
                heartbeat_s=args.heartbeat,
                event_gap_grace_s=args.gap_grace,
            )
        rows.append(
            {
                "scenario": f"Mosquitto {'SIGKILL' if kill else 'SIGTERM'}ed mid-deposits",
                "size": f"{result.deposits} deposits, {result.banks} banks",
                "lost": result.lost,
                "duplicated": result.duplicated,
                "figures": (
                    f"acked {result.acked}, ready {result.ready}, door openings "
                    f"{result.door_openings}; refused while offline and retried "
                    f"{result.refused_offline}; settled {result.settle_s:.1f} s after the restart"
                    + (f"; problems: {result.problems}" if result.problems else "")
                ),
                "wall_s": round(result.wall_s, 1),
            }
        )
    return rows


def scenario_redis(args: argparse.Namespace, pg: PostgresProcess) -> list[dict[str, Any]]:
    with database(pg) as (url, sessions), redis_restart.local_twilio() as twilio:
        result = redis_restart.run(sessions, url, twilio, messages=args.messages)
    return [
        {
            "scenario": "Redis killed and restarted under the SMS worker",
            "size": f"{result.messages} SMS, 1 worker x 2 processes",
            "lost": result.lost,
            "duplicated": result.duplicated,
            "figures": (
                f"accepted before the restart {result.accepted_before_restart}; sent "
                f"{result.sent}; Twilio create calls {result.provider_creates}; {result.sweeps} "
                f"sweeps; settled {result.settle_s:.1f} s after the restart"
            ),
            "wall_s": round(result.wall_s, 1),
        }
    ]


def scenario_replay(args: argparse.Namespace, pg: PostgresProcess) -> list[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="pickup-bench-mosq-"))
    broker = mosquitto.MosquittoProcess(folder)
    broker.start()
    try:
        with database(pg) as (_url, sessions):
            result = locker_replay.run(sessions, broker.target, parcels=args.parcels)
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return [
        {
            "scenario": "a locker replaying a day of buffered events",
            "size": f"{result.parcels} pickups offline, {result.events_offline} events",
            "lost": result.lost,
            "duplicated": result.duplicated,
            "figures": (
                f"events stored {result.events_stored} of {result.events_offline} (then all "
                f"{result.replayed} sent again); collected {result.collected}; contiguous "
                f"{result.contiguous}; caught up {result.catch_up_s:.1f} s after reconnecting"
            ),
            "wall_s": round(result.wall_s, 1),
        }
    ]


RUNNERS: dict[str, Callable[[argparse.Namespace, PostgresProcess], list[dict[str, Any]]]] = {
    "db": scenario_db,
    "cutoff": scenario_cutoff,
    "broker": scenario_broker,
    "redis": scenario_redis,
    "replay": scenario_replay,
}


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| Scenario | Size | Lost | Duplicated | Figures | Wall |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['size']} | **{r['lost']}** | **{r['duplicated']}** | "
            f"{r['figures']} | {r['wall_s']} s |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="repeatable")
    parser.add_argument("--orders", type=int, default=600, help="db: orders in the burst")
    parser.add_argument("--workers", type=int, default=12, help="db: concurrent clients")
    parser.add_argument("--hoods", type=int, default=12, help="cutoff: neighborhoods")
    parser.add_argument("--orders-per-hood", type=int, default=8, help="cutoff")
    parser.add_argument("--banks", type=int, default=40, help="broker: banks (5 deposits each)")
    parser.add_argument(
        "--heartbeat", type=float, default=5.0, help="broker: banks' heartbeat seconds"
    )
    parser.add_argument(
        "--gap-grace",
        type=float,
        default=5.0,
        help="broker: seconds before a gap in a bank's events is replayed (production: 5)",
    )
    parser.add_argument("--messages", type=int, default=1000, help="redis: SMS in the batch")
    parser.add_argument("--parcels", type=int, default=200, help="replay: pickups offline")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    with own_postgres() as pg:
        for name in args.only or SCENARIOS:
            print(f"== {name}", file=sys.stderr, flush=True)
            done = RUNNERS[name](args, pg)
            for row in done:
                print(json.dumps(row, default=str), file=sys.stderr, flush=True)
            rows += done
    print(
        f"<!-- {shlex.join(['.venv/bin/python', 'bench/faults.py', *sys.argv[1:]])}; "
        f"{platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"{time.monotonic() - started:.0f} s -->"
    )
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))
    failed = [r["scenario"] for r in rows if r["lost"] or r["duplicated"]]
    if failed:
        print(f"targets missed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
