"""The routes map and the lockers in real Chromium on a played demo day: after the morning
cut-off the operator sees the vans' routes and the re-plan button, and opens a compartment
remotely with a reason, then sees it confirmed by the locker's door event without a reload."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import LAPTOP, DemoServer, shoot, sign_in_operator

ROUTES_WAIT_S = 150.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = DemoServer(tmp_path_factory.mktemp("demo-routes-lockers"), speed=300, orders=150)
    yield server
    server.stop()


def _wait_for_routes(page: Any, served: DemoServer) -> None:
    deadline = time.monotonic() + ROUTES_WAIT_S
    while time.monotonic() < deadline:
        if page.locator(".route-item").count() > 0:
            return
        time.sleep(3)
        page.goto(f"{served.url}/ops/routes")
    raise AssertionError(f"no routes after the cut-off:\n{served.log_tail()}")


def _wait_for_a_van_on_the_road(page: Any, served: DemoServer, seconds: float = 45.0) -> None:
    """Give the played day a little time to send vans out (the map is then more telling)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and page.locator(".route-item .s-transit").count() == 0:
        time.sleep(3)
        page.goto(f"{served.url}/ops/routes")


def test_routes_map_and_remote_open(  # type: ignore[no-untyped-def]
    chromium, served: DemoServer, tmp_path: Path
) -> None:
    context = chromium.new_context(**LAPTOP)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in_operator(page, served.url, "/ops/routes")
    _wait_for_routes(page, served)
    _wait_for_a_van_on_the_road(page, served)
    assert page.locator("svg.city-map .m-route").count() > 0
    assert page.locator("svg.city-map .m-hoods circle").count() >= 50
    shoot(page, "ops-routes", tmp_path)

    # The re-plan button is checked in tests/ops_dashboard/test_routes_map.py, not here: it
    # solves inside the request, holding the embedded stack's one SQLite writer for about 26 s
    # while this played day runs at 300x; in the full suite it passed the 30 s busy timeout
    # and the day's own passes failed with "database is locked" (to fix: re-plan as a task).
    assert page.locator("#replan").is_enabled()

    page.goto(f"{served.url}/ops/lockers")
    page.wait_for_selector("#lockers-table tbody tr[data-bank-id]")
    shoot(page, "ops-lockers", tmp_path)
    online = page.locator("#lockers-table tr:has(.s-done) a").first
    online.click()
    page.wait_for_selector(".comp-grid")
    free = page.locator("select[name=compartment_id]").first.locator("option", has_text="free")
    page.locator("select[name=compartment_id]").first.select_option(
        free.first.get_attribute("value")
    )
    page.fill("form[action$='/open'] input[name=reason]", "resident locked out, checked by phone")
    page.locator("#remote-open").click()
    page.wait_for_url("**command=*")
    page.evaluate("window.__notReloaded = true")
    page.wait_for_selector("#open-status[data-stage=confirmed]", timeout=60_000)
    assert page.evaluate("window.__notReloaded === true")
    assert "confirmed by the door event" in page.locator("#open-status").inner_text()
    assert "resident locked out" in page.locator("#bank-live").inner_text()
    shoot(page, "ops-bank", tmp_path)
    context.close()
