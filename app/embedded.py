"""One process for the whole system on the embedded defaults.

With `MQTT_URL=embedded://` the API process also runs the in-process MQTT broker and the locker
bridge; with `CELERY_BROKER_URL=memory://` it also runs the clockwork (`app.clockwork`): the
day's schedule (windows ahead, cut-offs at their time, expiry, reminders, cold chain) and the
fast passes (outbox to SMS, retries, reconciliation, nudges) that Celery beat runs in
production. With real services configured, nothing extra starts here: run the bridge, the
workers and beat as their own processes (see docker-compose.yml).
"""

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.core.settings import get_settings
from app.main import create_app

log = logging.getLogger(__name__)


SERVICES_ELSEWHERE_ENV = "PICKUP_EMBEDDED_SERVICES_ELSEWHERE"
"""Set by `pickup serve --workers N` for its workers: the services run in the supervisor."""


def start_embedded_services() -> list[Callable[[], None]]:
    """Start, on the embedded defaults, the broker with the bridge and the clockwork; their
    stop functions, in start order. With real services configured, nothing starts."""
    settings = get_settings()
    stoppers: list[Callable[[], None]] = []
    if settings.mqtt_url.startswith("embedded://"):
        from lockers.bridge import Bridge

        bridge = Bridge().start()
        stoppers.append(bridge.stop)
        log.info("embedded MQTT broker and locker bridge started")
    if settings.celery_broker_url.startswith("memory://"):
        from app.clockwork.runner import ClockworkRunner, jobs

        runner = ClockworkRunner(jobs()).start()
        stoppers.append(runner.stop)
        log.info("the clockwork runs in-process (tasks run eagerly)")
    return stoppers


def create_app_with_embedded_services() -> FastAPI:
    """The API plus, on the embedded defaults, the broker, the bridge and the clockwork
    (unless they run in the supervisor of several workers)."""
    app = create_app()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        elsewhere = os.environ.get(SERVICES_ELSEWHERE_ENV) == "1"
        stoppers = [] if elsewhere else start_embedded_services()
        try:
            yield
        finally:
            for stop in reversed(stoppers):
                stop()

    app.router.lifespan_context = lifespan
    return app
