"""Request sessions opened by `get_db` itself (not overridden) on the test database, counted."""

import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.core import db as core_db
from app.core.db import RequestSession
from app.residents.models import Resident
from tests.conftest import token_for
from tests.factories import Factory


class CheckoutCounter:
    """Connections of an engine checked out now, and the most at once."""

    def __init__(self, engine: Engine) -> None:
        self.now = 0
        self.most = 0
        self.total = 0
        self._lock = threading.Lock()
        event.listen(engine, "checkout", self._out)
        event.listen(engine, "checkin", self._in)

    def _out(self, *_args: object) -> None:
        with self._lock:
            self.now += 1
            self.total += 1
            self.most = max(self.most, self.now)

    def _in(self, *_args: object) -> None:
        with self._lock:
            self.now -= 1


@pytest.fixture
def request_sessions(
    engine: Engine, committed: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> CheckoutCounter:
    """`get_db` (not overridden) opens its sessions on the test database; counted."""
    factory = sessionmaker(bind=engine, class_=RequestSession, expire_on_commit=False)
    monkeypatch.setattr(core_db, "get_request_sessionmaker", lambda: factory)
    return CheckoutCounter(engine)


@pytest.fixture
def signed_in(committed: sessionmaker[Session]) -> str:
    """A committed resident's bearer token."""
    with committed() as session:
        resident: Resident = Factory(session).resident()
        session.commit()
        return token_for(resident)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions run in worker threads (`anyio.to_thread.run_sync`), in order."""
    ran: list[str] = []
    run_sync: Callable[..., Any] = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        ran.append(getattr(func, "__qualname__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return ran
