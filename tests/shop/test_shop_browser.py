"""The residents' shop in real Chromium on a phone, on a played demo day: a new resident signs
up in a neighborhood, orders (a double tap places one order) and shares; a neighbour opens the
link, signs up and orders the same group; after the played cut-off the order page shows the
pickup code, and collecting with it closes the timeline."""

import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.core.security import codes_match
from app.neighborhoods.models import LockerBank
from lockers import codes, pickup, protocol
from lockers.models import PickupCode
from logistics.models import Parcel
from tests.browser import PHONE, DemoServer, shoot

# 250 simulated seconds a second: the 06:00 cut-off comes about 90 s after midnight, the food
# is in the lockers by 11:00 (about 160 s).
SPEED = 250
FIRST_PHONE = "+8619912340001"
SECOND_PHONE = "+8619912340002"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    server = DemoServer(
        tmp_path_factory.mktemp("demo-shop"),
        speed=SPEED,
        orders=120,
        extra_args=("--crew-drives-all",),  # every route driven, so every parcel arrives
        extra_env={"SMS_CONSOLE_PHONES": f"{FIRST_PHONE},{SECOND_PHONE}"},  # codes in the log
    )
    yield server
    server.stop()


def _login_code(server: DemoServer, phone: str, seen: int, timeout_s: float = 20.0) -> str:
    """The code the console SMS printed for `phone` after `seen` log lines."""
    pattern = re.compile(rf"SMS to {re.escape(phone)}\D*?(\d{{6}})", re.S)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = server.log_path.read_text(errors="replace").splitlines()[seen:]
        found = pattern.findall("\n".join(lines))
        if found:
            return str(found[-1])
        time.sleep(0.3)
    raise AssertionError(f"no login code for {phone}:\n{server.log_tail()}")


def _log_lines(server: DemoServer) -> int:
    return len(server.log_path.read_text(errors="replace").splitlines())


def _sign_in(page: Any, server: DemoServer, phone: str, tmp_path: Path, shots: bool) -> None:
    """From the phone form to the code (read from the demo's console SMS), signed in or on
    the neighborhood picker."""
    page.fill("input[name=phone]", phone)
    seen = _log_lines(server)
    page.get_by_role("button", name="Text me a code").click()
    page.wait_for_selector("input[name=code]")
    if shots:
        shoot(page, "phone-login-code", tmp_path)
    page.fill("input[name=code]", _login_code(server, phone, seen))
    page.get_by_role("button", name="Sign in").click()


def _pick_neighborhood(page: Any, name: str | None) -> str:
    """Choose `name` (searched for), or the first neighborhood of the list; its name."""
    if name is not None:
        page.fill("#hood-q", name)
        page.wait_for_selector(f"#hood-list .hood-option:has-text('{name}')")
        option = page.locator("#hood-list .hood-option", has_text=name).first
    else:
        page.wait_for_selector("#hood-list .hood-option")
        option = page.locator("#hood-list .hood-option").first
    option.locator("input").check()
    return str(option.locator("strong").inner_text())


def _orderable_card(page: Any) -> tuple[str, int]:
    """The group card whose group needs the fewest more units to form (and has them in stock)."""
    best: tuple[int, str] | None = None
    for card in page.locator(".gb-card").all():
        if card.locator("input[type=number]").count() == 0 or card.locator(".alert").count():
            continue
        needed, left = int(card.get_attribute("data-needed")), int(card.get_attribute("data-left"))
        room_for_the_neighbour = left >= max(needed, 1) + 1
        if needed <= 20 and room_for_the_neighbour and (best is None or needed < best[0]):
            best = (needed, str(card.get_attribute("id")))
    assert best is not None, "no group buy to order from"
    return best[1], max(best[0], 1)


def _order(page: Any, card_id: str, quantity: int, tmp_path: Path, shots: bool) -> str:
    """Order `quantity` from the card through the basket (tapping Place twice); the order URL."""
    page.fill(f"#{card_id} input[type=number]", str(quantity))
    if shots:
        page.evaluate("id => document.getElementById(id).scrollIntoView()", card_id)
        shoot(page, "phone-shop", tmp_path)
    page.get_by_role("button", name="Review basket").click()
    page.wait_for_selector("#place-order")
    if shots:
        shoot(page, "phone-basket", tmp_path)
    page.dblclick("#place-order")
    page.wait_for_url(re.compile(r".*/my-orders/\d+$"))
    return str(page.url)


