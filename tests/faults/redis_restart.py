"""Scenario: Redis restarted under a real Celery worker sending SMS.

A Redis of our own (no persistence: a restart empties it, as a crash without AOF does) is the
Celery broker; a real worker process (`celery worker -Q notifications`, as in
tests/notifications/test_notifications_worker_kill.py) sends a batch of messages through the
real `twilio` SDK to the local Twilio-speaking server. When Twilio has accepted `restart_at`
of them (the next one is held in flight), Redis is killed and started again: every queued task
is gone and the worker's connection drops. The periodic sweep (beat's job in production, sent
here once a second) re-queues what was lost; the worker reconnects by itself.

Lost: messages never accepted by Twilio. Duplicated: second acceptances of one message (its
idempotency key) at Twilio.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.enums import Language
from notifications import dispatch
from notifications.models import Message, MessageStatus
from simulation.twilio_server import FakeTwilio, FakeTwilioServer
from tests.factories import Factory
from tests.faults.servers import RedisProcess, environment
from tests.notifications import conftest as sms_fixtures
from tests.notifications.test_notifications_worker_kill import _start_worker, _stop

CHUNK = 20  # as `notifications.tasks.enqueue_sends` queues them


@dataclass
class SmsResult:
    messages: int
    restart_at: int
    accepted_before_restart: int = 0
    sent: int = 0
    lost: int = 0
    duplicated: int = 0
    provider_creates: int = 0
    sweeps: int = 0
    settle_s: float = 0.0
    wall_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "accepted before the restart": self.accepted_before_restart,
            "sent": self.sent,
            "Twilio create calls": self.provider_creates,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "sweeps": self.sweeps,
            "settled after restart s": round(self.settle_s, 1),
            "wall_s": round(self.wall_s, 1),
        }


def twilio_env(twilio: FakeTwilioServer, database_url: str) -> dict[str, str]:
    """The notifications tests' settings: Twilio at the local server, this database."""
    return {
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": sms_fixtures.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": sms_fixtures.AUTH_TOKEN,
        "TWILIO_MESSAGING_SERVICE_SID": sms_fixtures.MESSAGING_SERVICE_SID,
        "TWILIO_BASE_URL": twilio.base_url,
        "PUBLIC_BASE_URL": sms_fixtures.PUBLIC_BASE_URL,
        "DATABASE_URL": database_url,
    }


@contextmanager
def local_twilio() -> Iterator[FakeTwilioServer]:
    """The local Twilio-speaking server (for the benchmark; the test uses the fixture)."""
    fake = FakeTwilio(account_sid=sms_fixtures.ACCOUNT_SID, auth_token=sms_fixtures.AUTH_TOKEN)
    server = FakeTwilioServer(fake).start()
    try:
        yield server
    finally:
        server.stop()


def _counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as db:
        rows = db.execute(select(Message.status, func.count()).group_by(Message.status))
        return {status.value: int(n) for status, n in rows}


def run(
    sessions: sessionmaker[Session],
    database_url: str,
    twilio: FakeTwilioServer,
    *,
    messages: int = 200,
    restart_at: int | None = None,
    down_for: float = 1.0,
    workdir: Path | None = None,
) -> SmsResult:
    """The whole scenario; `sessions` on `database_url` (commits are real)."""
    started = time.monotonic()
    restart_at = restart_at or messages // 3
    result = SmsResult(messages=messages, restart_at=restart_at)
    fake = twilio.fake
    fake.reset()
    folder = workdir or Path(tempfile.mkdtemp(prefix="pickup-fault-redis-"))
    redis = RedisProcess(folder / "redis").start()
    settings = twilio_env(twilio, database_url)
    worker_env = {
        **os.environ,
        **settings,
        "CELERY_BROKER_URL": redis.url,
        "NOTIFICATIONS_PROVIDER_TIMEOUT_SECONDS": "2",
        "NOTIFICATIONS_STALE_SENDING_SECONDS": "3",
        "NOTIFICATIONS_REQUEUE_AFTER_SECONDS": "3",
    }
    with environment({**settings, "CELERY_BROKER_URL": "memory://"}, sms_fixtures._clear_caches):
        ids = _queue_messages(sessions, messages)
    producer = Celery("fault-producer", broker=redis.url)
    worker = None
    try:
        fake.hold_after_accepting(restart_at)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            producer.send_task("notifications.send_batch", args=(chunk,), queue="notifications")
        worker = _start_worker("faults", worker_env, folder / "worker.log")
        if not fake.held.wait(timeout=120):
            raise RuntimeError((folder / "worker.log").read_text()[-3000:])
        result.accepted_before_restart = len(fake.accepted())
        redis.restart(kill=True, down_for=down_for)  # every queued task is gone
        fake.release.set()
        back = time.monotonic()
        deadline = back + 120
        while time.monotonic() < deadline:
            if _counts(sessions) == {MessageStatus.SENT.value: messages}:
                break
            try:
                producer.send_task("notifications.sweep", queue="notifications")
                result.sweeps += 1
            except Exception:  # noqa: BLE001 - the producer reconnects at the next beat
                pass
            time.sleep(1.0)
        result.settle_s = time.monotonic() - back
    finally:
        fake.release.set()
        if worker is not None:
            _stop(worker, signal.SIGTERM)
        producer.close()
        redis.stop()
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    result.statuses = _counts(sessions)
    result.sent = result.statuses.get(MessageStatus.SENT.value, 0)
    per_key = fake.accepted_by_key()
    result.provider_creates = len(fake.creates())
    result.lost = messages - len(per_key)
    result.duplicated = sum(n - 1 for n in per_key.values())
    result.wall_s = time.monotonic() - started
    return result


def _queue_messages(sessions: sessionmaker[Session], count: int) -> list[int]:
    """`count` order events, consumed into messages ready to send; their ids."""
    with sessions() as db:
        world = sms_fixtures.World(db, Factory(db))
        residents = [
            world.resident(language=Language.ZH if i % 2 else Language.EN) for i in range(50)
        ]
        for i in range(count):
            world.order_event(residents[i % len(residents)])
        db.commit()
    with sessions() as db:
        consumed = dispatch.consume(db_session=db, limit=count)
        db.commit()
    if len(consumed.to_send) != count:
        raise RuntimeError(f"{len(consumed.to_send)} messages to send, not {count}")
    return list(consumed.to_send)
