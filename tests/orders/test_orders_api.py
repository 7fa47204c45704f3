"""Residents' orders over the API: placing, idempotency, bad input (reading and cancelling:
test_orders_read_and_cancel.py)."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.core.errors import Conflict
from app.events import service as event_service
from app.events.models import OutboxEvent
from app.groupbuys.models import GroupBuy
from app.orders import service as order_service
from app.orders.models import Order, OrderLine
from app.orders.schemas import OrderCreate
from app.payments import service as payment_service
from app.payments.models import EntryKind, LedgerEntry
from tests.factories import Factory
from tests.orders.ordering import count_rows, error_loc, place


def test_place_order_charges_entry_price_and_reserves_stock(world, client_for, db) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    response = place(client, world.window.id, [(world.gb.id, 3)], key="k-1")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "placed"
    assert body["paid_minor"] == 3 * 1200
    assert body["paid_display"] == "¥36.00"
    assert body["charged_minor"] is None
    assert body["lines"][0]["paid_unit_price_minor"] == 1200
    assert body["lines"][0]["product_name"] == world.product.name
    db.refresh(world.gb)
    assert world.gb.ordered_quantity == 3
    entries = payment_service.get_all_for_order(db_session=db, order_id=body["id"])
    assert [(e.kind, e.amount_minor, e.idempotency_key) for e in entries] == [
        (EntryKind.CHARGE, 3600, f"order:{body['id']}:placed")
    ]
    assert [e.kind for e in event_service.get_all(db_session=db)] == ["order.placed"]


def test_same_key_same_body_replays_first_result(world, client_for, db) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    first = place(client, world.window.id, [(world.gb.id, 2)], key="retry-me")
    again = place(client, world.window.id, [(world.gb.id, 2)], key="retry-me")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_rows(db, Order) == 1
    assert count_rows(db, LedgerEntry) == 1
    db.refresh(world.gb)
    assert world.gb.ordered_quantity == 2


def test_same_key_other_body_is_409_naming_the_header(world, client_for, db) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    assert place(client, world.window.id, [(world.gb.id, 2)], key="k").status_code == 201
    response = place(client, world.window.id, [(world.gb.id, 5)], key="k")
    assert response.status_code == 409
    assert error_loc(response) == ["header", "Idempotency-Key"]
    assert count_rows(db, Order) == 1
    db.refresh(world.gb)
    assert world.gb.ordered_quantity == 2


def test_keys_are_per_resident_and_optional(world, make, client_for, db) -> None:  # type: ignore[no-untyped-def]
    neighbor = make.resident(world.hood)
    assert (
        place(client_for(world.resident), world.window.id, [(world.gb.id, 1)], "same").status_code
        == 201
    )
    assert (
        place(client_for(neighbor), world.window.id, [(world.gb.id, 1)], "same").status_code == 201
    )
    client = client_for(world.resident)
    assert place(client, world.window.id, [(world.gb.id, 1)]).status_code == 201
    assert place(client, world.window.id, [(world.gb.id, 1)]).status_code == 201
    assert count_rows(db, Order) == 4


def _bad_cases(make: Factory, world: Any) -> dict[str, tuple[dict[str, Any], int, list[str]]]:
    """name -> (request body, expected status, expected loc)."""
    gb = world.gb
    w = world.window.id
    other_hood_gb = make.group_buy(window=world.window)
    other_window_gb = make.group_buy(neighborhood=world.hood, window=make.window())
    second_gb = make.group_buy(neighborhood=world.hood, window=world.window)
    closed_window = make.window(cutoff_in=timedelta(minutes=-1))
    closed_gb = make.group_buy(neighborhood=world.hood, window=closed_window)
    other_city_window = make.window(city=make.city())
    gone_product = make.product(active=False)
    gone_gb = make.group_buy(neighborhood=world.hood, window=world.window, product=gone_product)

    def body(lines: list[tuple[Any, Any]], window_id: Any = w) -> dict[str, Any]:
        return {
            "window_id": window_id,
            "lines": [{"group_buy_id": g, "quantity": q} for g, q in lines],
        }

    return {
        "empty lines": (body([]), 422, ["body", "lines"]),
        "zero quantity": (body([(gb.id, 0)]), 422, ["body", "lines", "0", "quantity"]),
        "negative quantity": (body([(gb.id, -2)]), 422, ["body", "lines", "0", "quantity"]),
        "quantity over max": (body([(gb.id, 101)]), 422, ["body", "lines", "0", "quantity"]),
        "quantity as text": (body([(gb.id, "3")]), 422, ["body", "lines", "0", "quantity"]),
        "fractional quantity": (body([(gb.id, 1.5)]), 422, ["body", "lines", "0", "quantity"]),
        "unknown group buy": (
            body([(gb.id, 1), (999_999, 1)]),
            422,
            ["body", "lines", "1", "group_buy_id"],
        ),
        "other neighborhood": (
            body([(other_hood_gb.id, 1)]),
            403,
            ["body", "lines", "0", "group_buy_id"],
        ),
        "lines of another window": (
            body([(gb.id, 1), (other_window_gb.id, 1)]),
            422,
            ["body", "lines", "1", "group_buy_id"],
        ),
        "duplicate group buy": (
            body([(gb.id, 1), (second_gb.id, 1), (gb.id, 2)]),
            422,
            ["body", "lines", "2", "group_buy_id"],
        ),
        "too many lines": (body([(gb.id, 1)] * 51), 422, ["body", "lines"]),
        "window past cut-off": (
            body([(closed_gb.id, 1)], closed_window.id),
            409,
            ["body", "window_id"],
        ),
        "unknown window": (body([(gb.id, 1)], 888_888), 422, ["body", "window_id"]),
        "window of another city": (
            body([(gb.id, 1)], other_city_window.id),
            422,
            ["body", "window_id"],
        ),
        "over stock": (
            body([(second_gb.id, 1), (gb.id, 41)]),
            409,
            ["body", "lines", "1", "quantity"],
        ),
        "product withdrawn": (body([(gone_gb.id, 1)]), 409, ["body", "lines", "0", "group_buy_id"]),
        "missing window": (
            {"lines": [{"group_buy_id": gb.id, "quantity": 1}]},
            422,
            ["body", "window_id"],
        ),
        "unknown field": (
            {**body([(gb.id, 1)]), "discount": 50},
            422,
            ["body", "discount"],
        ),
        "lines not a list": ({"window_id": w, "lines": "lots"}, 422, ["body", "lines"]),
        "window id beyond any id": (body([(gb.id, 1)], 10**20), 422, ["body", "window_id"]),
        "group buy id beyond any id": (
            body([(2**31, 1)]),
            422,
            ["body", "lines", "0", "group_buy_id"],
        ),
    }


CASES = [
    "empty lines",
    "zero quantity",
    "negative quantity",
    "quantity over max",
    "quantity as text",
    "fractional quantity",
    "unknown group buy",
    "other neighborhood",
    "lines of another window",
    "duplicate group buy",
    "too many lines",
    "window past cut-off",
    "unknown window",
    "window of another city",
    "over stock",
    "product withdrawn",
    "missing window",
    "unknown field",
    "lines not a list",
    "window id beyond any id",
    "group buy id beyond any id",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_4xx_naming_the_field_and_writes_nothing(
    case, world, make, client_for, db
) -> None:  # type: ignore[no-untyped-def]
    body, status, loc = _bad_cases(make, world)[case]
    world.gb.stock_cap = 40
    db.flush()
    quantities_before = dict(db.execute(select(GroupBuy.id, GroupBuy.ordered_quantity)).all())
    response = client_for(world.resident).post("/orders", json=body)
    assert response.status_code == status, response.text
    assert error_loc(response) == loc
    assert response.json()["detail"][0]["msg"]
    assert count_rows(db, Order) == count_rows(db, OrderLine) == count_rows(db, LedgerEntry) == 0
    assert count_rows(db, OutboxEvent) == 0
    db.expire_all()
    assert (
        dict(db.execute(select(GroupBuy.id, GroupBuy.ordered_quantity)).all()) == quantities_before
    )


def test_over_stock_says_what_is_left(world, make, client_for, db) -> None:  # type: ignore[no-untyped-def]
    neighbor = make.resident(world.hood)
    assert place(client_for(neighbor), world.window.id, [(world.gb.id, 37)]).status_code == 201
    response = place(client_for(world.resident), world.window.id, [(world.gb.id, 4)])
    assert response.status_code == 409
    assert response.json()["detail"][0]["ctx"]["remaining"] == 3
    assert place(client_for(world.resident), world.window.id, [(world.gb.id, 3)]).status_code == 201
    db.refresh(world.gb)
    assert world.gb.ordered_quantity == 40


def test_inactive_neighborhood_cannot_order(world, client_for, db) -> None:  # type: ignore[no-untyped-def]
    world.hood.active = False
    db.flush()  # the order's reads run on the connection, with no ORM autoflush
    response = place(client_for(world.resident), world.window.id, [(world.gb.id, 1)])
    assert response.status_code == 409
    assert error_loc(response) == ["body", "neighborhood_id"]


def test_bad_idempotency_key_is_422_naming_the_header(world, client_for) -> None:  # type: ignore[no-untyped-def]
    response = place(client_for(world.resident), world.window.id, [(world.gb.id, 1)], key="x" * 81)
    assert response.status_code == 422
    assert error_loc(response) == ["header", "Idempotency-Key"]


def test_oversized_payload_is_413(world, client_for) -> None:  # type: ignore[no-untyped-def]
    body = {"window_id": world.window.id, "lines": [{"group_buy_id": 1, "quantity": 1}] * 5000}
    response = client_for(world.resident).post("/orders", json=body)
    assert response.status_code == 413


def test_a_stock_race_lost_mid_order_undoes_the_whole_order(world, make, db) -> None:  # type: ignore[no-untyped-def]
    """Validation saw room, but another order took the last units before our UPDATE ran."""
    second = make.group_buy(neighborhood=world.hood, window=world.window, stock_cap=5)
    # Fill the second group buy behind the session's back: its in-memory copy still shows 0.
    db.execute(
        update(GroupBuy)
        .where(GroupBuy.id == second.id)
        .values(ordered_quantity=5)
        .execution_options(synchronize_session=False)
    )
    assert second.ordered_quantity == 0
    order_in = OrderCreate.model_validate(
        {
            "window_id": world.window.id,
            "lines": [
                {"group_buy_id": world.gb.id, "quantity": 2},
                {"group_buy_id": second.id, "quantity": 1},
            ],
        }
    )
    with pytest.raises(Conflict) as info:
        order_service.place(db_session=db, resident=world.resident, order_in=order_in)
    assert info.value.field == "lines.1.quantity"
    assert info.value.extra["remaining"] == 0
    assert count_rows(db, Order) == count_rows(db, OrderLine) == count_rows(db, LedgerEntry) == 0
    assert db.scalar(select(GroupBuy.ordered_quantity).where(GroupBuy.id == world.gb.id)) == 0
