"""One run of the SMS benchmark: a Celery worker of our own on an empty Redis database, the fake
Twilio, the warm-up, then every message enqueued in send tasks and timed to the provider and to
settled. Imported by bench/notifications.py once it has set the environment."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from notifications_world import database, seed
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import dbtools
from app.core.db import make_engine
from app.schema import load_all_models
from notifications import dispatch
from notifications.models import Message, MessageStatus
from simulation.twilio_server import FakeTwilio, FakeTwilioServer

ROOT = Path(__file__).resolve().parent.parent
console = Console(stderr=True)
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


def start_worker(env: dict[str, str], log: Path, concurrency: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "app.worker",
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
