"""Throughput of the SMS outbox: messages per second from outbox rows to the provider, through a
real Celery worker over Redis, to the local fake Twilio (the real `twilio` SDK on the wire).

For each database (a SQLite file; a PostgreSQL database of its own, created and dropped here) and
each template it: builds residents (and parcels in lockers with live pickup codes for
`parcel_ready`), emits one outbox event per message, turns them into outbox rows
(`notifications.dispatch.consume`, timed apart), starts `celery -A app.core.celery_app worker
-Q notifications -c 2 --pool=prefork` on a Redis database of its own, warms it up, then enqueues
every message in send tasks of `--batch` messages (as `notifications.tasks.enqueue_sends` does)
and times:

- to provider: from the first enqueue until the fake Twilio has accepted the last message;
- settled: until every row is `sent` with Twilio's SID stored.

It checks that each message reached Twilio exactly once.

    .venv/bin/python bench/notifications.py --db sqlite --db postgresql \\
        --template group_formed --template parcel_ready --write docs/benchmarks-notifications.md
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")
os.environ.setdefault("LOCKERS_PBKDF2_ITERATIONS", "1000")  # setup only: the locker-side hash

import redis  # noqa: E402
from celery import Celery  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app import dbtools  # noqa: E402
from app.core.db import make_engine  # noqa: E402
from app.core.enums import CompartmentSize, Language, TemperatureClass  # noqa: E402
from app.events.models import OutboxEvent  # noqa: E402
from app.schema import load_all_models  # noqa: E402
from logistics.models import Parcel, ParcelStatus  # noqa: E402
from notifications import dispatch  # noqa: E402
from notifications.models import Message, MessageStatus  # noqa: E402
from simulation.twilio_server import FakeTwilio, FakeTwilioServer  # noqa: E402
from tests.factories import Factory  # noqa: E402

console = Console(stderr=True)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379"
LOCK_KEY = "pickup:notifications-bench"
ACCOUNT_SID, AUTH_TOKEN = "AC" + "5" * 32, "bench-auth-token"
WARMUP = 40


@dataclass
class Result:
    db: str
    template: str
    messages: int
    dispatch_s: float
    provider_s: float
    settled_s: float
    exactly_once: bool

    @property
    def provider_rate(self) -> float:
        return self.messages / self.provider_s

    @property
    def settled_rate(self) -> float:
        return self.messages / self.settled_s


def free_redis_db() -> tuple[str, redis.Redis]:
    """An empty Redis database (10-15), marked as ours."""
    for number in range(10, 16):
        client = redis.Redis.from_url(f"{REDIS}/{number}")
        if client.dbsize() == 0 and client.set(LOCK_KEY, os.getpid(), nx=True, ex=3600):
            return f"{REDIS}/{number}", client
        client.close()
    raise SystemExit("no empty Redis database among 10-15")


def database(kind: str, workdir: Path) -> tuple[str, Any]:
    """A fresh database URL and a function that removes it."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}", lambda: None
    base = make_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG)).set(
        drivername="postgresql+psycopg"
    )
    name = f"pickup_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def seed(factory: sessionmaker[Session], template: str, count: int) -> None:
    """Residents and one outbox event per message (parcels in lockers for parcel_ready)."""
    from lockers import codes

    with factory() as db_session:
        make = Factory(db_session)
        hoods = [make.neighborhood() for _ in range(20)]
        residents = [
            make.resident(hoods[i % 20], language=Language.ZH if i % 3 == 0 else Language.EN)
            for i in range(max(1, count // 10))
        ]
        rows: list[dict[str, Any]] = []
        if template == "group_formed":
            for i in range(count):
                resident = residents[i % len(residents)]
                payload = {
                    "order_id": 100_000 + i,
                    "resident_id": resident.id,
                    "charged_minor": 1980 + i,
                    "refunded_minor": 0,
                    "currency": "CNY",
                }
                rows.append({"kind": "order.confirmed", "key": f"bench:{i}", "payload": payload})
        else:
            banks = [make.locker_bank(h, address=f"{i} Huaihai Rd") for i, h in enumerate(hoods)]
            bank_of = {bank.neighborhood_id: bank for bank in banks}
            per_bank = count // len(banks) + 1
            compartments = {
                bank.id: [make.compartment(bank, label=f"C{n:03d}") for n in range(per_bank)]
                for bank in banks
            }
            group_buy = make.group_buy(neighborhood=hoods[0])
            orders = {r.id: make.order(r, [(group_buy, 1)]) for r in residents}
            deadline = datetime.now(UTC) + timedelta(hours=20)
            for i in range(count):
                resident = residents[i % len(residents)]
                bank = bank_of[resident.neighborhood_id]
                compartment = compartments[bank.id][i // len(banks) % per_bank]
                order = orders[resident.id]
                parcel = Parcel(
                    order_id=order.id,
                    window_id=order.window_id,
                    resident_id=resident.id,
                    neighborhood_id=resident.neighborhood_id,
                    temperature_class=TemperatureClass.CHILLED,
                    sequence=i + 1,
                    volume_ml=1000,
                    weight_g=500,
                    compartment_size=CompartmentSize.M,
                    bank_id=bank.id,
                    compartment_id=compartment.id,
                    status=ParcelStatus.READY_FOR_PICKUP,
                    pickup_deadline=deadline,
                )
                db_session.add(parcel)
                db_session.flush()
                codes.ensure_pickup_code(db_session=db_session, parcel=parcel)
                payload = {
                    "parcel_id": parcel.id,
                    "order_id": order.id,
                    "resident_id": resident.id,
                    "bank_id": bank.id,
                    "compartment_id": compartment.id,
                }
                rows.append(
                    {"kind": "parcel.ready_for_pickup", "key": f"bench:{i}", "payload": payload}
                )
        for row in rows:
            db_session.add(
                OutboxEvent(kind=row["kind"], dedupe_key=row["key"], payload=row["payload"])
            )
        db_session.commit()


def start_worker(env: dict[str, str], log: Path, concurrency: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "app.core.celery_app",
                "worker",
                "-Q",
                "notifications",
                "-c",
                str(concurrency),
                "--pool=prefork",
                "-l",
                "warning",
                "-n",
                f"bench-{uuid.uuid4().hex[:6]}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(
    predicate: Any, timeout: float, what: str, log: Path | None = None, every: float = 0.02
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    raise SystemExit(f"timed out waiting for {what}\n{tail}")


def sent_count(factory: sessionmaker[Session], ids: list[int]) -> int:
    with factory() as db_session:
        return int(
            db_session.scalar(
                select(func.count(Message.id)).where(
                    Message.id.in_(ids), Message.status == MessageStatus.SENT
                )
            )
            or 0
        )


def run_one(kind: str, template: str, args: argparse.Namespace, workdir: Path) -> Result:
    url, drop = database(kind, workdir)
    redis_url, redis_client = free_redis_db()
    fake = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    accepted_at: list[float] = []
    lock = threading.Lock()

    def on_create(_message: dict[str, Any]) -> None:
        with lock:
            accepted_at.append(time.perf_counter())

    fake.on_create = on_create
    server = FakeTwilioServer(fake).start()
    worker = None
    try:
        load_all_models()
        dbtools.upgrade(url)
        engine = make_engine(url)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        total = args.messages + WARMUP
        console.print(f"[bold]{kind} / {template}[/bold]: seeding {total} messages ...")
        seed(factory, template, total)
        started = time.perf_counter()
        ids: list[int] = []
        with factory() as db_session:
            while True:
                result = dispatch.consume(db_session=db_session, limit=1000)
                db_session.commit()
                ids.extend(result.to_send)
                if result.events == 0:
                    break
        dispatch_s = time.perf_counter() - started
        assert len(ids) == total, (len(ids), total)
        warmup, measured = ids[:WARMUP], ids[WARMUP:]

        env = {
            **os.environ,
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": redis_url,
            "SMS_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_MESSAGING_SERVICE_SID": "MG" + "5" * 32,
            "TWILIO_BASE_URL": server.base_url,
            "NOTIFICATIONS_SEND_BATCH_SIZE": str(args.batch),
            "NOTIFICATIONS_SEND_THREADS": str(args.threads),
        }
        os.environ["CELERY_BROKER_URL"] = redis_url  # Celery lets this variable win
        producer = Celery("bench-producer", broker=redis_url)
        worker = start_worker(env, workdir / "worker.log", args.concurrency)

        def enqueue(message_ids: list[int]) -> None:
            for start in range(0, len(message_ids), args.batch):
                chunk = message_ids[start : start + args.batch]
                producer.send_task("notifications.send_batch", args=(chunk,), queue="notifications")

        enqueue(warmup)
        wait_for(lambda: len(accepted_at) >= WARMUP, 120, "the warm-up", workdir / "worker.log")
        wait_for(lambda: sent_count(factory, warmup) == WARMUP, 60, "the warm-up", every=0.2)
        with lock:
            accepted_at.clear()
        console.print(f"  sending {len(measured)} through the worker ...")
        t0 = time.perf_counter()
        enqueue(measured)
        wait_for(lambda: len(accepted_at) >= len(measured), 600, "the provider")
        provider_s = max(accepted_at) - t0
        # every 0.1 s: on SQLite each poll's transaction takes the write lock (BEGIN IMMEDIATE)
        wait_for(lambda: sent_count(factory, measured) == len(measured), 600, "settling", None, 0.1)
        settled_s = time.perf_counter() - t0
        counts = fake.accepted_by_key()
        once = len(counts) == total and set(counts.values()) == {1}
        producer.close()
        engine.dispose()
        return Result(kind, template, len(measured), dispatch_s, provider_s, settled_s, once)
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        server.stop()
        redis_client.flushdb()
        redis_client.close()
        drop()


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
