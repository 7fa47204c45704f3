"""One schedule for both stacks: Celery beat reads the clockwork's, tick included."""

from datetime import timedelta

import pytest

from app.clockwork.schedule import TICK_TASK, Timebase, beat_schedule, schedule
from app.worker import celery_app


def test_beat_schedule_is_the_clockworks_and_contains_the_tick() -> None:
    beat = celery_app.conf.beat_schedule
    expected = beat_schedule()  # intervals depend on the settings read at import
    assert {k: v["task"] for k, v in beat.items()} == {k: v["task"] for k, v in expected.items()}
    assert beat["clockwork-tick"]["task"] == TICK_TASK
    assert beat["clockwork-tick"]["options"] == {"queue": "default"}
    assert {entry["task"] for entry in beat.values()} == {p.task for p in schedule()}
    for entry in beat.values():
        assert entry["task"] in celery_app.tasks, f"{entry['task']} is not a registered task"


def test_fast_passes_run_on_wall_time_and_the_tick_on_the_days_clock() -> None:
    timebases = {p.name: p.timebase for p in schedule()}
    assert timebases.pop("tick") == Timebase.DAY
    assert set(timebases) == {"dispatch", "reservations", "sweep", "reconcile", "nudges"}
    assert set(timebases.values()) == {Timebase.WALL}


def test_tick_interval_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core.settings import get_settings

    monkeypatch.setenv("CLOCKWORK_TICK_SECONDS", "2.5")
    get_settings.cache_clear()
    try:
        tick = next(p for p in schedule() if p.name == "tick")
        assert tick.every == timedelta(seconds=2.5)
        assert beat_schedule()["clockwork-tick"]["schedule"] == 2.5
    finally:
        get_settings.cache_clear()


def test_notifications_no_longer_owns_a_schedule() -> None:
    from notifications import tasks

    assert not hasattr(tasks, "PERIODIC")
    assert not any(name.startswith("notifications-") for name in celery_app.conf.beat_schedule)


def test_tick_task_runs_in_process(app_database) -> None:  # type: ignore[no-untyped-def]
    result = celery_app.tasks[TICK_TASK].apply().get()
    assert result["errors"] == {}
    assert result["cutoffs_launched"] == []