def _collect_at_the_locker(server: DemoServer, order_id: int, code: str) -> None:
    """What the keypad does with a good code: the bank reports the parcel collected, and the
    lockers' pickup service applies it (here straight on the demo's database)."""
    engine = create_engine(
        f"sqlite:///{server.workdir / '.pickup-demo' / 'day.db'}", connect_args={"timeout": 30}
    )
    with Session(engine) as db:
        for parcel in db.scalars(select(Parcel).where(Parcel.order_id == order_id)):
            row = db.scalar(select(PickupCode).where(PickupCode.parcel_id == parcel.id))
            if row is None or not codes_match(row.code_hash, code, purpose=codes.PURPOSE):
                continue
            bank = db.get(LockerBank, parcel.bank_id)
            assert bank is not None
            event = protocol.EventMessage(
                event_id=uuid.uuid4().hex,
                seq=1,
                ts=datetime.now(UTC),
                type=protocol.EventType.PARCEL_COLLECTED,
                parcel_id=parcel.id,
                data={"method": "keypad"},
            )
            assert pickup.apply_collected(db_session=db, bank=bank, event=event) == (
                "applied:collected"
            )
        db.commit()
    engine.dispose()


def test_two_neighbours_order_one_group_and_collect(  # type: ignore[no-untyped-def]
    chromium, served: DemoServer, tmp_path: Path
) -> None:
    first = chromium.new_context(**PHONE)
    page = first.new_page()
    page.goto(f"{served.url}/")
    page.wait_for_url(re.compile(r".*/login\?next=/$"))
    shoot(page, "phone-login", tmp_path)
    _sign_in(page, served, FIRST_PHONE, tmp_path, shots=True)
    page.wait_for_selector("#hood-list .hood-option")
    shoot(page, "phone-signup", tmp_path)
    hood = _pick_neighborhood(page, None)
    page.get_by_role("button", name="Join and sign in").click()
    page.wait_for_url(f"{served.url}/")
    assert page.locator("h1").inner_text() == hood
    shoot(page, "phone-windows", tmp_path)

    page.locator("a.card[href^='/w/']").first.click()
    page.wait_for_selector(".gb-card")
    card_id, quantity = _orderable_card(page)
    order_url = _order(page, card_id, quantity, tmp_path, shots=True)
    assert "Cancel order" in page.content()
    shoot(page, "phone-order-placed", tmp_path)
    page.goto(f"{served.url}/my-orders")
    assert page.locator("a.card[href^='/my-orders/']").count() == 1  # the double tap: one order

    page.goto(f"{served.url}/g/{card_id.removeprefix('gb-')}/share")
    share_url = page.locator("#share-url").inner_text().strip()
    assert "/s/" in share_url and page.locator(".qr svg").count() == 1
    shoot(page, "phone-share", tmp_path)

    second = chromium.new_context(**PHONE)
    neighbour = second.new_page()
    neighbour.goto(share_url)
    assert neighbour.locator(f"#{card_id}").count() == 1 and hood in neighbour.content()
    shoot(neighbour, "phone-share-landing", tmp_path)
    neighbour.get_by_role("link", name="Sign in to join").click()
    _sign_in(neighbour, served, SECOND_PHONE, tmp_path, shots=False)
    neighbour.wait_for_selector("#hood-q")
    assert _pick_neighborhood(neighbour, hood) == hood
    neighbour.get_by_role("button", name="Join and sign in").click()
    neighbour.wait_for_url(re.compile(rf".*/w/\d+#{card_id}$"))
    _order(neighbour, card_id, 1, tmp_path, shots=False)
    second.close()

    # The played cut-off, packing, the vans: the order page shows the code once it is in a locker.
    page.goto(order_url)
    deadline = time.monotonic() + 200
    while page.locator("[data-pickup-code]").count() == 0:
        assert time.monotonic() < deadline, f"no pickup code:\n{served.log_tail()}"
        time.sleep(3)
        page.reload()
    code = page.locator("[data-pickup-code]").first.inner_text().strip()
    assert re.fullmatch(r"\d{6}", code)
    assert page.locator(".qr svg").count() >= 1
    page.wait_for_timeout(1500)  # the countdown follows the played clock from the stream
    shoot(page, "phone-order-code", tmp_path, full_page=True)

    _collect_at_the_locker(served, int(order_url.rsplit("/", 1)[1]), code)
    page.reload()
    assert page.locator(".timeline li.done").count() == 6
    assert page.locator("[data-pickup-code]").count() == 0
    shoot(page, "phone-order-collected", tmp_path, full_page=True)

    page.goto(f"{served.url}/my-orders")
    shoot(page, "phone-orders", tmp_path)
    page.goto(f"{served.url}/account")
    page.get_by_role("button", name="中文").click()
    page.wait_for_selector("text=食材入柜时短信通知我")
    shoot(page, "phone-account-zh", tmp_path)
    first.close()
