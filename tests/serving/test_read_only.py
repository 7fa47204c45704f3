"""The rush's resident routes in one thread hop each; the reads (profile, catalog, progress) in
driver autocommit: no transaction opened, so no BEGIN / ROLLBACK round trips, and a statement
that writes or locks in a read-only session fails before it is sent."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import RequestSession, WriteInReadOnlyRequest, read_only
from app.main import create_app
from app.orders.models import Order
from app.residents.models import Resident
from tests.conftest import token_for
from tests.factories import Factory


@dataclass(frozen=True)
class Rush:
    resident_id: int
    token: str
    window_id: int
    group_buy_id: int
    share_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def rush(committed: sessionmaker[Session]) -> Rush:
    """A committed resident with an open group buy of its neighborhood."""
    with committed() as session:
        make = Factory(session)
        hood = make.neighborhood()
        gb = make.group_buy(neighborhood=hood, window=make.window())
        resident = make.resident(hood)
        session.commit()
        return Rush(resident.id, token_for(resident), gb.window_id, gb.id, gb.share_token)


class TransactionProbe:
    """After each statement on the engine: whether the driver's connection is inside a
    transaction (a BEGIN was sent), asked of the driver itself."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.in_transaction: list[bool] = []
        event.listen(engine, "after_cursor_execute", self._after)

    def _after(self, conn: Any, *_args: Any) -> None:
        driver = conn.connection.dbapi_connection
        if hasattr(driver, "info"):  # psycopg: 0 is IDLE, outside a transaction
            self.in_transaction.append(int(driver.info.transaction_status) != 0)
        else:  # sqlite3
            self.in_transaction.append(bool(driver.in_transaction))

    def close(self) -> None:
        event.remove(self.engine, "after_cursor_execute", self._after)


@pytest.fixture
def probe(engine: Engine) -> Iterator[TransactionProbe]:
    found = TransactionProbe(engine)
    yield found
    found.close()


READS = {
    "profile": lambda r: "/me",
    "catalog": lambda r: f"/catalog?window_id={r.window_id}",
    "progress": lambda r: f"/share/{r.share_token}",
    "my orders": lambda r: "/orders",
}


@pytest.mark.parametrize("read", READS)
def test_a_read_takes_one_hop_opens_no_transaction_and_gives_its_slot_back(  # type: ignore[no-untyped-def]
    request_sessions, rush, hops, probe, read
) -> None:
    path = READS[read](rush)
    with TestClient(create_app()) as client:
        hops.clear()
        probe.in_transaction.clear()
        answer = client.get(path, headers=rush.headers)
        assert answer.status_code == 200, answer.text
        assert len(hops) == 1, hops
        assert probe.in_transaction and not any(probe.in_transaction)
        assert request_sessions.now == 0 and request_sessions.most == 1
        assert client.post("/auth/logout", headers=rush.headers).status_code == 204
        refused = client.get(path, headers=rush.headers)
    assert refused.status_code == 401, refused.text
    assert refused.json()["detail"][0]["code"] == "token_signed_out"
    assert request_sessions.now == 0


def _order(client: TestClient, rush: Rush, key: str) -> Any:
    body = {
        "window_id": rush.window_id,
        "lines": [{"group_buy_id": rush.group_buy_id, "quantity": 2}],
    }
    return client.post("/orders", json=body, headers=rush.headers | {"Idempotency-Key": key})


def test_an_order_takes_one_hop_in_a_transaction_and_commits(  # type: ignore[no-untyped-def]
    request_sessions, rush, hops, probe, committed
) -> None:
    with TestClient(create_app()) as client:
        hops.clear()
        placed = _order(client, rush, "rush-1")
        assert placed.status_code == 201, placed.text
        assert len(hops) == 1, hops
        assert any(probe.in_transaction), "an order's statements run in one transaction"
        again = _order(client, rush, "rush-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == placed.json()
    assert request_sessions.now == 0
    with committed() as session:
        count = session.scalar(select(func.count()).where(Order.resident_id == rush.resident_id))
    assert count == 1


@pytest.mark.parametrize("read", [*READS, "order"])
def test_a_deactivated_resident_is_refused_at_once(  # type: ignore[no-untyped-def]
    request_sessions, rush, committed, read
) -> None:
    with TestClient(create_app()) as client:
        with committed() as session:
            session.execute(
                update(Resident).where(Resident.id == rush.resident_id).values(active=False)
            )
            session.commit()
        if read == "order":
            answer = _order(client, rush, "after-deactivation")
        else:
            answer = client.get(READS[read](rush), headers=rush.headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["detail"][0]["code"] == "account_unavailable"


def test_a_write_in_a_read_only_session_fails_loudly_and_writes_nothing(  # type: ignore[no-untyped-def]
    engine, rush, committed
) -> None:
    renamed = update(Resident).where(Resident.id == rush.resident_id).values(name="Written")
    writes: list[Any] = [renamed, text("DELETE FROM revoked_tokens")]
    if engine.dialect.name != "sqlite":  # SQLite renders no FOR UPDATE
        writes.append(select(Resident.id).with_for_update())
    for write in writes:
        session = RequestSession(bind=engine)
        read_only(session)
        assert session.scalar(select(Resident.name).where(Resident.id == rush.resident_id))
        with pytest.raises(WriteInReadOnlyRequest):
            session.execute(write)
        session.close()
    session = RequestSession(bind=engine)
    read_only(session)
    session.get_one(Resident, rush.resident_id).name = "Flushed"
    with pytest.raises(WriteInReadOnlyRequest):
        session.flush()
    session.close()
    with committed() as check:
        assert check.scalar(select(Resident.name).where(Resident.id == rush.resident_id)) not in (
            "Written",
            "Flushed",
        )
