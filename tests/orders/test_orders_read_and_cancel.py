"""The ordering API: reading one's orders (and nobody else's), and cancelling before the cut-off."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.core.errors import Conflict
from app.events import service as event_service
from app.orders import service as order_service
from app.orders.models import LineStatus, OrderStatus
from app.orders.schemas import OrderCreate
from app.payments import service as payment_service
from app.payments.models import EntryKind, LedgerEntry
from tests.orders.ordering import count_rows, error_loc, place

# --- reading ---------------------------------------------------------------------------------


def test_list_is_mine_only_newest_first_and_paginated(world, make, client_for, db) -> None:  # type: ignore[no-untyped-def]
    neighbor = make.resident(world.hood)
    client = client_for(world.resident)
    ids = [place(client, world.window.id, [(world.gb.id, 1)]).json()["id"] for _ in range(3)]
    place(client_for(neighbor), world.window.id, [(world.gb.id, 1)])
    page = client.get("/orders", params={"limit": 2}).json()
    assert page["total"] == 3
    assert [o["id"] for o in page["items"]] == [ids[2], ids[1]]
    rest = client.get("/orders", params={"limit": 2, "offset": 2}).json()
    assert [o["id"] for o in rest["items"]] == [ids[0]]
    assert client.get("/orders", params={"limit": 0}).status_code == 422
    assert client.get("/orders", params={"limit": 1000}).status_code == 422


def test_get_my_order(world, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    order_id = place(client, world.window.id, [(world.gb.id, 2)]).json()["id"]
    response = client.get(f"/orders/{order_id}")
    assert response.status_code == 200
    assert response.json()["lines"][0]["quantity"] == 2


def test_idor_another_residents_order_is_404(world, make, client_for, db) -> None:  # type: ignore[no-untyped-def]
    victim = make.resident(world.hood)
    order = make.order(victim, [(world.gb, 2)])
    stranger = client_for(world.resident)
    assert stranger.get(f"/orders/{order.id}").status_code == 404
    assert stranger.post(f"/orders/{order.id}/cancel").status_code == 404
    assert stranger.get("/orders/999999").status_code == 404
    assert order.id not in [o["id"] for o in stranger.get("/orders").json()["items"]]
    db.refresh(order)
    assert order.status == OrderStatus.PLACED


def test_role_checks(world, make, client_for, anon_client, operator_client, driver_client) -> None:  # type: ignore[no-untyped-def]
    order = make.order(world.resident, [(world.gb, 1)])
    body = {"window_id": world.window.id, "lines": [{"group_buy_id": world.gb.id, "quantity": 1}]}
    for client, status in ((anon_client, 401), (operator_client, 403), (driver_client, 403)):
        assert client.post("/orders", json=body).status_code == status
        assert client.get("/orders").status_code == status
        assert client.get(f"/orders/{order.id}").status_code == status
        assert client.post(f"/orders/{order.id}/cancel").status_code == status
    bad_token = TestClient(anon_client.app, headers={"Authorization": "Bearer not-a-token"})
    assert bad_token.get("/orders").status_code == 401


# --- cancelling ------------------------------------------------------------------------------


def test_cancel_before_cutoff_releases_stock_and_refunds(world, client_for, db) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    order_id = place(client, world.window.id, [(world.gb.id, 4)]).json()["id"]
    response = client.post(f"/orders/{order_id}/cancel")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["charged_minor"] == 0
    assert [line["status"] for line in body["lines"]] == ["cancelled"]
    db.refresh(world.gb)
    assert world.gb.ordered_quantity == 0
    entries = payment_service.get_all_for_order(db_session=db, order_id=order_id)
    assert [(e.kind, e.amount_minor) for e in entries] == [
        (EntryKind.CHARGE, 4800),
        (EntryKind.REFUND, 4800),
    ]
    assert entries[1].idempotency_key == f"order:{order_id}:cancel"
    assert payment_service.balance(db_session=db, order_id=order_id) == 0
    kinds = [e.kind for e in event_service.get_all(db_session=db)]
    assert kinds == ["order.placed", "order.cancelled"]


def test_cancel_twice_is_409_and_refunds_once(world, client_for, db) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    order_id = place(client, world.window.id, [(world.gb.id, 4)]).json()["id"]
    assert client.post(f"/orders/{order_id}/cancel").status_code == 200
    again = client.post(f"/orders/{order_id}/cancel")
    assert again.status_code == 409
    assert error_loc(again) == ["body", "status"]
    assert len(payment_service.get_all_for_order(db_session=db, order_id=order_id)) == 2
    db.refresh(world.gb)
    assert world.gb.ordered_quantity == 0


def test_cancel_after_cutoff_is_409_and_changes_nothing(world, make, client_for, db) -> None:  # type: ignore[no-untyped-def]
    past = make.window(cutoff_in=timedelta(minutes=-5))
    gb = make.group_buy(neighborhood=world.hood, window=past)
    order = make.order(world.resident, [(gb, 2)])
    response = client_for(world.resident).post(f"/orders/{order.id}/cancel")
    assert response.status_code == 409
    assert error_loc(response) == ["body", "window_id"]
    db.refresh(order)
    db.refresh(gb)
    assert order.status == OrderStatus.PLACED
    assert gb.ordered_quantity == 2
    assert count_rows(db, LedgerEntry) == 0


def test_cancel_uses_the_now_it_is_given(world, db) -> None:  # type: ignore[no-untyped-def]
    order_in = OrderCreate.model_validate(
        {"window_id": world.window.id, "lines": [{"group_buy_id": world.gb.id, "quantity": 1}]}
    )
    order = order_service.place(db_session=db, resident=world.resident, order_in=order_in).order
    with pytest.raises(Conflict):
        order_service.cancel(
            db_session=db,
            resident_id=world.resident.id,
            order_id=order.id,
            now=world.window.cutoff_at,
        )
    cancelled = order_service.cancel(
        db_session=db,
        resident_id=world.resident.id,
        order_id=order.id,
        now=world.window.cutoff_at - timedelta(seconds=1),
    )
    assert cancelled.status == OrderStatus.CANCELLED
    assert all(line.status == LineStatus.CANCELLED for line in cancelled.lines)


def test_confirmed_order_cannot_be_cancelled(world, make, client_for) -> None:  # type: ignore[no-untyped-def]
    order = make.order(world.resident, [(world.gb, 1)], status=OrderStatus.CONFIRMED)
    response = client_for(world.resident).post(f"/orders/{order.id}/cancel")
    assert response.status_code == 409


def test_ids_beyond_the_database_range_are_422_not_500(world, client_for, operator_client) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    huge = 10**20
    assert client.get(f"/orders/{huge}").status_code == 422
    assert client.post(f"/orders/{huge}/cancel").status_code == 422
    assert operator_client.get(f"/orders/{huge}/ledger").status_code == 422
