"""On the embedded defaults the API process also runs the broker, bridge and the clockwork."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.clockwork.runner import ClockworkRunner, Job
from app.clockwork.schedule import Timebase
from app.core.clock import SimulatedClock, use_clock
from app.embedded import create_app_with_embedded_services


def test_clockwork_runner_runs_each_job_and_survives_a_failing_one() -> None:
    ran = threading.Event()

    def boom() -> object:
        raise RuntimeError("a pass failed")

    runner = ClockworkRunner(
        [
            Job("boom", timedelta(seconds=1), Timebase.WALL, boom),
            Job("ok", timedelta(seconds=1), Timebase.WALL, lambda: ran.set() or 1),
        ],
        poll_seconds=0.05,
    ).start()
    try:
        assert ran.wait(5), "the second pass never ran after the first one failed"
    finally:
        runner.stop()


def test_day_jobs_follow_the_simulated_clock_and_wall_jobs_the_wall() -> None:
    day_runs: list[datetime] = []
    wall_runs: list[float] = []
    clock = SimulatedClock(datetime(2026, 3, 2, 6, 0, tzinfo=UTC), speed=0.0)
    every_ten_minutes = Job(
        "day", timedelta(minutes=10), Timebase.DAY, lambda: day_runs.append(clock.now())
    )
    often = Job("wall", timedelta(seconds=0.1), Timebase.WALL, lambda: wall_runs.append(1.0))
    with use_clock(clock):
        runner = ClockworkRunner(
            [every_ten_minutes, often],
            poll_seconds=0.02,
        ).start()
        try:
            time.sleep(0.5)
            assert len(day_runs) == 1  # paused clock: ten minutes never pass
            assert len(wall_runs) >= 3  # wall jobs keep going while the day is paused
            clock.advance(timedelta(minutes=10))
            deadline = time.monotonic() + 5
            while len(day_runs) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(day_runs) == 2
        finally:
            runner.stop()


@pytest.fixture
def embedded_database(monkeypatch, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from app import dbtools
    from app.core import db as core_db
    from app.core.settings import get_settings
    from lockers.broker import free_port

    url = f"sqlite:///{tmp_path}/embedded.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MQTT_URL", f"embedded://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    monkeypatch.setenv("CLOCKWORK_TICK_SECONDS", "5")
    caches = (get_settings, core_db.get_engine, core_db.get_sessionmaker)
    for cached in caches:
        cached.cache_clear()
    try:
        dbtools.upgrade(url)
        yield url
    finally:
        core_db.get_engine().dispose()
        for cached in caches:
            cached.cache_clear()


def test_embedded_app_starts_and_stops_its_services(embedded_database: str) -> None:
    before = {t.name for t in threading.enumerate()}
    with TestClient(create_app_with_embedded_services()) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        started = {t.name for t in threading.enumerate()} - before
        assert {"clockwork-day", "clockwork-wall"} <= started
        assert any(name.startswith("locker-bridge") for name in started)
    time.sleep(0.5)
    assert not {"clockwork-day", "clockwork-wall"} & {t.name for t in threading.enumerate()}


def test_embedded_app_runs_the_cutoff_by_itself_when_its_time_comes(
    embedded_database: str,
) -> None:
    """Before the clockwork nothing ran a window's cut-off: an operator had to."""
    from app.core.db import get_sessionmaker
    from logistics.models import PipelineRun, RunStatus
    from tests.clockwork.test_tick import _city_with_orders
    from tests.factories import Factory
    from tests.logistics.conftest import World

    sessions = get_sessionmaker()
    with sessions() as session:
        world = World(Factory(session))
        _city_with_orders(world)
        session.commit()
        window_id, cutoff_at = world.window.id, world.window.cutoff_at

    def run_status() -> RunStatus | None:
        with sessions() as check:
            run = check.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
            return None if run is None else run.status

    clock = SimulatedClock(cutoff_at - timedelta(minutes=30), speed=0.0)
    with use_clock(clock), TestClient(create_app_with_embedded_services()):
        time.sleep(1.0)
        assert run_status() is None, "the cut-off ran before its time"
        clock.advance_to(cutoff_at + timedelta(seconds=1))
        deadline = time.monotonic() + 90
        while run_status() != RunStatus.SUCCEEDED and time.monotonic() < deadline:
            time.sleep(0.25)
        assert run_status() == RunStatus.SUCCEEDED


def test_a_fast_day_ticks_no_more_often_than_the_wall_floor() -> None:
    runs: list[float] = []
    clock = SimulatedClock(datetime(2026, 3, 2, 6, 0, tzinfo=UTC), speed=10_000.0)
    every_minute = Job("day", timedelta(minutes=1), Timebase.DAY, lambda: runs.append(1.0))
    with use_clock(clock):
        runner = ClockworkRunner([every_minute], poll_seconds=0.01, day_floor_seconds=0.5)
        runner.start()
        time.sleep(1.2)
        runner.stop()
    # a simulated minute passes every 6 ms; the floor keeps it to one run per half second
    assert 2 <= len(runs) <= 4
