"""The depot, parcels and messages views in real Chromium on a played demo day: after the
morning cut-off the operator opens the depot page, downloads the pick list CSV, follows a
parcel of the packing list to its whole chain, and sees the day's SMS."""

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import LAPTOP, DemoServer, shoot, sign_in_operator

CUTOFF_WAIT_S = 150.0
MESSAGES_WAIT_S = 60.0
READY_WAIT_S = 120.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = DemoServer(tmp_path_factory.mktemp("demo-parcels-depot"), speed=300, orders=150)
    yield server
    server.stop()


def _wait_for(page: Any, url: str, selector: str, seconds: float, served: DemoServer) -> None:
    deadline = time.monotonic() + seconds
    while page.locator(selector).count() == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {selector} on {url} in {seconds:.0f} s:\n{served.log_tail()}")
        time.sleep(3)
        page.goto(url)


def test_depot_pick_list_download_parcel_chain_and_messages(  # type: ignore[no-untyped-def]
    chromium, served: DemoServer, tmp_path: Path
) -> None:
    context = chromium.new_context(accept_downloads=True, **LAPTOP)
    page = context.new_page()
    sign_in_operator(page, served.url, "/ops/depot")
    # Closed, packed and routed: every parcel on a van (the route step solves with no lock
    # held, so the page may show the packed parcels "on no van" for the solver's seconds).
    _wait_for(page, f"{served.url}/ops/depot", "#pick-list-csv", CUTOFF_WAIT_S, served)
    _wait_for(page, f"{served.url}/ops/depot", ".van-pick:not(:has(a[href$='van=0']))", 60, served)
    assert page.locator("#pick-list tbody tr").count() > 1
    page_total = int(page.locator("#pick-total").inner_text())
    page.locator(".pick-total").evaluate("total => total.scrollIntoView({block: 'start'})")
    page.evaluate("window.scrollBy(0, -70)")  # below the sticky top bar
    shoot(page, "ops-depot", tmp_path)

    with page.expect_download() as info:
        page.locator("#pick-list-csv").click()
    download = info.value
    assert download.suggested_filename.startswith("pick-list-")
    assert download.suggested_filename.endswith(".csv")
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows and all(r["quantity"].isdigit() for r in rows)
    assert sum(int(r["quantity"]) for r in rows) == page_total
    assert {r["temperature_class"] for r in rows} <= {"frozen", "chilled", "ambient"}

    assert page.locator(".packing a[href^='/ops/parcels/']").count() > 0

    page.goto(f"{served.url}/ops/depot?van=all")
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and not page.locator("#print").is_visible()
    breaks = page.locator(".van-load").evaluate_all(
        "loads => loads.map(l => getComputedStyle(l).breakAfter)"
    )
    assert len(breaks) > 1 and all(b == "page" for b in breaks[:-1])
    page.emulate_media(media="screen")

    page.goto(f"{served.url}/ops/parcels")
    page.wait_for_selector(".orders-table")
    assert page.locator(".orders-table tr[data-order-id]").count() > 0

    ready = f"{served.url}/ops/parcels?tab=ready"
    _wait_for(page, ready, ".parcels-table tr[data-parcel-id]", READY_WAIT_S, served)
    shoot(page, "ops-parcels", tmp_path)
    page.locator(".parcels-table tr[data-parcel-id] a").first.click()
    page.wait_for_selector(".timeline")
    for stage in ("order", "group", "packing", "compartment", "route", "locker", "sms"):
        assert page.locator(f".timeline [data-stage={stage}]").count() > 0, stage
    assert "****" in page.locator(".chain-summary").inner_text()
    shoot(page, "ops-parcel-chain", tmp_path)

    messages = f"{served.url}/ops/messages"
    page.goto(messages)
    _wait_for(page, messages, ".messages-table tr[data-message-id]", MESSAGES_WAIT_S, served)
    assert "****" in page.locator(".messages-table").inner_text()
    shoot(page, "ops-messages", tmp_path)
    context.close()
