"""The request pool pings only connections that sat idle (`make_engine(ping_idle_after=...)`):
a dropped idle connection is replaced before use; a dropped recent one fails its request as a
disconnect (the 503 path) and the pool recovers by itself. PostgreSQL only (SQLite has no
server to drop a connection)."""

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from app.core.db import make_engine


@pytest.fixture
def server_url(engine: Engine) -> str:
    if engine.dialect.name != "postgresql":
        pytest.skip("a server database drops connections; SQLite has none")
    return engine.url.render_as_string(hide_password=False)


class PingCounter:
    def __init__(self, engine: Engine) -> None:
        self.pings = 0
        real = engine.dialect.do_ping

        def counted(dbapi_connection: Any) -> bool:
            self.pings += 1
            return real(dbapi_connection)

        engine.dialect.do_ping = counted  # type: ignore[method-assign]


@pytest.fixture
def pool_of_one(server_url: str) -> Iterator[Any]:
    engines: list[Engine] = []

    def make(idle_after: float) -> tuple[Engine, PingCounter]:
        made = make_engine(server_url, pool_size=1, max_overflow=0, ping_idle_after=idle_after)
        engines.append(made)
        return made, PingCounter(made)

    yield make
    for made in engines:
        made.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()


def test_a_connection_used_recently_is_not_pinged(pool_of_one) -> None:  # type: ignore[no-untyped-def]
    pool, counter = pool_of_one(60.0)
    first = _backend(pool)
    assert _backend(pool) == first  # the same pooled connection, handed out again
    assert counter.pings == 0


def test_a_dropped_idle_connection_is_replaced_before_use(pool_of_one, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    pool, counter = pool_of_one(0.0)  # every returned connection counts as idle
    first = _backend(pool)
    _terminate(engine, first)
    second = _backend(pool)  # no error: the ping found it dead, the pool reconnected
    assert second != first
    assert counter.pings == 1


def test_a_dropped_recent_connection_fails_as_a_disconnect_then_recovers(  # type: ignore[no-untyped-def]
    pool_of_one, engine: Engine
) -> None:
    pool, counter = pool_of_one(60.0)
    first = _backend(pool)
    _terminate(engine, first)
    with pytest.raises(Exception) as failed, pool.connect() as conn:
        conn.execute(text("SELECT 1"))
    # What `install_database_outage_handler` answers 503 with Retry-After.
    assert getattr(failed.value, "connection_invalidated", False) is True
    assert _backend(pool) != first  # the next request reconnects by itself
    assert counter.pings == 0
