"""Engine, sessions, the request's session dependency and the declarative base of every model."""

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Annotated, Any
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread
from fastapi import Depends
from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, create_engine, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app.core.clock import get_clock
from app.core.settings import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Threads beyond the request slots, for routes and dependencies that do not use the database.
THREADS_BEYOND_SLOTS = 8
# A request connection idle longer than this is pinged before use; one used more recently is
# not (a ping is a round trip per request otherwise). See `make_engine`.
PING_IDLE_AFTER_SECONDS = 10.0
# The execution option of a read-only request's connections (`read_only`).
READ_ONLY = "pickup_read_only"
_WRITES = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE|GRANT|REVOKE|LOCK|COPY|CALL"
    r"|NEXTVAL|SETVAL|VACUUM|PRAGMA)\b|\bFOR\s+(NO\s+KEY\s+|KEY\s+)?(UPDATE|SHARE)\b",
    re.IGNORECASE,
)


class WriteInReadOnlyRequest(RuntimeError):
    """A statement that writes or locks, sent in a request marked read-only: a bug to fix."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timezone-aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, from the process's clock (`app.core.clock`)."""
    return get_clock().now()


def make_engine(url: str, *, ping_idle_after: float | None = None, **kwargs: Any) -> Engine:
    """An engine with the per-dialect settings the project relies on.

    `hide_parameters`: a failing statement's error (and so a 500's traceback in the log) shows
    the SQL but not the values bound to it, which may be phone numbers, names or codes.

    A server database's connections are pinged before use (`pool_pre_ping`), or, given
    `ping_idle_after`, only those idle longer than that many seconds (`_ping_when_idle`)."""
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; we emit
            # BEGIN ourselves (SQLAlchemy's documented recipe), IMMEDIATE so concurrent writers
            # queue on busy_timeout instead of failing to upgrade a read lock.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if not conn.get_execution_options().get(READ_ONLY):  # no BEGIN: each read alone
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if ping_idle_after is None:
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine, ping_idle_after)
    return engine


def _ping_when_idle(engine: Engine, idle_after: float) -> None:
    """Ping a connection at checkout only if it sat in the pool longer than `idle_after`
    seconds; a dead one is replaced before use, as `pool_pre_ping` would (the pool retries
    the checkout on DisconnectionError).

    A connection used within the last seconds is handed out unpinged. If the server dropped it
    meanwhile (a restart), the request's first statement fails as a disconnect: SQLAlchemy
    invalidates it and every connection of the pool made before (`Pool._invalidate`), and the
    request is answered 503 with Retry-After (`install_database_outage_handler`), as a request
    in flight during the restart is; the next checkouts reconnect by themselves."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since <= idle_after:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise sa_exc.DisconnectionError("idle connection dropped") from exc
            raise


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """A session factory bound to the process-wide engine."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


class RequestSession(Session):
    """A request's session. Closing it gives the request's slot back at once (a stream that
    closes its session before streaming holds no slot for the stream's life)."""

    release_slot: Callable[[], None] | None = None
    read_only: bool = False

    def close(self) -> None:
        try:
            super().close()
        finally:
            release, self.release_slot = self.release_slot, None
            if release is not None:
                release()


def get_request_sessionmaker() -> sessionmaker[Session]:
    """Sessions of requests, on a pool of their own: `DATABASE_POOL_SIZE` connections, no
    overflow (an overflow connection is closed on return, a reconnect per burst). The bridge,
    the clockwork and the streams' polls use `get_sessionmaker`'s pool instead."""
    settings = get_settings()
    return _request_sessionmaker(
        settings.database_url, settings.database_pool_size, settings.database_pool_timeout_seconds
    )


