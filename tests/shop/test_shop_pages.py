"""The residents' pages through TestClient: sign-in, shop, basket (one order per key), orders,
sharing; a resident sees only their own things, bad input names its field."""

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.orders.models import Order, OrderStatus
from app.residents.models import Resident
from app.staff.models import StaffRole
from shop import live, my_orders, share, shopping, signin
from tests.conftest import World
from tests.factories import Factory

PUBLIC = re.compile(r"^(/login(/.*)?|/signup(/.*)?|/s/.*)$")


def _private_routes() -> list[tuple[str, str]]:
    found = []
    for view in (signin, shopping, share, my_orders, live):
        for route in view.router.routes:
            for method in sorted(getattr(route, "methods", set()) - {"HEAD"}):
                if not PUBLIC.match(route.path):
                    found.append((method, route.path))
    return found


@pytest.mark.parametrize(("method", "path"), _private_routes())
def test_private_pages_send_strangers_to_sign_in_and_refuse_staff(  # type: ignore[no-untyped-def]
    page_client_for, make: Factory, method: str, path: str
) -> None:
    url = re.sub(r"\{[^}]+\}", "1", path)
    answer = page_client_for(None).request(method, url)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    for role in (StaffRole.OPERATOR, StaffRole.DRIVER):
        assert page_client_for(make.staff(role)).request(method, url).status_code == 403


def test_window_picker_and_shop_show_the_group_card(page_client_for, world: World) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(world.resident)
    home = client.get("/")
    assert home.status_code == 200
    assert world.hood.name in home.text and f"/w/{world.window.id}" in home.text
    assert "data-until" in home.text
    shop = client.get(f"/w/{world.window.id}")
    assert shop.status_code == 200
    assert world.product.name in shop.text
    assert "10 more to unlock ¥9.90" in shop.text
    assert "If the group does not form, full refund by" in shop.text
    assert f'name="qty_{world.gb.id}"' in shop.text


def test_shop_speaks_chinese_for_a_chinese_resident(
    page_client_for, make: Factory, world: World
) -> None:  # type: ignore[no-untyped-def]
    resident = make.resident(world.hood, language="zh")
    shop = page_client_for(resident).get(f"/w/{world.window.id}")
    assert "再差 10 份解锁 ¥9.90" in shop.text


def _basket_key(text: str) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', text)
    assert match
    return match[1]


def test_a_double_tap_places_one_order(page_client_for, db: Session, world: World) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(world.resident)
    basket = client.get(f"/basket?window_id={world.window.id}&qty_{world.gb.id}=3")
    assert basket.status_code == 200 and "¥36.00" in basket.text
    form = {
        "window_id": str(world.window.id),
        "idempotency_key": _basket_key(basket.text),
        f"qty_{world.gb.id}": "3",
    }
    first = client.post("/basket", data=form)
    second = client.post("/basket", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    count = db.scalar(
        select(func.count()).select_from(Order).where(Order.resident_id == world.resident.id)
    )
    assert count == 1
    page = client.get(first.headers["location"])
    assert page.status_code == 200 and "Cancel order" in page.text and "Placed" in page.text


def test_cancel_before_the_cut_off(page_client_for, db: Session, world: World) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(world.resident)
    form = {"window_id": str(world.window.id), "idempotency_key": "k-1", f"qty_{world.gb.id}": "2"}
    order_url = client.post("/basket", data=form).headers["location"]
    answer = client.post(f"{order_url}/cancel")
    assert answer.status_code == 303
    order = db.scalar(select(Order).where(Order.resident_id == world.resident.id))
    assert order is not None and order.status == OrderStatus.CANCELLED
    assert "Refunded ¥24.00" in client.get(order_url).text


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/basket?window_id=abc", "window_id"),
        ("/basket?window_id={window}&qty_{gb}=-2", "qty_{gb}"),
        ("/basket?window_id={window}&qty_999999=1", "qty_999999"),
    ],
)
def test_bad_basket_input_names_the_field(
    page_client_for, world: World, url: str, field: str
) -> None:  # type: ignore[no-untyped-def]
    answer = page_client_for(world.resident).get(url.format(window=world.window.id, gb=world.gb.id))
    assert 400 <= answer.status_code < 500
    assert field.format(gb=world.gb.id) in answer.text


