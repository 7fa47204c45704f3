"""Operators manage group buys: create, list, update while open, delete when nobody ordered."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.groupbuys.models import GroupBuy, GroupBuyStatus, PriceTier

TIERS = [
    {"min_quantity": 1, "unit_price_minor": 1200},
    {"min_quantity": 10, "unit_price_minor": 990},
    {"min_quantity": 20, "unit_price_minor": 890},
]


def _body(make: Any, **kw: Any) -> dict[str, Any]:
    body = {
        "neighborhood_id": kw.pop("neighborhood", None) or make.neighborhood().id,
        "window_id": kw.pop("window", None) or make.window().id,
        "product_id": kw.pop("product", None) or make.product().id,
        "min_quantity": 10,
        "stock_cap": 40,
        "tiers": TIERS,
    }
    body.update(kw)
    return body


def _loc(response: Any) -> list[str]:
    return [str(p) for p in response.json()["detail"][0]["loc"]]


def test_create_group_buy(make, operator_client, db) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.post("/group-buys", json=_body(make))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "open"
    assert body["ordered_quantity"] == 0
    assert [t["unit_price_display"] for t in body["tiers"]] == ["¥12.00", "¥9.90", "¥8.90"]
    assert len(body["share_token"]) == 32
    gb = db.get(GroupBuy, body["id"])
    assert [t.min_quantity for t in gb.tiers] == [1, 10, 20]


def test_duplicate_is_409(make, operator_client) -> None:  # type: ignore[no-untyped-def]
    body = _body(make)
    assert operator_client.post("/group-buys", json=body).status_code == 201
    again = operator_client.post("/group-buys", json=body)
    assert again.status_code == 409
    assert _loc(again) == ["body", "product_id"]


@pytest.mark.parametrize(
    ("change", "status", "loc"),
    [
        ({"tiers": []}, 422, ["body", "tiers"]),
        (
            {"tiers": [{"min_quantity": 2, "unit_price_minor": 100}]},
            422,
            ["body", "tiers", "0", "min_quantity"],
        ),
        (
            {
                "tiers": [
                    {"min_quantity": 1, "unit_price_minor": 100},
                    {"min_quantity": 5, "unit_price_minor": 100},
                ]
            },
            422,
            ["body", "tiers", "1", "unit_price_minor"],
        ),
        (
            {
                "tiers": [
                    {"min_quantity": 1, "unit_price_minor": 100},
                    {"min_quantity": 1, "unit_price_minor": 90},
                ]
            },
            422,
            ["body", "tiers", "1", "min_quantity"],
        ),
        (
            {"tiers": [{"min_quantity": 1, "unit_price_minor": -1}]},
            422,
            ["body", "tiers", "0", "unit_price_minor"],
        ),
        ({"min_quantity": 0}, 422, ["body", "min_quantity"]),
        ({"stock_cap": 5}, 422, ["body", "stock_cap"]),  # below the minimum of 10
        ({"stock_cap": -1}, 422, ["body", "stock_cap"]),
        ({"neighborhood_id": 999_999}, 422, ["body", "neighborhood_id"]),
        ({"product_id": 999_999}, 422, ["body", "product_id"]),
        ({"window_id": 999_999}, 422, ["body", "window_id"]),
        ({"window_id": "past"}, 409, ["body", "window_id"]),
        ({"neighborhood_id": "other city"}, 422, ["body", "neighborhood_id"]),
        ({"product_id": "withdrawn"}, 422, ["body", "product_id"]),
        ({"colour": "red"}, 422, ["body", "colour"]),
    ],
)
def test_bad_create_is_4xx_naming_the_field(change, status, loc, make, operator_client, db) -> None:  # type: ignore[no-untyped-def]
    replacements = {
        "past": lambda: make.window(cutoff_in=timedelta(minutes=-1)).id,
        "other city": lambda: make.neighborhood(city=make.city()).id,
        "withdrawn": lambda: make.product(active=False).id,
    }
    change = {
        k: replacements[v]() if isinstance(v, str) and v in replacements else v
        for k, v in change.items()
    }
    response = operator_client.post("/group-buys", json=_body(make, **change))
    assert response.status_code == status, response.text
    assert _loc(response) == loc
    assert db.scalar(select(GroupBuy.id)) is None


def test_list_and_filter(make, operator_client) -> None:  # type: ignore[no-untyped-def]
    w1, w2 = make.window(), make.window()
    h1, h2 = make.neighborhood(), make.neighborhood()
    ids = {(w, h): make.group_buy(neighborhood=h, window=w).id for w in (w1, w2) for h in (h1, h2)}
    make.group_buy(neighborhood=make.neighborhood(city=make.city()))  # another city: never listed
    page = operator_client.get("/group-buys").json()
    assert page["total"] == 4
    by_window = operator_client.get("/group-buys", params={"window_id": w1.id}).json()
    assert {g["id"] for g in by_window["items"]} == {ids[(w1, h1)], ids[(w1, h2)]}
    both = operator_client.get(
        "/group-buys", params={"window_id": w2.id, "neighborhood_id": h1.id}
    ).json()
    assert [g["id"] for g in both["items"]] == [ids[(w2, h1)]]
    assert operator_client.get("/group-buys", params={"status": "formed"}).json()["total"] == 0
    paged = operator_client.get("/group-buys", params={"limit": 3, "offset": 3}).json()
    assert (len(paged["items"]), paged["total"]) == (1, 4)
    assert operator_client.get("/group-buys", params={"status": "weird"}).status_code == 422


def test_update_cap_tiers_and_minimum(world, make, operator_client, db) -> None:  # type: ignore[no-untyped-def]
    make.order(world.resident, [(world.gb, 12)])
    url = f"/group-buys/{world.gb.id}"
    low = operator_client.patch(url, json={"stock_cap": 11})
    assert low.status_code == 422
    assert _loc(low) == ["body", "stock_cap"]
    assert low.json()["detail"][0]["ctx"]["ordered_quantity"] == 12
    ok = operator_client.patch(url, json={"stock_cap": 12})
    assert ok.status_code == 200, ok.text
    assert ok.json()["stock_cap"] == 12
    new_tiers = [
        {"min_quantity": 1, "unit_price_minor": 1100},
        {"min_quantity": 10, "unit_price_minor": 950},
    ]
    response = operator_client.patch(url, json={"tiers": new_tiers, "min_quantity": 8})
    assert response.status_code == 200, response.text
    assert [(t["min_quantity"], t["unit_price_minor"]) for t in response.json()["tiers"]] == [
        (1, 1100),
        (10, 950),
    ]
    assert response.json()["min_quantity"] == 8
    assert (
        len(db.scalars(select(PriceTier).where(PriceTier.group_buy_id == world.gb.id)).all()) == 2
    )
    uncapped = operator_client.patch(url, json={"stock_cap": None})
    assert uncapped.json()["stock_cap"] is None
    bad = operator_client.patch(
        url,
        json={
            "tiers": [
                {"min_quantity": 1, "unit_price_minor": 100},
                {"min_quantity": 5, "unit_price_minor": 200},
            ]
        },
    )
    assert bad.status_code == 422
    assert _loc(bad) == ["body", "tiers", "1", "unit_price_minor"]
    assert operator_client.patch(url, json={"min_quantity": None}).status_code == 422


def test_update_only_while_open(world, operator_client, db) -> None:  # type: ignore[no-untyped-def]
    world.gb.status = GroupBuyStatus.FORMED
    db.flush()
    response = operator_client.patch(f"/group-buys/{world.gb.id}", json={"min_quantity": 3})
    assert response.status_code == 409
    assert _loc(response) == ["body", "status"]


def test_update_refused_past_cutoff(make, operator_client) -> None:  # type: ignore[no-untyped-def]
    gb = make.group_buy(window=make.window(cutoff_in=timedelta(minutes=-1)))
    response = operator_client.patch(f"/group-buys/{gb.id}", json={"min_quantity": 3})
    assert response.status_code == 409
    assert _loc(response) == ["body", "window_id"]


def test_delete_only_without_orders(world, make, operator_client, db) -> None:  # type: ignore[no-untyped-def]
    make.order(world.resident, [(world.gb, 1)])
    refused = operator_client.delete(f"/group-buys/{world.gb.id}")
    assert refused.status_code == 409
    assert db.get(GroupBuy, world.gb.id) is not None
    empty = make.group_buy()
    assert operator_client.delete(f"/group-buys/{empty.id}").status_code == 204
    db.expire_all()
    assert db.get(GroupBuy, empty.id) is None
    assert db.scalar(select(PriceTier.id).where(PriceTier.group_buy_id == empty.id)) is None
    assert operator_client.delete(f"/group-buys/{empty.id}").status_code == 404


def test_operators_of_another_city_see_nothing(world, client_for, other_city_operator) -> None:  # type: ignore[no-untyped-def]
    stranger = client_for(other_city_operator)
    assert stranger.get(f"/group-buys/{world.gb.id}").status_code == 404
    assert stranger.patch(f"/group-buys/{world.gb.id}", json={"min_quantity": 3}).status_code == 404
    assert stranger.delete(f"/group-buys/{world.gb.id}").status_code == 404
    assert stranger.get("/group-buys").json()["total"] == 0


def test_role_checks(world, make, resident_client, driver_client, anon_client) -> None:  # type: ignore[no-untyped-def]
    body = _body(make)
    for client, status in ((resident_client, 403), (driver_client, 403), (anon_client, 401)):
        assert client.post("/group-buys", json=body).status_code == status
        assert client.get("/group-buys").status_code == status
        assert client.get(f"/group-buys/{world.gb.id}").status_code == status
        assert (
            client.patch(f"/group-buys/{world.gb.id}", json={"min_quantity": 1}).status_code
            == status
        )
        assert client.delete(f"/group-buys/{world.gb.id}").status_code == status
