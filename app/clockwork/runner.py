"""The schedule run in-process (embedded defaults): one thread for the passes of the day's
clock (the tick), one for the wall-time passes, so a long tick never delays an SMS."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.clockwork import day
from app.clockwork.schedule import TICK_TASK, Pass, Timebase, schedule
from app.core.db import utcnow

log = logging.getLogger(__name__)
POLL_SECONDS = 0.25
DAY_FLOOR_SECONDS = 1.0  # a fast day's tick still waits this much wall time between runs


@dataclass(frozen=True)
class Job:
    """A pass bound to the call that runs it here."""

    name: str
    every: timedelta
    timebase: Timebase
    run: Callable[[], object]


def task_call(task_name: str) -> Callable[[], object]:
    """Run a registered Celery task in this process (eagerly) and return its result."""
    from app.worker import celery_app

    task = celery_app.tasks[task_name]
    return lambda: task.apply().get()


def jobs(
    passes: tuple[Pass, ...] | None = None, launcher: day.CutoffLauncher | None = None
) -> list[Job]:
    """The schedule's passes as in-process jobs; the tick launches cut-offs with `launcher`."""
    cutoffs = launcher or day.ThreadedCutoffs()
    bound = []
    for item in passes or schedule():
        if item.task == TICK_TASK:
            run: Callable[[], object] = lambda: day.tick(launcher=cutoffs)  # noqa: E731
        else:
            run = task_call(item.task)
        bound.append(Job(item.name, item.every, item.timebase, run))
    return bound


class ClockworkRunner:
    """Runs each job when its interval has passed on its clock, until stopped. A failing job
    is logged and tried again at its next turn."""

    def __init__(
        self,
        jobs: list[Job],
        poll_seconds: float = POLL_SECONDS,
        day_floor_seconds: float = DAY_FLOOR_SECONDS,
    ) -> None:
        self.jobs = jobs
        self.poll_seconds = poll_seconds
        self.day_floor = timedelta(seconds=day_floor_seconds)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._run,
                args=([j for j in jobs if j.timebase == timebase], timebase),
                name=f"clockwork-{timebase.value}",
                daemon=True,
            )
            for timebase in Timebase
            if any(j.timebase == timebase for j in jobs)
        ]

    def start(self) -> ClockworkRunner:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self, jobs: list[Job], timebase: Timebase) -> None:
        last: dict[str, datetime] = {}
        last_wall: dict[str, datetime] = {}
        while not self._stop.is_set():
            for job in jobs:
                now = utcnow() if timebase == Timebase.DAY else _wall()
                previous = last.get(job.name)
                if previous is not None and now - previous < job.every:
                    continue
                ran_at = last_wall.get(job.name)
                floor = self.day_floor if timebase == Timebase.DAY else timedelta(0)
                if ran_at is not None and _wall() - ran_at < floor:
                    continue
                last[job.name], last_wall[job.name] = now, _wall()
                self._run_one(job)
                if self._stop.is_set():
                    return
            self._stop.wait(self.poll_seconds)

    @staticmethod
    def _run_one(job: Job) -> None:
        try:
            result = job.run()
        except Exception:
            log.exception("clockwork pass %s failed", job.name)
            return
        if result:
            log.info("clockwork pass %s: %s", job.name, result)


_EPOCH = datetime(2000, 1, 1).astimezone()


def _wall() -> datetime:
    return _EPOCH + timedelta(seconds=time.monotonic())
