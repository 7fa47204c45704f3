"""Forwarded headers are believed only from TRUSTED_PROXIES (issue 15, item 4).

Before, uvicorn trusted X-Forwarded-For from any local client, so anyone on the host could pick
the address their failures and rate limits counted under; behind a proxy not on 127.0.0.1 every
client shared the proxy's bucket.
"""

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import LoginBackoff
from app.core.db import get_db
from app.core.forwarded import TrustedProxyHeaders, parse_networks
from app.core.settings import Settings
from app.main import create_app
from tests.factories import Factory

PROXY = "10.20.0.5"


@pytest.fixture
def app_behind(
    db: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], FastAPI]:
    """The API built with TRUSTED_PROXIES set to the given value."""

    def build(trusted: str) -> FastAPI:
        monkeypatch.setattr(settings, "trusted_proxies", trusted)
        application = create_app()

        def _override() -> Iterator[Session]:
            yield db

        application.dependency_overrides[get_db] = _override
        return application

    return build


def _counted_under(app: FastAPI, db: Session, phone: str, peer: str, **headers: str) -> set[str]:
    """The addresses a failed login from `peer` with `headers` was counted under."""
    before = {row.key for row in db.query(LoginBackoff)}
    with TestClient(app, client=(peer, 40000)) as client:
        reply = client.post(
            "/auth/resident/token", json={"phone": phone, "code": "123456"}, headers=headers
        )
    assert reply.status_code == 401
    after = {row.key for row in db.query(LoginBackoff)}
    return {key.removeprefix("resident:ip:") for key in after - before}


def test_forwarded_for_is_believed_from_a_trusted_proxy(
    app_behind: Callable[[str], FastAPI], db: Session, make: Factory
) -> None:
    app = app_behind("10.20.0.0/16, 192.0.2.1")
    phone = make.resident().phone
    assert _counted_under(app, db, phone, PROXY, **{"X-Forwarded-For": "203.0.113.7"}) == {
        "203.0.113.7"
    }
    # A client's own claim left of the proxy's entry is ignored: the right-most untrusted hop.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.8, 192.0.2.1"}
    assert _counted_under(app, db, phone, PROXY, **spoofed) == {"203.0.113.8"}
    rfc7239 = {"Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https, for=10.20.0.9'}
    assert _counted_under(app, db, phone, PROXY, **rfc7239) == {"2001:db8:cafe::/64"}


def test_forwarded_for_is_ignored_from_anyone_else(
    app_behind: Callable[[str], FastAPI], db: Session, make: Factory
) -> None:
    phone = make.resident().phone
    forged = {"X-Forwarded-For": "203.0.113.99", "Forwarded": "for=203.0.113.98"}
    # Not in the list: the peer is the client, even on the same host.
    trusting_others = app_behind("10.20.0.0/16")
    assert _counted_under(trusting_others, db, phone, "127.0.0.1", **forged) == {"127.0.0.1"}
    assert _counted_under(trusting_others, db, phone, "198.51.100.50", **forged) == {
        "198.51.100.50"
    }
    # The default trusts no one.
    default = app_behind("")
    assert _counted_under(default, db, phone, PROXY, **forged) == {PROXY}


@pytest.mark.parametrize(
    ("peer", "headers", "client", "scheme"),
    [
        ("10.0.0.1", {"x-forwarded-for": "203.0.113.5"}, "203.0.113.5", None),
        ("10.0.0.1", {"x-forwarded-for": "203.0.113.5, 10.0.0.2"}, "203.0.113.5", None),
        ("10.0.0.1", {"x-forwarded-for": "10.0.0.3, 10.0.0.2"}, "10.0.0.3", None),
        ("10.0.0.1", {"x-forwarded-for": "garbage"}, "10.0.0.1", None),
        ("10.0.0.1", {"x-forwarded-for": "203.0.113.5:8080"}, "203.0.113.5", None),
        ("10.0.0.1", {"forwarded": "for=unknown"}, "10.0.0.1", None),
        ("10.0.0.1", {"forwarded": "for=203.0.113.5;proto=https"}, "203.0.113.5", "https"),
        ("10.0.0.1", {"x-forwarded-proto": "https"}, "10.0.0.1", "https"),
        ("10.0.0.1", {"x-forwarded-proto": "javascript"}, "10.0.0.1", None),
        ("192.0.2.1", {"x-forwarded-for": "203.0.113.5"}, "192.0.2.1", None),
        ("::ffff:10.0.0.1", {"x-forwarded-for": "203.0.113.5"}, "203.0.113.5", None),
    ],
)
def test_client_for(peer: str, headers: dict[str, str], client: str, scheme: str | None) -> None:
    middleware = TrustedProxyHeaders(app=None, trusted="10.0.0.0/8")
    assert middleware.client_for(peer, headers) == (client, scheme)


def test_a_bad_trusted_proxies_entry_is_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        parse_networks("10.0.0.0/8, 10.0.0.300")


def test_pickup_serve_turns_uvicorns_own_proxy_headers_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to; we decide instead."""
    import uvicorn

    from app import serving

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    serving.run(serving.ServeAddress(host="127.0.0.1", http_port=8000))
    assert seen["proxy_headers"] is False
