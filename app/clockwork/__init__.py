"""The clockwork of a day: one schedule of the periodic work, owned at the top beside the
composition modules, read by Celery beat and by the embedded runner; and the due-driven tick."""

from app.clockwork.day import (
    CutoffLauncher,
    QueuedCutoffs,
    ThreadedCutoffs,
    TickReport,
    due_cutoffs,
    tick,
)
from app.clockwork.schedule import Pass, Timebase, beat_schedule, schedule

__all__ = [
    "CutoffLauncher",
    "Pass",
    "QueuedCutoffs",
    "ThreadedCutoffs",
    "TickReport",
    "Timebase",
    "beat_schedule",
    "due_cutoffs",
    "schedule",
    "tick",
]
