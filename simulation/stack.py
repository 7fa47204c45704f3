"""The system a played day runs against, on either stack, in or beside this process.

- embedded: SQLite, the in-process MQTT broker, tasks run here (the same task functions the
  worker runs), all in this process; the cut-off runs synchronously while the clock waits.
- production: PostgreSQL, Mosquitto, and a real Celery worker and beat over Redis as child
  processes that follow the simulated clock through its state file.

Both serve the real API over HTTP (uvicorn on a free port), run the real locker bridge, and send
SMS through the real twilio SDK to the phone network. Each day gets its own fresh database,
its own MQTT topic prefix and its own clock file, so several days can run on one machine.
"""

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

log = logging.getLogger(__name__)


# The clockwork's passes that move what `pending` counts: events into SMS, reservations into
# locker commands, and SMS whose send was left in doubt (a dropped connection) back to a sender.
SETTLE_PASSES = (
    "lockers.consume_reservations",
    "notifications.dispatch_events",
    "notifications.sweep",
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class StackConfig:
    production: bool = False
    database_url: str | None = None  # production: the server to create the day's database on
    mqtt_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None
    mqtt_port: int | None = None
    keep_database: bool = False
    workdir: Path | None = None


@dataclass
class Stack:
    """Everything running for one day; `stop()` takes it all down."""

    config: StackConfig
    base_url: str = ""
    database_url: str = ""
    mqtt_url: str = ""
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pickup-day-")))
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _server: Any = None
    _server_thread: threading.Thread | None = None
    bridge: Any = None
    _drop_database: str | None = None

    @property
    def production(self) -> bool:
        return self.config.production

    # --- environment ------------------------------------------------------------------------

    def prepare(self, *, extra_env: dict[str, str], clock_file: Path) -> dict[str, str]:
        """Choose the database, broker and ports; set the environment every part reads."""
        if self.config.workdir is not None:
            self.workdir = self.config.workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
        port = self.config.port or free_port(self.config.host)
        self.base_url = f"http://{self.config.host}:{port}"
        self.config.port = port
        if self.production:
            self.database_url = self._fresh_postgres()
            self.mqtt_url = self.config.mqtt_url or "mqtt://127.0.0.1:1883"
        else:
            for stale in self.workdir.glob("day.db*"):
                stale.unlink()  # every day starts from an empty database
            self.database_url = f"sqlite:///{self.workdir / 'day.db'}"
            mqtt_port = self.config.mqtt_port or free_port(self.config.host)
            self.mqtt_url = f"embedded://{self.config.host}:{mqtt_port}"
        env = {
            "DATABASE_URL": self.database_url,
            "MQTT_URL": self.mqtt_url,
            "PUBLIC_BASE_URL": self.base_url,
            "LOCKERS_TOPIC_PREFIX": f"day{os.getpid()}",
            "PICKUP_CLOCK_FILE": str(clock_file),
            # The handsets come through a local "proxy" with their own public addresses
            # (X-Forwarded-For, simulation/api.py): believe it from this host only.
            "TRUSTED_PROXIES": "127.0.0.1,::1",
            **extra_env,
        }
        if self.production:
            redis = _own_redis_database(self.config.redis_url or "redis://127.0.0.1:6379/0")
            env["CELERY_BROKER_URL"] = redis
            env["CELERY_RESULT_BACKEND"] = redis
            env["CLOCKWORK_TICK_SECONDS"] = "1"
        else:
            env["CELERY_BROKER_URL"] = "memory://"
        os.environ.update(env)
        _forget_cached_settings()
        return env

    def _fresh_postgres(self) -> str:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        base = make_url(_psycopg(self.config.database_url or os.environ.get("DATABASE_URL", "")))
        if base.get_backend_name() != "postgresql":
            raise SystemExit("the production stack needs DATABASE_URL=postgresql://...")
        name = f"pickup_day_{os.getpid()}_{int(time.time())}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self._drop_database = name
        return base.set(database=name).render_as_string(hide_password=False)

    # --- processes --------------------------------------------------------------------------

    def migrate(self) -> None:
        from app import dbtools

        dbtools.upgrade(self.database_url, "head")

    def start_services(self, env: dict[str, str]) -> None:
        """The bridge (and its embedded broker), the API, and on production the worker and beat."""
        from lockers.bridge import Bridge

        self.bridge = Bridge().start()
        if not self.bridge.wait_connected(timeout=30):
            raise RuntimeError(f"the locker bridge could not reach {self.mqtt_url}")
        self._serve_api()
        if self.production:
            self._start_celery(env)

    def _serve_api(self) -> None:
        import uvicorn

        from app.main import create_app

        config = uvicorn.Config(
            create_app(),
            host=self.config.host,
            port=int(self.config.port or 0),
            log_level="warning",
            proxy_headers=False,  # TRUSTED_PROXIES decides (app.core.forwarded)
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self._server.run, daemon=True, name="api")
        self._server_thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._server_thread.is_alive():
                raise RuntimeError(f"the API did not start on {self.base_url}")
            time.sleep(0.05)

    def _start_celery(self, env: dict[str, str]) -> None:
        guard = [sys.executable, "-m", "simulation.die_with_parent", str(os.getpid())]
        celery = [*guard, sys.executable, "-m", "celery", "-A", "app.worker"]
        child_env = {**os.environ, **env}
        logs = self.workdir
        worker = [
            *celery,
            "worker",
            "-Q",
            "default,notifications,routing",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "-n",
            f"day{os.getpid()}@%h",
        ]
        beat = [*celery, "beat", "-s", str(logs / "beat-schedule"), "--loglevel", "INFO"]
        for name, argv in (("worker", worker), ("beat", beat)):
            out = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the child
            self.children.append(
                subprocess.Popen(argv, env=child_env, stdout=out, stderr=subprocess.STDOUT)
            )

    def stop(self) -> None:
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
        if self.bridge is not None:
            self.bridge.stop()
        from app.core.db import get_engine

        get_engine().dispose()
        if self._drop_database and not self.config.keep_database:
            self._drop_postgres(self._drop_database)
        if self.config.workdir is None and not self.config.keep_database:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _drop_postgres(self, name: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin = create_engine(
            make_url(self.database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    # --- moving the day along ---------------------------------------------------------------

    def tick(self, now: datetime) -> Any:
        """The clockwork at `now`: here on embedded (the cut-off inline), else queued."""
        from app.clockwork import day

        if self.production:
            return day.tick(now, launcher=day.QueuedCutoffs())
        return day.tick(now, launcher=InlineCutoffs())

    def run_passes(self) -> int:
        """The fast passes once; how much work they found (production: just sent to workers)."""
        import lockers.tasks
        import notifications.tasks
        from app.worker import celery_app

        _ = (lockers.tasks, notifications.tasks)  # registers the tasks
        found = 0
        for name in SETTLE_PASSES:
            task = celery_app.tasks[name]
            if self.production:
                task.delay()
            else:
                found += int(task.apply().get() or 0)
        return found

    def pending(self, now: datetime) -> dict[str, int]:
        """What is still moving: events, SMS, locker commands, cut-offs."""
        from app.core.db import get_sessionmaker
        from lockers.models import CommandStatus, LockerBankState, LockerCommand
        from logistics.models import PipelineRun, RunStatus
        from notifications import dispatch
        from notifications.models import Message, MessageStatus

        with get_sessionmaker()() as db:
            sms = db.scalar(
                select(func.count(Message.id)).where(
                    Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING)),
                    (Message.not_before.is_(None)) | (Message.not_before <= now),
                )
            )
            commands = db.scalar(
                select(func.count(LockerCommand.id))
                .join(LockerBankState, LockerBankState.bank_id == LockerCommand.bank_id)
                .where(
                    LockerCommand.status.in_((CommandStatus.QUEUED, CommandStatus.SENT)),
                    LockerBankState.online.is_(True),
                )
            )
            runs = db.scalar(
                select(func.count(PipelineRun.id)).where(
                    PipelineRun.status.in_((RunStatus.PENDING, RunStatus.RUNNING))
                )
            )
            events = dispatch.pending_count(db_session=db)
            db.rollback()
        backlog = int(self.bridge.backlog()) if self.bridge is not None else 0
        return {
            "events": int(events or 0),
            "sms": int(sms or 0),
            "commands": int(commands or 0),
            "cutoffs": int(runs or 0),
            "bridge": backlog,
        }

    def settle(self, now: datetime, timeout: float = 60.0) -> dict[str, int]:
        """Run the passes until nothing is moving (or `timeout` wall seconds pass)."""
        deadline = time.monotonic() + timeout
        pause = 0.01
        while True:
            found = self.run_passes()
            left = self.pending(now)
            if not found and not any(left.values()):
                return left
            if time.monotonic() > deadline:
                log.warning("still moving after %.0fs: %s", timeout, left)
                return left
            if self.bridge is not None:
                self.bridge.wake()
            time.sleep(pause)
            pause = min(pause * 1.5, 0.2)


class InlineCutoffs:
    """Runs a due cut-off right here, so the paused clock waits for it."""

    def __init__(self) -> None:
        self.reports: list[Any] = []

    def launch(self, window_id: int) -> bool:
        from app.core.db import get_sessionmaker
        from logistics.pipeline import run_cutoff

        self.reports.append(run_cutoff(session_factory=get_sessionmaker(), window_id=window_id))
        return True


def _own_redis_database(url: str) -> str:
    """The same Redis server, another of its numbered databases, so no other worker on the
    machine (tests, another day) takes this day's tasks."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    number = 2 + os.getpid() % 14
    return urlunsplit(parts._replace(path=f"/{number}"))


def _psycopg(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _forget_cached_settings() -> None:
    from app.core.db import get_engine, get_sessionmaker
    from app.core.settings import get_settings
    from lockers.config import get_locker_settings
    from logistics.settings import get_logistics_settings
    from notifications.config import get_config

    for cached in (
        get_settings,
        get_locker_settings,
        get_logistics_settings,
        get_config,
        get_engine,
        get_sessionmaker,
    ):
        cached.cache_clear()
