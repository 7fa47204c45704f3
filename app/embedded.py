"""One process for the whole system on the embedded defaults.

With `MQTT_URL=embedded://` the API process also runs the in-process MQTT broker and the locker
bridge; with `CELERY_BROKER_URL=memory://` it also runs the periodic task passes (outbox to SMS,
retries, reconciliation, reminders, nudges) that Celery beat runs in production. With real
services configured, nothing extra starts here: run the bridge and the workers as their own
processes (see docker-compose.yml).
"""

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI

from app.core.db import utcnow
from app.core.settings import get_settings
from app.main import create_app

log = logging.getLogger(__name__)


class PeriodicPasses:
    """Runs each (task, interval) in a background thread until stopped."""

    def __init__(self, passes: dict[str, tuple[Callable[[], object], timedelta]]) -> None:
        self.passes = passes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="periodic-passes", daemon=True)

    def start(self) -> "PeriodicPasses":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        last: dict[str, datetime] = {}
        while not self._stop.wait(1.0):
            now = utcnow()
            for name, (run, every) in self.passes.items():
                if now - last.get(name, now - every) < every:
                    continue
                last[name] = now
                try:
                    result = run()
                except Exception:
                    log.exception("periodic pass %s failed", name)
                    continue
                if result:
                    log.info("periodic pass %s: %s", name, result)


def _notification_passes() -> dict[str, tuple[Callable[[], object], timedelta]]:
    from notifications import tasks

    def runner(task: Any) -> Callable[[], object]:
        return lambda: task.apply().get()

    return {name: (runner(task), every) for name, (task, every) in tasks.PERIODIC.items()}


def create_app_with_embedded_services() -> FastAPI:
    """The API plus, on the embedded defaults, the broker, the bridge and the periodic passes."""
    app = create_app()
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stoppers: list[Callable[[], None]] = []
        if settings.mqtt_url.startswith("embedded://"):
            from lockers.bridge import Bridge

            bridge = Bridge().start()
            stoppers.append(bridge.stop)
            log.info("embedded MQTT broker and locker bridge started")
        if settings.celery_broker_url.startswith("memory://"):
            passes = PeriodicPasses(_notification_passes()).start()
            stoppers.append(passes.stop)
            log.info("periodic passes running in-process (tasks run eagerly)")
        try:
            yield
        finally:
            for stop in reversed(stoppers):
                stop()

    app.router.lifespan_context = lifespan
    return app
