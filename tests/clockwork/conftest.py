"""Fixtures for the clockwork: a simulated clock installed process-wide, and the logistics
tests' small city built with real commits (the tick and the cut-off open their own sessions)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.core.clock import SimulatedClock, use_clock
from tests.logistics.conftest import (  # noqa: F401  (fixtures)
    World,
    app_database,
    committed_world,
)
from tests.notifications.test_notifications_worker_kill import redis_url  # noqa: F401


@pytest.fixture
def sim_clock() -> Iterator[SimulatedClock]:
    """A paused simulated clock two hours behind the wall clock, read by `utcnow()`."""
    clock = SimulatedClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2), 0.0)
    with use_clock(clock):
        yield clock
