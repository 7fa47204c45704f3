"""The drivers' app in real Chromium on a phone, on a played demo day: the demo driver (whose
route the simulated crew leaves to a person) signs in, checks the load, starts, and drives
every stop; the network is cut mid-route and restored; afterwards every stop is departed, every
parcel is in its locker (or failed with a reason), and no action was applied twice."""

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.seed.fleet import DRIVER_PASSWORD
from tests.browser import PHONE, DemoServer, shoot

ROUTE_WAIT_S = 180.0
DOOR_WAIT_MS = 30_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = DemoServer(tmp_path_factory.mktemp("demo-driver"), speed=300, orders=150)
    yield server
    server.stop()


def _api(served: DemoServer) -> httpx.Client:
    # 60 s: on the embedded stack a request can queue behind the cut-off's solve, which holds
    # SQLite's one writer (a run alone once timed out at 20 s).
    client = httpx.Client(base_url=served.url, timeout=60)
    login = client.post(
        "/auth/staff/token", json={"username": "driver", "password": DRIVER_PASSWORD}
    )
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return client


def _published_route(api: httpx.Client, served: DemoServer) -> dict[str, Any]:
    deadline = time.monotonic() + ROUTE_WAIT_S
    while time.monotonic() < deadline:
        routes = api.get("/driver/routes/today").json()
        ready = [r for r in routes if r["status"] == "published" and r["stops"]]
        if ready:
            return dict(min(ready, key=lambda r: r["planned_departure"]))
        time.sleep(3)
    raise AssertionError(f"no route for the demo driver:\n{served.log_tail()}")


def _synced(page: Any) -> None:
    """Every queued action has had the server's answer."""
    page.wait_for_function(
        "JSON.parse(localStorage.getItem('pickup-driver-queue') || '[]').length === 0",
        timeout=20_000,
    )


def _tap(page: Any, selector: str) -> None:
    page.locator(selector).click()
    page.wait_for_selector("#undo-bar", state="hidden", timeout=10_000)


def _doors_closed(page: Any) -> None:
    """Each parcel of the stop shows confirmed (door event) or failed: none still waiting."""
    page.wait_for_function(
        "[...document.querySelectorAll('[data-parcel-state]')]"
        ".every(el => el.matches('.s-done, .s-failed'))",
        timeout=DOOR_WAIT_MS,
    )


def _hand_over(page: Any, stop_id: int, *, open_doors: bool = True) -> None:
    """Open each parcel's door; a parcel the locker refuses is marked failed with its reason."""
    if open_doors:
        for button in page.locator(f"[data-act=deposit][data-stop='{stop_id}']").all():
            button.click()
        page.wait_for_selector("#undo-bar", state="hidden", timeout=10_000)
    _synced(page)
    if page.locator("#driver-notice").is_visible():
        for card in page.locator(".parcel-card:has([data-parcel-state].s-assigned)").all():
            card.locator("summary").click()
            card.locator("select.reason").select_option("locker_offline")
            card.locator("[data-act=fail]").click()
        page.wait_for_selector("#undo-bar", state="hidden", timeout=10_000)
        _synced(page)
    _doors_closed(page)


