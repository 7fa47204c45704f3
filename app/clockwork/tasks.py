"""The clockwork's Celery task, and the beat schedule installed from `app.clockwork.schedule`
(this module is one of the Celery app's task modules, so worker and beat both load it).

It also loads the whole schema: a worker imports only the task modules, and a flow that touches
a table whose model no task module imported (e.g. a route's driver, a staff user) would fail
to resolve its foreign keys."""

from typing import Any

from app.clockwork import day
from app.clockwork.schedule import TICK_TASK, beat_schedule
from app.core.celery_app import celery_app
from app.schema import load_all_models

load_all_models()
celery_app.conf.beat_schedule = beat_schedule()


@celery_app.task(name=TICK_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def clockwork_tick() -> dict[str, Any]:
    """Do what the time of day calls for now (cut-offs go to the routing queue)."""
    report = day.tick()
    return {
        "now": report.now.isoformat(),
        "windows_created": report.windows_created,
        "cutoffs_launched": report.cutoffs_launched,
        "parcels_expired": report.parcels_expired,
        "reminders_queued": report.reminders_queued,
        "errors": report.errors,
    }
