"""Code requests are limited per phone (from one address, and from all); code requests and
login attempts per client address. Logins are never counted per phone or username."""

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth import ratelimit
from app.auth.models import RateLimitCounter
from app.core.errors import TooManyRequests
from app.core.settings import Settings
from tests.auth.conftest import fresh_address, fresh_phone
from tests.factories import STAFF_PASSWORD, Factory

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # on a bucket boundary


def test_code_requests_per_phone_per_address_and_per_phone(
    anon: TestClient,
    client_at: Callable[[str], TestClient],
    make: Factory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "rate_limit_codes_per_phone_per_hour", 7)
    phone = make.resident().phone
    limit = settings.rate_limit_per_phone_per_hour
    for _ in range(limit):
        assert anon.post("/auth/resident/code", json={"phone": phone}).status_code == 202
    refused = anon.post("/auth/resident/code", json={"phone": phone})
    assert refused.status_code == 429
    assert refused.json()["detail"][0]["loc"] == ["body", "phone"]
    assert "from this address" in refused.json()["detail"][0]["msg"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    # Another address still gets codes sent (the owner is not starved by one stranger) ...
    for _ in range(7 - limit):
        reply = client_at(fresh_address()).post("/auth/resident/code", json={"phone": phone})
        assert reply.status_code == 202
    # ... until the phone's own ceiling against SMS bombing from many addresses.
    ceiling = client_at(fresh_address()).post("/auth/resident/code", json={"phone": phone})
    assert ceiling.status_code == 429
    assert ceiling.json()["detail"][0]["loc"] == ["body", "phone"]
    # Another phone from the first address is fine.
    assert anon.post("/auth/resident/code", json={"phone": fresh_phone()}).status_code == 202


def test_code_requests_per_address(
    anon: TestClient,
    client_at: Callable[[str], TestClient],
    make: Factory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "rate_limit_per_ip_per_hour", 3)
    make.city()  # codes go to the countries of the cities served
    for _ in range(3):
        assert anon.post("/auth/resident/code", json={"phone": fresh_phone()}).status_code == 202
    refused = anon.post("/auth/resident/code", json={"phone": fresh_phone()})
    assert refused.status_code == 429
    assert "address" in refused.json()["detail"][0]["msg"]
    assert int(refused.headers["Retry-After"]) > 0
    other = client_at(fresh_address())
    assert other.post("/auth/resident/code", json={"phone": fresh_phone()}).status_code == 202


def test_token_attempts_per_address(
    anon: TestClient,
    client_at: Callable[[str], TestClient],
    make: Factory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "rate_limit_per_ip_per_hour", 4)
    for _ in range(4):
        reply = anon.post(
            "/auth/resident/token", json={"phone": make.resident().phone, "code": "123456"}
        )
        assert reply.status_code == 401
    refused = anon.post(
        "/auth/resident/token", json={"phone": make.resident().phone, "code": "123456"}
    )
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit()
    other = client_at(fresh_address())
    reply = other.post(
        "/auth/resident/token", json={"phone": make.resident().phone, "code": "123456"}
    )
    assert reply.status_code == 401


def test_staff_logins_per_address(
    anon: TestClient,
    client_at: Callable[[str], TestClient],
    make: Factory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "rate_limit_per_ip_per_hour", 3)
    operator = make.operator()
    right = {"username": operator.username, "password": STAFF_PASSWORD}
    for _ in range(3):
        assert anon.post("/auth/staff/token", json=right).status_code == 200
    refused = anon.post("/auth/staff/token", json=right)
    assert refused.status_code == 429
    assert "from this address" in refused.json()["detail"][0]["msg"]
    # The hourly budget is the address's, never the username's.
    assert client_at(fresh_address()).post("/auth/staff/token", json=right).status_code == 200


def test_refused_requests_are_not_counted(db: Session) -> None:
    for _ in range(3):
        ratelimit.hit(db_session=db, key="t:refused", limit=3, reason="r", now=T0)
    for _ in range(5):
        with pytest.raises(TooManyRequests):
            ratelimit.hit(db_session=db, key="t:refused", limit=3, reason="r", now=T0)
    hits = db.scalar(select(RateLimitCounter.hits).where(RateLimitCounter.key == "t:refused"))
    assert hits == 3


def test_window_slides_and_retry_after_is_true(db: Session) -> None:
    key = "t:sliding"
    step = ratelimit.WINDOW / ratelimit.BUCKETS
    ratelimit.hit(db_session=db, key=key, limit=3, reason="r", now=T0)
    ratelimit.hit(db_session=db, key=key, limit=3, reason="r", now=T0 + step)
    ratelimit.hit(db_session=db, key=key, limit=3, reason="r", now=T0 + 2 * step)
    at = T0 + 2 * step + timedelta(minutes=1)
    with pytest.raises(TooManyRequests) as refused:
        ratelimit.hit(db_session=db, key=key, limit=3, reason="r", now=at)
    retry = refused.value.extra["retry_after_seconds"]
    # The oldest hit (bucket T0) leaves the window at T0 + 1 h.
    assert retry == int((T0 + ratelimit.WINDOW - at).total_seconds())
    with pytest.raises(TooManyRequests):
        ratelimit.hit(
            db_session=db, key=key, limit=3, reason="r", now=at + timedelta(seconds=retry - 1)
        )
    assert (
        ratelimit.hit(
            db_session=db, key=key, limit=3, reason="r", now=at + timedelta(seconds=retry)
        )
        == 3
    )


def test_old_buckets_are_dropped_and_purged(db: Session) -> None:
    ratelimit.hit(db_session=db, key="t:old", limit=5, reason="r", now=T0)
    ratelimit.hit(db_session=db, key="t:other", limit=5, reason="r", now=T0)
    later = T0 + timedelta(hours=2)
    ratelimit.hit(db_session=db, key="t:old", limit=5, reason="r", now=later)
    starts = db.scalars(
        select(RateLimitCounter.bucket_start).where(RateLimitCounter.key == "t:old")
    )
    assert list(starts) == [later]
    assert ratelimit.purge(db_session=db, now=later) >= 1
    assert db.scalar(select(RateLimitCounter).where(RateLimitCounter.key == "t:other")) is None


def test_zero_limit_means_unlimited(db: Session) -> None:
    for _ in range(20):
        ratelimit.hit(db_session=db, key="t:off", limit=0, reason="r", now=T0)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        (None, "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_client_key(host: str | None, key: str) -> None:
    assert ratelimit.client_key(host) == key


def test_concurrent_requests_never_exceed_the_limit(committed: sessionmaker[Session]) -> None:
    """Twelve processes' worth of requests at once on one key: exactly the limit gets through."""
    limit, callers = 5, 12
    barrier = threading.Barrier(callers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        with committed() as session:
            barrier.wait()
            try:
                ratelimit.hit(db_session=session, key="t:race", limit=limit, reason="r")
                session.commit()
                result = "ok"
            except TooManyRequests:
                session.commit()
                result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * limit + ["refused"] * (callers - limit)
    with committed() as session:
        total = sum(
            session.scalars(select(RateLimitCounter.hits).where(RateLimitCounter.key == "t:race"))
        )
    assert total == limit
