"""The production stack: a real Celery beat and worker over Redis, following the simulated
clock through PICKUP_CLOCK_FILE, run a window's cut-off by themselves when the clock passes it
(beat -> clockwork.tick -> logistics.run_cutoff on the routing queue)."""

import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.clock import SimulatedClock
from logistics.models import PipelineRun, RunStatus
from tests.clockwork.test_tick import _city_with_orders
from tests.notifications.test_notifications_worker_kill import (
    CELERY,
    REPO,
    _die_with_parent,
    _stop,
)

pytestmark = pytest.mark.slow


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(CELERY), "-A", "app.worker", *args, "-l", "info"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def _notable(log: Path) -> str:
    """The lines of a worker log that tell what happened to the cut-off."""
    lines = log.read_text().splitlines()
    keep = ("run_cutoff", "ERROR", "Traceback", "Error")
    return "\n".join(line for line in lines if any(k in line for k in keep))[-6000:]


def _status(committed: sessionmaker[Session], window_id: int) -> RunStatus | None:
    with committed() as check:
        run = check.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
        return None if run is None else run.status


def test_beat_and_worker_follow_the_simulated_clock_and_run_the_cutoff(  # type: ignore[no-untyped-def]
    committed_world, committed, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    world, session = committed_world()
    _city_with_orders(world)
    session.commit()
    window_id, cutoff_at = world.window.id, world.window.cutoff_at
    clock_file = tmp_path / "clock.json"
    clock = SimulatedClock(cutoff_at - timedelta(minutes=30), speed=0.0, state_path=clock_file)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "PICKUP_CLOCK_FILE": str(clock_file),
        "CLOCKWORK_TICK_SECONDS": "1",
        "LOGISTICS_SOLVER_TIME_LIMIT_S": "1",
        "LOGISTICS_SOLVER_WORKERS": "1",
        "LOGISTICS_PACKING_MINUTES": "0",
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = _start(
        ["worker", "-Q", "routing,default", "-P", "solo", "--without-mingle", "--without-gossip"],
        env,
        worker_log,
    )
    beat = _start(["beat", "-s", str(tmp_path / "beat-schedule")], env, beat_log)
    try:
        deadline = time.monotonic() + 60
        while "clockwork.tick" not in worker_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "clockwork.tick" in worker_log.read_text(), beat_log.read_text()[-2000:]
        time.sleep(2.0)  # a few more ticks, all before the cut-off
        assert _status(committed, window_id) is None, "the cut-off ran before its time"

        clock.advance_to(cutoff_at + timedelta(seconds=1))
        deadline = time.monotonic() + 120
        while _status(committed, window_id) != RunStatus.SUCCEEDED:
            if time.monotonic() > deadline:
                pytest.fail(f"no cut-off; worker log:\n{_notable(worker_log)}")
            time.sleep(0.5)
    finally:
        _stop(beat)
        _stop(worker)
    with committed() as check:
        run = check.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
        assert run is not None and run.attempts == 1
