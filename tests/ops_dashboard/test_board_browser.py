"""The day board and the alarms in real Chromium on one played demo day: the operator signs in
and, without a reload, watches orders rise, the morning cut-off happen and the pipeline
progress; the played day takes a locker bank offline while a van heads for it, the header's
badge shows the alarm, and the operator acknowledges it with a comment."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import LAPTOP, DemoServer, shoot, sign_in_operator

ORDERS_JS = """() => [...document.querySelectorAll('.board-window [data-orders]')]
    .reduce((sum, el) => sum + Number(el.dataset.orders), 0)"""
MINUTE_MS = 60_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = DemoServer(tmp_path_factory.mktemp("demo-board"), speed=500, orders=150)
    yield server
    server.stop()


def _still_the_same_page(page: Any) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


def test_the_board_moves_and_an_offline_bank_raises_an_alarm(  # type: ignore[no-untyped-def]
    chromium, served: DemoServer, tmp_path: Path
) -> None:
    context = chromium.new_context(**LAPTOP)
    page = context.new_page()
    sign_in_operator(page, served.url, "/ops")
    page.wait_for_selector("#board-panels .board-window")
    page.evaluate("window.__notReloaded = true")
    first = page.evaluate(ORDERS_JS)

    try:
        page.wait_for_function(f"({ORDERS_JS})() > {first}", timeout=MINUTE_MS)
        page.wait_for_selector(
            ".board-window[data-window-status=closed]", state="attached", timeout=2 * MINUTE_MS
        )
        page.wait_for_selector(
            ".board-window [data-step=published][data-kind=done]",
            state="attached",
            timeout=MINUTE_MS,
        )
    except Exception as exc:
        raise AssertionError(f"the board did not move: {exc}\n{served.log_tail()}") from exc
    assert _still_the_same_page(page)

    try:  # the bank goes offline once vans have made a few stops
        page.wait_for_function(
            "document.querySelector('#alarm-badge').dataset.count > 0", timeout=2 * MINUTE_MS
        )
    except Exception as exc:
        raise AssertionError(f"no alarm on the badge: {exc}\n{served.log_tail()}") from exc
    assert _still_the_same_page(page)
    shoot(page, "ops-board", tmp_path)

    page.locator("#alarm-badge").click()
    page.wait_for_url("**/ops/alarms")
    page.evaluate("window.__notReloaded = true")
    offline = page.locator("#alarms-table tr[data-type=bank_offline]")
    offline.first.wait_for(timeout=2 * MINUTE_MS)
    assert _still_the_same_page(page)
    # Unacknowledged, active or (the bank back already, on a slow machine) cleared.
    row = page.locator(
        "#alarms-table tr[data-type=bank_offline][data-state=active_unack], "
        "#alarms-table tr[data-type=bank_offline][data-state=cleared_unack]"
    ).first
    row.wait_for(timeout=20_000)
    row.locator("input[name=comment]").fill("van told to skip; technician called")
    with page.expect_response(lambda r: r.request.method == "POST" and "/alarms/" in r.url):
        row.get_by_role("button", name="Acknowledge").click()
    # Acknowledged, active or cleared (a cleared one leaves the open list): the full list.
    page.goto(f"{served.url}/ops/alarms?show=all")
    acked = page.locator(
        "#alarms-table tr[data-type=bank_offline][data-state=active_ack], "
        "#alarms-table tr[data-type=bank_offline][data-state=cleared_ack]"
    )
    acked.first.wait_for(timeout=20_000)
    assert "technician called" in acked.first.inner_text()
    assert "Demo Operator" in acked.first.inner_text()
    shoot(page, "ops-alarms", tmp_path)
    context.close()
