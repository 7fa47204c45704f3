"""The one schedule of the day's periodic work, for both stacks.

- `tick` carries everything that means "a time of the day": windows generated ahead, each
  window's cut-off at its time, expiry at the pickup deadline, reminders, cold-chain checks, the
  operators' alarms (`ops_dashboard.alarm_rules`). It
  is due-driven (it asks the database what is due at `now`), so it may run any number of times.
  In-process its interval is measured on the (possibly simulated) clock.
- The fast passes move events along (outbox to SMS, reservations to lockers, retries); they run
  on wall time, so a day played at 60x still sends its SMS promptly.

Celery beat reads `beat_schedule()`; the embedded runner (`app.clockwork.runner`) reads
`SCHEDULE`.
"""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from app.core.settings import get_settings

TICK_TASK = "clockwork.tick"


class Timebase(StrEnum):
    WALL = "wall"  # real seconds, whatever the clock's speed
    DAY = "day"  # seconds of the clock that `utcnow()` reads (simulated in a played day)


@dataclass(frozen=True)
class Pass:
    """One periodic task: its Celery task name, how often and on which clock."""

    name: str
    task: str
    every: timedelta
    timebase: Timebase
    queue: str | None = None


FAST_PASSES = (
    Pass("dispatch", "notifications.dispatch_events", timedelta(seconds=5), Timebase.WALL),
    Pass("reservations", "lockers.consume_reservations", timedelta(seconds=5), Timebase.WALL),
    Pass("sweep", "notifications.sweep", timedelta(seconds=30), Timebase.WALL),
    Pass("reconcile", "notifications.reconcile", timedelta(minutes=5), Timebase.WALL),
    Pass("nudges", "notifications.nudges", timedelta(minutes=5), Timebase.WALL),
)


def tick_pass() -> Pass:
    """The clockwork tick, every `CLOCKWORK_TICK_SECONDS`."""
    every = timedelta(seconds=get_settings().clockwork_tick_seconds)
    return Pass("tick", TICK_TASK, every, Timebase.DAY, queue="default")


def schedule() -> tuple[Pass, ...]:
    """Every periodic pass, the tick first."""
    return (tick_pass(), *FAST_PASSES)


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The schedule as Celery beat's `beat_schedule` (beat counts wall seconds; the tick itself
    reads the simulated clock when the beat and workers follow one)."""
    entries: dict[str, dict[str, Any]] = {}
    for item in schedule():
        entry: dict[str, Any] = {"task": item.task, "schedule": item.every.total_seconds()}
        if item.queue:
            entry["options"] = {"queue": item.queue}
        entries[f"clockwork-{item.name}"] = entry
    return entries