@lru_cache
def _request_sessionmaker(url: str, pool_size: int, timeout: float) -> sessionmaker[Session]:
    if make_url(url).database in (None, "", ":memory:"):
        engine = get_engine()  # an in-memory SQLite database exists once, in one engine
    else:
        engine = make_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=timeout,
            ping_idle_after=PING_IDLE_AFTER_SECONDS,
        )
    return sessionmaker(bind=engine, class_=RequestSession, expire_on_commit=False)


_request_slots: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
_request_slots = WeakKeyDictionary()


def _slots_of_this_loop() -> asyncio.Semaphore:
    """One slot per pooled connection; the threadpool is made at least as large, so a request
    holding a slot never waits for a thread behind requests that wait for a connection."""
    loop = asyncio.get_running_loop()
    slots = _request_slots.get(loop)
    if slots is None:
        size = get_settings().database_pool_size
        slots = _request_slots[loop] = asyncio.Semaphore(size)
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, size + THREADS_BEYOND_SLOTS)
    return slots


async def get_db() -> AsyncIterator[Session]:
    """FastAPI dependency: one session per request, rolled back if the route did not commit.

    A request first takes one of the pool's slots, waiting in the event loop (no thread, no
    connection held); with every slot taken past DATABASE_POOL_TIMEOUT_SECONDS it is answered
    503 with Retry-After (`install_database_outage_handler`). Every dependency of a request
    shares this one session (FastAPI caches it per request), so a request needs at most one
    connection, and the pool has one for each slot: nobody waits for a connection.

    A connection the database dropped meanwhile (a restart after the route's commit) cannot
    roll back, and need not: the server already ended its transaction, and the answer has
    gone out. The pool discards it; closing does not fail the request for it."""
    settings = get_settings()
    slots = _slots_of_this_loop()
    try:
        await asyncio.wait_for(slots.acquire(), settings.database_pool_timeout_seconds)
    except TimeoutError as exc:
        raise sa_exc.TimeoutError(
            f"all {settings.database_pool_size} request connections busy"
        ) from exc
    loop = asyncio.get_running_loop()
    session = get_request_sessionmaker()()
    assert isinstance(session, RequestSession)

    def release_slot() -> None:
        loop.call_soon_threadsafe(slots.release)

    session.release_slot = release_slot
    try:
        yield session
    finally:
        if session.in_transaction() and not session.read_only:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_close_quietly, session)
        else:  # closed by the route, never used or read-only: nothing to roll back, no hop
            session.close()


def read_only(session: Session) -> None:
    """Mark a request's session read-only, before its first statement. Each statement then
    runs on its own, in driver autocommit: no BEGIN and ROLLBACK round trips on PostgreSQL, no
    `BEGIN IMMEDIATE` (the writers' lock) on SQLite, and the session ends without I/O. A
    statement that writes or locks raises WriteInReadOnlyRequest before it is sent. The reads
    need not see one snapshot: each shows what was committed when it ran. A session the
    request did not open (a test's) is left as it is."""
    if isinstance(session, RequestSession) and not session.in_transaction():
        session.bind = _read_only_engine(session.get_bind())
        session.read_only = True


@cache
def _read_only_engine(engine: Engine) -> Engine:
    """The engine's pool and settings, its connections in autocommit, writes refused."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name != "sqlite":  # SQLite's connections already are (no BEGIN above)
        options["isolation_level"] = "AUTOCOMMIT"
    read_engine = engine.execution_options(**options)
    event.listen(read_engine, "before_cursor_execute", _refuse_writes)
    return read_engine


def _refuse_writes(
    _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
) -> None:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        raise WriteInReadOnlyRequest(f"a write in a read-only request: {statement[:80]}")
    if _writes(statement):
        raise WriteInReadOnlyRequest(f"a write or lock in a read-only request: {statement[:80]}")


@lru_cache(maxsize=1024)
def _writes(statement: str) -> bool:
    return _WRITES.search(statement) is not None


def _close_quietly(session: Session) -> None:
    try:
        session.close()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise


SessionDep = Annotated[Session, Depends(get_db)]
