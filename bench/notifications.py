"""Throughput of the SMS outbox: messages per second from outbox rows to the provider, through a
real Celery worker over Redis, to the local fake Twilio (the real `twilio` SDK on the wire).

For each database (a SQLite file; a PostgreSQL database of its own, created and dropped here) and
each template it: builds residents (and parcels in lockers with live pickup codes for
`parcel_ready`), emits one outbox event per message, turns them into outbox rows
(`notifications.dispatch.consume`, timed apart), starts `celery -A app.worker worker
-Q notifications -c 2 --pool=prefork` on a Redis database of its own, warms it up, then enqueues
every message in send tasks of `--batch` messages (as `notifications.tasks.enqueue_sends` does)
and times:

- to provider: from the first enqueue until the fake Twilio has accepted the last message;
- settled: until every row is `sent` with Twilio's SID stored.

It checks that each message reached Twilio exactly once.

This module holds the CLI and the report; the database and seed are in
`notifications_world.py`, one timed run in `notifications_run.py` beside it.

    .venv/bin/python bench/notifications.py --db sqlite --db postgresql \\
        --template group_formed --template parcel_ready --write docs/benchmarks-notifications.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")
os.environ.setdefault("LOCKERS_PBKDF2_ITERATIONS", "1000")  # setup only: the locker-side hash

from notifications_run import WARMUP, Result, console, run_one  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402


def markdown(results: list[Result], args: argparse.Namespace, load: tuple[float, float]) -> str:
    lines = [
        "# SMS outbox benchmark (outbox -> Celery worker over Redis -> Twilio SDK -> fake Twilio)",
        "",
        "Messages per second from outbox rows to the provider, through a real Celery worker "
        f"(`-c {args.concurrency} --pool=prefork`, send tasks of {args.batch} messages, "
        f"{args.threads} provider calls in flight per process) over Redis, to the local fake "
        "Twilio Messages API (`simulation/twilio_server.py`, in the benchmark process) through "
        "the official `twilio` SDK. Each message: claim (row lock, compare-and-set to "
        "`sending`, render with codes derived at send time), the HTTP create call, record of "
        "Twilio's SID. **Target: at least 200 messages/s to the provider.**",
        "",
        "Command: `.venv/bin/python bench/notifications.py "
        + " ".join(f"--db {d}" for d in args.db)
        + " "
        + " ".join(f"--template {t}" for t in args.template)
        + f" --messages {args.messages} --write docs/benchmarks-notifications.md`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; "
        f"{datetime.now(UTC):%Y-%m-%d}. Load average (1 min) {load[0]:.1f} at the start, "
        f"{load[1]:.1f} at the end: the machine is shared with other jobs.",
        "",
        "| database | template | messages | outbox rows from events (msg/s) | to provider (msg/s) "
        "| settled, SID stored (msg/s) | target | each sent exactly once |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.db} | {r.template} | {r.messages} | {r.messages / r.dispatch_s:,.0f} "
            f"| **{r.provider_rate:,.0f}** | {r.settled_rate:,.0f} | >= 200 "
            f"| {'yes' if r.exactly_once else 'NO'} |"
        )
    lines += [
        "",
        "- *outbox rows from events*: `dispatch.consume` turning outbox events into message rows "
        "(resident, city, opt-out and consent looked up per event), before any worker runs; not "
        "part of the target.",
        "- *to provider*: from the first task enqueued until the fake Twilio accepted the last "
        "message. *settled*: until every row is `sent` with Twilio's SID stored (one more "
        "transaction per batch).",
        f"- A warm-up of {WARMUP} messages (worker start, imports, connections) is not timed. The "
        "fake Twilio answers in the benchmark process on the same 2 cores, so the worker, "
        "Redis, the database and the fake provider all share them.",
        "- *exactly once*: the fake Twilio counts accepted messages per idempotency key (carried "
        "in the StatusCallback URL); every key was accepted once.",
        "- `parcel_ready` renders from the parcel, its locker bank and compartment, and derives "
        "the pickup code through `lockers.codes.pickup_code_for_parcel` at send time; "
        "`group_formed` renders from the message's own parameters.",
        "- SQLite runs with `BEGIN IMMEDIATE` transactions (app/core/db.py): every transaction "
        "takes the write lock, so the two worker processes take turns on the database.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--template", action="append", choices=["group_formed", "parcel_ready"])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--write", type=Path, help="Write the markdown table here")
    parser.add_argument("--workdir", type=Path, help="Keep databases and the worker log here")
    args = parser.parse_args()
    args.db = args.db or ["sqlite"]
    args.template = args.template or ["group_formed"]
    load_start = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        console.print(f"worker log: {workdir}/worker.log")
        for kind in args.db:
            for template in args.template:
                results.append(run_one(kind, template, args, workdir))
    table = Table(title="SMS outbox throughput")
    for column in ("db", "template", "messages", "to provider msg/s", "settled msg/s", "once"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.db,
            r.template,
            str(r.messages),
            f"{r.provider_rate:,.0f}",
            f"{r.settled_rate:,.0f}",
            "yes" if r.exactly_once else "NO",
        )
    Console().print(table)
    text_md = markdown(results, args, (load_start, os.getloadavg()[0]))
    if args.write:
        args.write.write_text(text_md)
        console.print(f"wrote {args.write}")
    else:
        print(text_md)


if __name__ == "__main__":
    main()
