"""The share link points at the server's real address, not at a fixed port 8000."""

from collections.abc import Iterator

import pytest

from app.core.settings import get_settings


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Settings read again from the environment this test sets, and again afterwards."""
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_unconfigured_share_link_uses_the_address_the_request_came_to(  # type: ignore[no-untyped-def]
    world, client_for, fresh_settings
) -> None:
    client = client_for(world.resident)
    client.base_url = client.base_url.copy_with(host="pickup.test", port=8123)  # type: ignore[assignment]
    link = client.get(f"/group-buys/{world.gb.id}/share")
    assert link.status_code == 200, link.text
    assert link.json()["url"] == f"http://pickup.test:8123/share/{world.gb.share_token}"


def test_configured_public_base_url_wins(world, client_for, fresh_settings) -> None:  # type: ignore[no-untyped-def]
    fresh_settings.setenv("PUBLIC_BASE_URL", "https://pickup.example.com/")
    get_settings.cache_clear()
    link = client_for(world.resident).get(f"/group-buys/{world.gb.id}/share")
    assert link.json()["url"] == f"https://pickup.example.com/share/{world.gb.share_token}"
