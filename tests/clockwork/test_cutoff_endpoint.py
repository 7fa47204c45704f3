"""An operator can still run the cut-off early, and on SQLite that answers the report (the
request's session once held the write lock the pipeline's sessions waited on: a 500 after
30 s, "database is locked")."""

from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.db import get_db
from app.main import create_app
from tests.clockwork.test_tick import _city_with_orders
from tests.conftest import token_for


def test_operator_runs_the_cutoff_through_the_api_on_the_real_engine(  # type: ignore[no-untyped-def]
    committed_world, committed, app_database
) -> None:
    world, session = committed_world()
    _city_with_orders(world)
    operator = world.operator()
    session.commit()
    application = create_app()

    def real_session() -> Iterator[Session]:
        # a session on the engine, as in production: not the tests' shared connection
        with committed() as db_session:
            yield db_session

    application.dependency_overrides[get_db] = real_session
    with TestClient(application) as client:
        client.headers["Authorization"] = f"Bearer {token_for(operator)}"
        response = client.post(f"/windows/{world.window.id}/cutoff", params={"time_limit_s": 1})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["window_id"] == world.window.id
        assert body["status"] == "succeeded"
        steps = [step["name"] for step in body["steps"]]
        assert steps == ["close", "pack", "reserve", "route", "publish"]
        again = client.get(f"/windows/{world.window.id}/cutoff")
        assert again.status_code == 200 and again.json()["status"] == "succeeded"
