"""The one Celery app every package's tasks register on.

Embedded default (`CELERY_BROKER_URL=memory://`): tasks run in-process, eagerly. With Redis or
RabbitMQ, run workers per queue from the composition, `celery -A app.worker worker -Q
notifications` and `-Q routing`, so a long routing plan never delays an SMS.

A worker or beat started with `PICKUP_CLOCK_FILE` reads "now" from the simulated clock that
the played day writes there. The beat schedule is the clockwork's (`app.clockwork`), installed
when the task modules load.
"""

import os

from celery import Celery
from kombu.entity import Queue

from app.core.clock import CLOCK_FILE_ENV, clock_from_env, set_clock
from app.core.settings import get_settings


def make_celery() -> Celery:
    """A Celery app configured from settings."""
    settings = get_settings()
    if os.environ.get(CLOCK_FILE_ENV):
        set_clock(clock_from_env())
    eager = settings.celery_broker_url.startswith("memory://")
    celery = Celery("pickup", broker=settings.celery_broker_url)
    celery.conf.update(
        result_backend=settings.celery_result_backend,
        task_always_eager=eager,
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="default",
        task_queues=[Queue("default"), Queue("notifications"), Queue("routing")],
        task_routes={
            "notifications.*": {"queue": "notifications"},
            "logistics.*": {"queue": "routing"},
        },
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        enable_utc=True,
    )
    return celery


celery_app = make_celery()
