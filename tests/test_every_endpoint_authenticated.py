"""Every endpoint refuses an anonymous caller, except the few that must not need a token."""

import re

import pytest

from app.main import create_app

# Login, liveness, and provider webhooks (they verify the provider's signature instead).
PUBLIC = {
    ("POST", "/auth/resident/code"),
    ("POST", "/auth/resident/token"),
    ("POST", "/auth/staff/token"),
    ("GET", "/healthz"),
    ("POST", "/notifications/webhooks/twilio/status"),
    ("POST", "/notifications/webhooks/twilio/inbound"),
}


def _operations() -> list[tuple[str, str]]:
    paths = create_app().openapi()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


@pytest.mark.parametrize(("method", "path"), [op for op in _operations() if op not in PUBLIC])
def test_anonymous_caller_is_refused(anon_client, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    url = re.sub(r"\{[^}]+\}", "1", path)
    response = anon_client.request(method, url, json={})
    assert response.status_code == 401, f"{method} {path} answered {response.status_code}"


def test_webhooks_refuse_unsigned_requests(anon_client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/notifications/webhooks/twilio/status", "/notifications/webhooks/twilio/inbound"):
        assert anon_client.post(path, data={"MessageSid": "SM1"}).status_code == 403


def test_the_api_is_all_there() -> None:
    assert len(_operations()) > 80
