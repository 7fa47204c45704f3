"""A request uses one connection for all its dependencies, requests beyond the pool wait for a
slot without holding a connection or a thread (no collapse), and a pool that stays exhausted
answers 503 with Retry-After."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.core.db import SessionDep
from app.core.errors import install_database_outage_handler
from app.core.settings import get_settings
from app.main import create_app

PoolSettings = Callable[[int, float], None]


@pytest.fixture
def pool_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[PoolSettings]:
    """Sets the pool's size and timeout through the environment. The cached settings are
    dropped after the environment changed, not before: a thread an earlier test left running
    may read the settings at any moment, and would otherwise cache the defaults again."""

    def configure(size: int, timeout_seconds: float) -> None:
        monkeypatch.setenv("DATABASE_POOL_SIZE", str(size))
        monkeypatch.setenv("DATABASE_POOL_TIMEOUT_SECONDS", str(timeout_seconds))
        get_settings.cache_clear()
        assert get_settings().database_pool_size == size

    yield configure
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_resident_request_checks_out_one_connection(request_sessions, signed_in) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app()) as client:
        for _ in range(5):
            answer = client.get("/orders", headers={"Authorization": f"Bearer {signed_in}"})
            assert answer.status_code == 200, answer.text
    assert request_sessions.most == 1, "the caller's lookup and the route share one connection"
    assert request_sessions.now == 0


def test_more_requests_than_connections_wait_their_turn(  # type: ignore[no-untyped-def]
    request_sessions, signed_in, pool_settings
) -> None:
    # Queued requests must not be refused while the others are served in turn: the wait bound
    # is far above the queue's length (60 at once, ~30 ahead of the last), which takes under
    # a second alone but a minute when threads left by earlier tests hold the GIL.
    pool_settings(2, 300)
    headers = {"Authorization": f"Bearer {signed_in}"}
    with TestClient(create_app()) as client, ThreadPoolExecutor(60) as pool:
        answers = list(pool.map(lambda _: client.get("/orders", headers=headers), range(120)))
    assert [a.status_code for a in answers] == [200] * 120
    assert request_sessions.most <= 2


def _slow_app() -> FastAPI:
    app = FastAPI()
    install_database_outage_handler(app)

    @app.get("/slow")
    def slow(db: SessionDep) -> dict[str, int]:
        db.execute(text("SELECT 1"))
        time.sleep(0.6)
        return {"ok": 1}

    return app


def test_a_request_waiting_past_the_timeout_is_answered_503(  # type: ignore[no-untyped-def]
    request_sessions, pool_settings
) -> None:
    pool_settings(1, 0.1)
    with TestClient(_slow_app()) as client, ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: client.get("/slow"), range(2)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 503]
    refused = next(a for a in answers if a.status_code == 503)
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["detail"][0]["code"] == "database_unavailable"


def test_an_exhausted_real_pool_is_answered_503(engine: Engine) -> None:
    from app.core.db import make_engine

    small = make_engine(
        str(engine.url.render_as_string(hide_password=False)),
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.1,
    )
    app = FastAPI()
    install_database_outage_handler(app)

    @app.get("/needs-a-connection")
    def needs_a_connection() -> dict[str, int]:
        with small.connect() as conn:
            return {"one": conn.execute(text("SELECT 1")).scalar_one()}

    try:
        with small.connect(), TestClient(app, raise_server_exceptions=False) as client:
            answer = client.get("/needs-a-connection")
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "1"
        with TestClient(app) as client:
            assert client.get("/needs-a-connection").json() == {"one": 1}
    finally:
        small.dispose()


def test_an_open_event_stream_holds_no_request_slot(  # type: ignore[no-untyped-def]
    request_sessions, signed_in, pool_settings
) -> None:
    import uvicorn

    from app.web.session import SESSION_COOKIE
    from lockers.broker import free_port

    pool_settings(1, 3)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        with (
            httpx.Client(base_url=base, timeout=10) as streams,
            httpx.Client(base_url=base, timeout=10) as api,
        ):
            streams.cookies.set(SESSION_COOKIE, signed_in)
            with streams.stream("GET", "/live") as stream:
                assert stream.status_code == 200
                next(stream.iter_text())
                answer = api.get("/orders", headers={"Authorization": f"Bearer {signed_in}"})
                assert answer.status_code == 200, "the stream gave its slot back"
    finally:
        server.should_exit = True
        thread.join(10)
