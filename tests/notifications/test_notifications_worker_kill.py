"""A real Celery worker over Redis is killed (SIGKILL) in the middle of a batch of 500 messages,
at the worst moment: Twilio has accepted a message and the worker never hears back. A new
worker and the periodic sweep finish the batch; every message reaches Twilio exactly once."""

import ctypes
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.enums import Language
from notifications import dispatch
from notifications.models import Message, MessageStatus
from simulation.twilio_server import FakeTwilioServer
from tests.factories import Factory
from tests.notifications.conftest import World

pytestmark = pytest.mark.slow

# CI sets REDIS_URL (and then a missing Redis fails the run); on a newcomer's machine without
# Redis this one test is skipped with the reason.
REDIS = re.sub(r"/\d+$", "", os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
LOCK_KEY = "pickup:notifications-kill-test"
REPO = Path(__file__).resolve().parents[2]
CELERY = REPO / ".venv" / "bin" / "celery"
BATCH = 500
KILL_AT = 150


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of this run's own (9 unless another run holds it), emptied after.

    Runs of this test may overlap on a shared machine; each takes an empty database and marks
    it with a key, so two runs' workers never take each other's tasks.
    """
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        if os.environ.get("REDIS_URL"):
            raise
        pytest.skip(f"no Redis at {REDIS}: the real-worker test needs one (set REDIS_URL)")
    for number in range(9, 16):
        client = redis.Redis.from_url(f"{REDIS}/{number}")
        if client.dbsize() == 0 and client.set(LOCK_KEY, os.getpid(), nx=True, ex=900):
            break
        client.close()
    else:
        pytest.fail("no empty Redis database among 9-15 for the worker test")
    yield f"{REDIS}/{number}"
    client.flushdb()
    client.close()


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> Iterator[Celery]:
    """A producer on the test's Redis database."""
    monkeypatch.setenv("CELERY_BROKER_URL", redis_url)  # Celery lets this variable win
    producer = Celery("kill-test-producer", broker=redis_url)
    yield producer
    producer.close()


def _die_with_parent() -> None:
    """In the worker: get SIGKILL if the test process dies (no orphan workers left behind)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _start_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "app.worker",
                "worker",
                "-Q",
                "notifications",
                "-c",
                "2",
                "--pool=prefork",
                "-l",
                "info",
                "-n",
                f"{name}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL takes the children too
            preexec_fn=_die_with_parent,
        )


def _stop(worker: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
    worker.wait(timeout=30)


def _counts(factory: sessionmaker[Session]) -> dict[MessageStatus, int]:
    with factory() as db_session:
        rows = db_session.execute(select(Message.status, func.count()).group_by(Message.status))
        return {status: int(n) for status, n in rows}


def test_a_worker_killed_mid_batch_sends_each_message_exactly_once(
    committed: sessionmaker[Session],
    database_url: str,
    twilio_server: FakeTwilioServer,
    redis_url: str,
    broker: Celery,
    tmp_path: Path,
) -> None:
    fake = twilio_server.fake
    with committed() as db_session:
        world = World(db_session, Factory(db_session))
        residents = [
            world.resident(language=Language.ZH if i % 2 else Language.EN) for i in range(50)
        ]
        for i in range(BATCH):
            world.order_event(residents[i % 50])
        db_session.commit()
    with committed() as db_session:
        result = dispatch.consume(db_session=db_session, limit=BATCH)
        db_session.commit()
    assert len(result.to_send) == BATCH

    env = {
        **os.environ,
        "CELERY_BROKER_URL": redis_url,
        "DATABASE_URL": database_url,
        "NOTIFICATIONS_PROVIDER_TIMEOUT_SECONDS": "2",
        "NOTIFICATIONS_STALE_SENDING_SECONDS": "3",
        "NOTIFICATIONS_REQUEUE_AFTER_SECONDS": "3",
    }
    log = tmp_path / "workers.log"
    fake.hold_after_accepting(KILL_AT)  # Twilio takes #150, then the worker dies waiting
    ids = result.to_send
    for start in range(0, BATCH, 20):  # as `enqueue_sends` does: tasks of 20 messages
        chunk = ids[start : start + 20]
        broker.send_task("notifications.send_batch", args=(chunk,), queue="notifications")

    first = _start_worker("first", env, log)
    second = None
    try:
        assert fake.held.wait(timeout=120), log.read_text()[-3000:]
        _stop(first)  # SIGKILL, mid-batch, with a send in flight
        fake.release.set()
        accepted_at_kill = len(fake.accepted())
        assert KILL_AT <= accepted_at_kill < BATCH
        in_flight = _counts(committed).get(MessageStatus.SENDING, 0)
        assert in_flight >= 1  # the claims the killed worker left behind

        second = _start_worker("second", env, log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            broker.send_task("notifications.sweep", queue="notifications")
            if _counts(committed) == {MessageStatus.SENT: BATCH}:
                break
            time.sleep(1.0)
    finally:
        fake.release.set()
        _stop(first)
        if second is not None:
            _stop(second, signal.SIGTERM)

    assert _counts(committed) == {MessageStatus.SENT: BATCH}, log.read_text()[-3000:]
    per_key = fake.accepted_by_key()
    assert len(per_key) == BATCH and set(per_key.values()) == {1}  # each exactly once
    refused = [
        (r.status, r.form.get("To"), r.callback_key) for r in fake.creates() if r.status != 201
    ]
    assert len(fake.creates()) == BATCH, refused  # not even a refused second attempt
    with committed() as db_session:
        rows = db_session.scalars(select(Message)).all()
        by_key = {m["_key"]: m["sid"] for m in fake.accepted()}
        assert {m.idempotency_key: m.provider_sid for m in rows} == by_key
        held_key = fake.accepted()[KILL_AT - 1]["_key"]
        held = next(m for m in rows if m.idempotency_key == held_key)
        assert held.sid_source == "lookup"  # found at Twilio, not sent again
        assert held.attempts == 2
