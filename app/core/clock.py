"""The one source of "now": the wall clock in production, a simulated clock for a played day.

`app.core.db.utcnow()` reads `get_clock().now()`; everything else reads `utcnow()`.

A `SimulatedClock` runs `speed` times faster than the wall clock from an anchor; it can jump
forward, pause and resume, never go back. Given a `state_path` it writes its anchor to that
file on every change (atomically), and other processes (the Celery worker and beat) follow it
with a `FollowerClock`; `clock_from_env()` gives one when `PICKUP_CLOCK_FILE` is set.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

CLOCK_FILE_ENV = "PICKUP_CLOCK_FILE"
FOLLOW_CHECK_SECONDS = 0.02


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class WallClock:
    """The real time (production)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class ClockState:
    """Simulated time `anchor_sim` was read at wall time `anchor_wall` (epoch seconds)."""

    anchor_sim: datetime
    anchor_wall: float
    speed: float

    def at(self, wall: float) -> datetime:
        return self.anchor_sim + timedelta(seconds=(wall - self.anchor_wall) * self.speed)

    def to_json(self) -> str:
        return json.dumps(
            {
                "anchor_sim": self.anchor_sim.isoformat(),
                "anchor_wall": self.anchor_wall,
                "speed": self.speed,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ClockState:
        data = json.loads(text)
        anchor = datetime.fromisoformat(data["anchor_sim"])
        return cls(_aware(anchor), float(data["anchor_wall"]), float(data["speed"]))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given; the clock takes timezone-aware UTC times")
    return value.astimezone(UTC)


def _check_speed(speed: float) -> float:
    if speed < 0:
        raise ValueError("speed must be 0 (paused) or more")
    return float(speed)


class SimulatedClock:
    """now = start + (wall time elapsed since the anchor) x speed. Thread-safe."""

    def __init__(self, start: datetime, speed: float = 1.0, state_path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._state = ClockState(_aware(start), time.time(), _check_speed(speed))
        self._resume_speed = self._state.speed or 1.0
        self._last = self._state.anchor_sim
        self.state_path = state_path
        self._write()

    @property
    def speed(self) -> float:
        return self._state.speed

    def now(self) -> datetime:
        with self._lock:
            # never backwards, also when the wall clock is stepped back (NTP) or a reader
            # raced a speed change
            self._last = self._current(time.time())
            return self._last

    def advance(self, delta: timedelta) -> datetime:
        """Jump forward by `delta` (not negative); the new now."""
        if delta < timedelta(0):
            raise ValueError("the clock never goes back; delta must not be negative")
        with self._lock:
            wall = time.time()
            self._set(ClockState(self._current(wall) + delta, wall, self._state.speed))
            return self._state.anchor_sim

    def advance_to(self, target: datetime) -> datetime:
        """Jump forward to `target`; a target in the past leaves the clock where it is."""
        target = _aware(target)
        with self._lock:
            wall = time.time()
            current = self._current(wall)
            self._set(ClockState(max(current, target), wall, self._state.speed))
            return self._state.anchor_sim

    def set_speed(self, speed: float) -> None:
        """Run `speed` times faster than the wall clock from now on (0 pauses)."""
        speed = _check_speed(speed)
        with self._lock:
            wall = time.time()
            if speed:
                self._resume_speed = speed
            self._set(ClockState(self._current(wall), wall, speed))

    def pause(self) -> None:
        self.set_speed(0.0)

    def resume(self) -> None:
        self.set_speed(self._resume_speed)

    def _current(self, wall: float) -> datetime:
        return max(self._last, self._state.at(wall))

    def _set(self, state: ClockState) -> None:
        self._state = state
        self._last = max(self._last, state.anchor_sim)
        self._write()

    def _write(self) -> None:
        if self.state_path is not None:
            write_state(self.state_path, self._state)


def write_state(path: Path, state: ClockState) -> None:
    """Replace the clock file atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(state.to_json())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FollowerClock:
    """A simulated clock driven by another process through its state file.

    Re-reads the file when its mtime changes, checking at most every FOLLOW_CHECK_SECONDS.
    Until the file exists it reads the wall clock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._state: ClockState | None = None
        self._mtime_ns: int | None = None
        self._checked = 0.0
        self._last = datetime.min.replace(tzinfo=UTC)
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def now(self) -> datetime:
        wall = time.time()
        if wall - self._checked >= FOLLOW_CHECK_SECONDS:
            self._refresh(wall)
        state = self._state
        value = datetime.now(UTC) if state is None else state.at(wall)
        if value < self._last:
            return self._last  # a reader raced a jump of the leader
        self._last = value
        return value

    def _refresh(self, wall: float) -> None:
        with self._lock:
            self._checked = wall
            try:
                mtime = self.path.stat().st_mtime_ns
                if mtime == self._mtime_ns:
                    return
                state = ClockState.from_json(self.path.read_text())
            except (OSError, ValueError, KeyError):
                return  # absent or mid-replace: keep the last state read
            if self._state is None:
                self._last = state.anchor_sim  # from the wall clock to the leader's time
            self._state, self._mtime_ns = state, mtime


def clock_from_env() -> Clock:
    """A FollowerClock of `PICKUP_CLOCK_FILE` when set, else the wall clock."""
    path = os.environ.get(CLOCK_FILE_ENV)
    return FollowerClock(Path(path)) if path else WallClock()


_clock: Clock | None = None


def get_clock() -> Clock:
    """The process's clock (from the environment on first use)."""
    global _clock
    if _clock is None:
        _clock = clock_from_env()
    return _clock


def set_clock(clock: Clock) -> None:
    """Make `clock` the process's clock."""
    global _clock
    _clock = clock


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Use `clock` inside the block, then restore the previous one (tests)."""
    previous = get_clock()
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)