def test_a_driver_runs_a_route_with_the_network_cut_midway(  # type: ignore[no-untyped-def]
    chromium, served: DemoServer, tmp_path: Path
) -> None:
    api = _api(served)
    route = _published_route(api, served)
    stops = sorted(route["stops"], key=lambda s: s["sequence"])
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{served.url}/staff/login")
    page.fill("input[name=username]", "driver")
    page.fill("input[name=password]", DRIVER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{served.url}/driver")
    shoot(page, "driver-home", tmp_path)

    page.click(f"a[href='/driver/route/{route['id']}']")
    page.wait_for_selector("body[data-cached=yes]")
    assert page.locator("[data-act=start]").is_disabled()
    shoot(page, "driver-load-check", tmp_path)
    for tick in page.locator(".load-tick").all():
        tick.check()
    page.locator("[data-act=start]").click()
    page.wait_for_selector("#undo-bar")
    shoot(page, "driver-undo", tmp_path)
    page.wait_for_selector("#undo-bar", state="hidden", timeout=10_000)
    _synced(page)
    page.evaluate("localStorage.setItem('pickup-driver-undo-ms', '400')")
    page.reload()  # the stop pages cached again, now with the route started
    page.wait_for_selector("body[data-cached=yes]")
    assert page.locator("#load-check").count() == 0
    shoot(page, "driver-stops", tmp_path)

    offline_stop = stops[1]["id"] if len(stops) > 1 else stops[0]["id"]
    for index, stop in enumerate(stops):
        stop_url = f"{served.url}/driver/route/{route['id']}/stop/{stop['id']}"
        if stop["id"] == offline_stop:
            context.set_offline(True)
        page.goto(stop_url)
        if index == 0 and len(stops) > 1:  # a deposit at a stop not reached is refused by name
            page.goto(f"{served.url}/driver/route/{route['id']}/stop/{stops[1]['id']}")
            page.locator("[data-act=deposit]").first.click()
            page.wait_for_selector("#driver-notice:not([hidden])", timeout=20_000)
            assert "not at this stop" in page.locator("#driver-notice").inner_text()
            assert "not_at_stop" in page.locator("#driver-notice").inner_text()
            shoot(page, "driver-refused", tmp_path)
            page.goto(stop_url)
        _tap(page, f"[data-act=arrive][data-stop='{stop['id']}']")
        if stop["id"] == offline_stop:
            for button in page.locator("[data-act=deposit]").all():
                button.click()
            page.wait_for_selector("#undo-bar", state="hidden", timeout=10_000)
            assert page.locator(".pending-badge").count() >= 1
            assert page.locator("#sync-badge").is_visible()
            page.evaluate("window.scrollTo(0, 0)")
            shoot(page, "driver-offline-pending", tmp_path)
            page.goto(f"{served.url}/driver/route/{route['id']}/stop/0")  # never cached
            assert page.locator("h1").inner_text() == "No network"
            shoot(page, "driver-offline", tmp_path)
            page.go_back()
            context.set_offline(False)
            page.evaluate("window.dispatchEvent(new Event('online'))")
            _hand_over(page, stop["id"], open_doors=False)
        else:
            _synced(page)
            _hand_over(page, stop["id"])
        if index == 0:
            page.evaluate("window.scrollTo(0, 0)")
            shoot(page, "driver-stop", tmp_path)
        _tap(page, f"[data-act=depart][data-stop='{stop['id']}']")
        _synced(page)
        assert not page.locator("#driver-notice").is_visible(), page.locator(
            "#driver-notice"
        ).inner_text()

    page.goto(f"{served.url}/driver/route/{route['id']}")
    assert page.locator(".s-transit[data-stop-status], .s-assigned[data-stop-status]").count() == 0
    _check_nothing_lost_or_doubled(api, served, route["id"], page)
    page.get_by_role("button", name="中文").click()
    page.wait_for_selector("h1:has-text('路线')")
    shoot(page, "driver-route-zh", tmp_path)
    context.close()


def _check_nothing_lost_or_doubled(  # type: ignore[no-untyped-def]
    api: httpx.Client, served: DemoServer, route_id: int, page
) -> None:
    after = api.get(f"/driver/routes/{route_id}").json()
    assert after["status"] in ("completed", "completed_with_alarm")
    for stop in after["stops"]:
        assert stop["departed_at"] is not None
        for parcel in stop["parcels"]:
            assert parcel["status"] not in ("reserved", "loaded"), parcel
    database = served.workdir / ".pickup-demo" / "day.db"
    with sqlite3.connect(database) as db:
        doubled = db.execute(
            "SELECT kind, stop_id, parcel_id, COUNT(*) FROM driver_action_receipts "
            "WHERE route_id = ? AND outcome = 'applied' "
            "GROUP BY kind, stop_id, parcel_id HAVING COUNT(*) > 1",
            (route_id,),
        ).fetchall()
        assert doubled == []
        opened = db.execute(
            "SELECT parcel_id, COUNT(*) FROM locker_commands WHERE purpose = 'deposit' "
            "AND requested_by_id = (SELECT driver_id FROM routes WHERE id = ?) "
            "GROUP BY parcel_id HAVING COUNT(*) > 1",
            (route_id,),
        ).fetchall()
        assert opened == []
        action_id, kind, stop_id = db.execute(
            "SELECT action_id, kind, stop_id FROM driver_action_receipts "
            "WHERE route_id = ? AND kind = 'arrive' LIMIT 1",
            (route_id,),
        ).fetchone()
    replay = page.evaluate(
        """async (body) => (await fetch('/driver/actions', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})).json()""",
        {"id": action_id, "kind": kind, "route_id": route_id, "stop_id": stop_id},
    )
    assert replay["replayed"] is True and replay["outcome"] == "applied"
