"""PostgreSQL restarted mid-order-burst: 503 + Retry-After (never 500), nothing lost, doubled or
half-written, and the API recovers by itself (scenario in tests/faults/db_restart.py)."""

import pytest

from tests.faults import db_restart
from tests.faults.servers import postgres_bin_dir

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(postgres_bin_dir() is None, reason="no PostgreSQL server binaries"),
]


@pytest.mark.parametrize("mode", ["fast", "immediate"], ids=["restart", "crash"])
def test_orders_survive_a_database_restart_mid_burst(mode: str) -> None:
    result = db_restart.run(orders=60, workers=6, restart_after=20, mode=mode)
    print(result.row())

    assert result.unexpected == [], result.row()
    assert result.answers["503 + Retry-After"] > 0, "the restart did not hit the burst"
    assert set(result.answers) == {"201", "503 + Retry-After"}
    assert result.created == 60
    assert (result.lost, result.duplicated, result.half_written) == (0, 0, 0)
    assert result.recovered_after_s is not None and result.recovered_after_s < 10