def test_an_empty_basket_cannot_be_placed(page_client_for, world: World) -> None:  # type: ignore[no-untyped-def]
    form = {"window_id": str(world.window.id), "idempotency_key": "k-2", f"qty_{world.gb.id}": "0"}
    answer = page_client_for(world.resident).post("/basket", data=form)
    assert answer.status_code == 422 and "lines" in answer.text


def test_another_residents_order_is_404(page_client_for, make: Factory, world: World) -> None:  # type: ignore[no-untyped-def]
    order = make.order(world.resident, [(world.gb, 1)])
    neighbour = make.resident(world.hood)
    client = page_client_for(neighbour)
    assert client.get(f"/my-orders/{order.id}").status_code == 404
    assert client.post(f"/my-orders/{order.id}/cancel").status_code == 404
    assert page_client_for(world.resident).get(f"/my-orders/{order.id}").status_code == 200
    assert f"/my-orders/{order.id}" not in client.get("/my-orders").text


def test_share_link_qr_and_its_public_preview(page_client_for, make: Factory, world: World) -> None:  # type: ignore[no-untyped-def]
    page = page_client_for(world.resident).get(f"/g/{world.gb.id}/share")
    assert page.status_code == 200 and "<svg" in page.text
    link = f"/s/{world.gb.share_token}"
    assert link in page.text
    stranger = page_client_for(None).get(link)
    assert stranger.status_code == 200
    assert world.product.name in stranger.text and world.hood.name in stranger.text
    assert world.resident.phone not in stranger.text and world.resident.name not in stranger.text
    assert "/login?next=" in stranger.text
    neighbour = page_client_for(make.resident(world.hood)).get(link)
    assert neighbour.status_code == 303
    assert neighbour.headers["location"] == f"/w/{world.window.id}#gb-{world.gb.id}"
    elsewhere = page_client_for(make.resident()).get(link)
    assert elsewhere.status_code == 404
    assert "another neighborhood" in elsewhere.text and world.product.name not in elsewhere.text


def test_share_of_another_neighborhoods_group_is_404(
    page_client_for, make: Factory, world: World
) -> None:  # type: ignore[no-untyped-def]
    assert page_client_for(make.resident()).get(f"/g/{world.gb.id}/share").status_code == 404


def test_sign_up_with_a_code_in_a_chosen_neighborhood(
    page_client_for, monkeypatch, db: Session, world: World
) -> None:  # type: ignore[no-untyped-def]
    sent: list[str] = []
    monkeypatch.setattr(
        signin.auth_service, "send_login_code", lambda *, issued: sent.append(issued.code)
    )
    client = page_client_for(None)
    asked = client.post("/login", data={"phone": "+86 138 0099 0011", "next": "/"})
    assert asked.status_code == 200 and "Enter your code" in asked.text and sent
    wrong = client.post("/login/code", data={"phone": "+8613800990011", "code": "000000"})
    assert wrong.status_code == 401
    choose = client.post("/login/code", data={"phone": "+8613800990011", "code": sent[-1]})
    assert choose.status_code == 200 and "/signup/neighborhoods" in choose.text
    listing = client.get(
        "/signup/neighborhoods", params={"q": world.hood.name}, headers={"HX-Request": "true"}
    )
    assert f'value="{world.hood.id}"' in listing.text and "<html" not in listing.text
    joined = client.post(
        "/signup",
        data={
            "phone": "+8613800990011",
            "code": sent[-1],
            "neighborhood_id": str(world.hood.id),
            "next": "/",
        },
    )
    assert joined.status_code == 303 and "pickup_session" in joined.headers["set-cookie"]
    resident = db.scalar(select(Resident).where(Resident.phone == "+8613800990011"))
    assert resident is not None and resident.neighborhood_id == world.hood.id


def test_bad_phone_names_the_field(page_client_for) -> None:  # type: ignore[no-untyped-def]
    answer = page_client_for(None).post("/login", data={"phone": "not a phone"})
    assert answer.status_code == 422 and "phone" in answer.text


def test_account_saves_language_and_sms_opt_out(page_client_for, db: Session, world: World) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(world.resident)
    answer = client.post("/account", data={"language": "zh", "name": "Li"})
    assert answer.status_code == 303 and "pickup_lang=zh" in answer.headers["set-cookie"]
    db.refresh(world.resident)
    assert world.resident.language == "zh" and world.resident.sms_consent is False
    assert "已保存" in client.get("/account?saved=1").text
    assert client.post("/account", data={"language": "fr"}).status_code == 422
