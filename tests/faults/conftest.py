"""Fault scenarios: servers of our own restarted or processes killed under load; each test
reports lost (target 0) and duplicated (target 0). They run in CI on both stacks (they start
their own PostgreSQL, Redis, Mosquitto, whatever DATABASE_URL says) and are skipped only where
the server binary is genuinely absent."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: a fault scenario (own servers restarted, processes killed)"
    )
    # tests/notifications' marker, on the worker helpers imported from there
    config.addinivalue_line("markers", "slow: runs a real Celery worker (seconds, not ms)")
