"""PostgreSQL restarted mid-order-burst: 503 + Retry-After (never 500), nothing lost, doubled or
half-written, and the API recovers by itself (scenario in tests/faults/db_restart.py)."""

import pytest
from fastapi.testclient import TestClient

from app.core.security import Principal, create_access_token
from app.main import create_app
from lockers.broker import free_port
from tests.faults import db_restart
from tests.faults.servers import environment, postgres_bin_dir

pytestmark = pytest.mark.faults


@pytest.mark.skipif(postgres_bin_dir() is None, reason="no PostgreSQL server binaries")
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


def test_an_unreachable_database_answers_503_with_retry_after() -> None:
    """Nothing listens where the database should be: every request that needs it gets 503 and
    Retry-After (it was a 500), and the body says what happened."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/pickup"
    token = create_access_token(Principal(subject_id=1, role="resident"))
    with (
        environment({"DATABASE_URL": url}, db_restart.clear_caches),
        TestClient(create_app(), raise_server_exceptions=False) as client,
    ):
        answer = client.get("/orders", headers={"Authorization": f"Bearer {token}"})
        health = client.get("/healthz")

    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["detail"][0]["type"] == "service_unavailable"
    assert health.status_code == 200  # what needs no database still answers
