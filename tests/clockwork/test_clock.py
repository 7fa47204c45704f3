"""One clock: wall in production, simulated (fast, jumping, paused) for a played day."""

import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core.clock import (
    FollowerClock,
    SimulatedClock,
    WallClock,
    clock_from_env,
    get_clock,
    use_clock,
)
from app.core.db import utcnow

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_simulated_clock_runs_at_its_speed() -> None:
    clock = SimulatedClock(START, speed=600.0)
    time.sleep(0.2)
    elapsed = clock.now() - START
    # 0.2 s of wall time at 600x is two minutes; allow for a slow machine, not for 1x
    assert timedelta(seconds=100) <= elapsed <= timedelta(seconds=600)


def test_advance_jumps_forward_and_advance_to_never_goes_back() -> None:
    clock = SimulatedClock(START, speed=0.0)
    assert clock.advance(timedelta(hours=2)) == START + timedelta(hours=2)
    assert clock.now() == START + timedelta(hours=2)
    clock.advance_to(START)  # in the past: ignored
    assert clock.now() == START + timedelta(hours=2)
    clock.advance_to(START + timedelta(hours=5))
    assert clock.now() == START + timedelta(hours=5)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))


def test_pause_stops_time_and_resume_restores_the_speed() -> None:
    clock = SimulatedClock(START, speed=1000.0)
    clock.pause()
    frozen = clock.now()
    time.sleep(0.05)
    assert clock.now() == frozen
    assert clock.speed == 0
    clock.resume()
    assert clock.speed == 1000.0
    time.sleep(0.05)
    assert clock.now() > frozen


def test_simulated_clock_is_monotonic_under_threads() -> None:
    clock = SimulatedClock(START, speed=100.0)
    seen: list[list[datetime]] = [[] for _ in range(4)]

    def read(out: list[datetime]) -> None:
        for _ in range(2000):
            out.append(clock.now())

    def jump() -> None:
        for _ in range(200):
            clock.advance(timedelta(seconds=1))
            clock.set_speed(50.0)
            clock.set_speed(100.0)

    threads = [threading.Thread(target=read, args=(s,)) for s in seen]
    threads.append(threading.Thread(target=jump))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for readings in seen:
        assert readings == sorted(readings)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        SimulatedClock(datetime(2026, 1, 1), speed=1.0)


def test_utcnow_follows_the_clock_in_use() -> None:
    clock = SimulatedClock(START, speed=0.0)
    with use_clock(clock):
        assert utcnow() == START
        clock.advance(timedelta(minutes=30))
        assert utcnow() == START + timedelta(minutes=30)
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_clock_from_env_follows_the_file_only_when_asked(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PICKUP_CLOCK_FILE", raising=False)
    assert isinstance(clock_from_env(), WallClock)
    monkeypatch.setenv("PICKUP_CLOCK_FILE", str(tmp_path / "clock.json"))
    follower = clock_from_env()
    assert isinstance(follower, FollowerClock)
    # no file yet: the wall clock
    assert abs(follower.now() - datetime.now(UTC)) < timedelta(seconds=5)
    SimulatedClock(START, speed=0.0, state_path=tmp_path / "clock.json")
    time.sleep(0.05)
    assert follower.now() == START


def test_follower_sees_jumps_written_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    leader = SimulatedClock(START, speed=0.0, state_path=path)
    follower = FollowerClock(path)
    assert follower.now() == START
    script = textwrap.dedent(
        f"""
        import sys, time
        from datetime import timedelta
        from pathlib import Path
        from app.core.clock import FollowerClock
        clock = FollowerClock(Path({str(path)!r}))
        print(clock.now().isoformat(), flush=True)
        sys.stdin.readline()  # wait for the jump
        time.sleep(0.1)
        print(clock.now().isoformat(), flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert datetime.fromisoformat(child.stdout.readline().strip()) == START
        leader.advance(timedelta(hours=3))
        child.stdin.write("go\n")
        child.stdin.flush()
        later = datetime.fromisoformat(child.stdout.readline().strip())
    finally:
        child.kill()
        child.wait()
    assert later == START + timedelta(hours=3)
    time.sleep(0.03)
    assert follower.now() == START + timedelta(hours=3)


def test_production_default_is_the_wall_clock() -> None:
    assert isinstance(get_clock(), WallClock | FollowerClock)
    assert abs(get_clock().now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_simulated_clock_never_goes_back_when_the_wall_clock_steps_back(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import app.core.clock as clock_module

    wall = [1_000_000.0]
    monkeypatch.setattr(clock_module.time, "time", lambda: wall[0])
    clock = SimulatedClock(START, speed=60.0)
    wall[0] += 10  # ten minutes of simulated time
    later = clock.now()
    assert later == START + timedelta(minutes=10)
    wall[0] -= 5  # NTP steps the wall clock back
    assert clock.now() == later
    clock.set_speed(1.0)
    assert clock.now() == later
