"""Closing a window: groups form or fail, orders settle at the tier reached; idempotent."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import Conflict
from app.events.models import OutboxEvent
from app.groupbuys import closing, pricing
from app.groupbuys.models import GroupBuy, GroupBuyStatus
from app.orders import service as order_service
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus
from app.orders.schemas import OrderCreate
from app.payments import service as payment_service
from app.payments.models import EntryKind, LedgerEntry
from app.windows.models import DeliveryWindow, WindowStatus
from tests.factories import Factory


def _order(
    db: Session, resident: Any, window: DeliveryWindow, lines: list[tuple[GroupBuy, int]]
) -> Order:
    """Place through the service, as a resident would, before the cut-off."""
    order_in = OrderCreate.model_validate(
        {
            "window_id": window.id,
            "lines": [{"group_buy_id": gb.id, "quantity": q} for gb, q in lines],
        }
    )
    now = window.cutoff_at - timedelta(hours=1)
    placed = order_service.place(db_session=db, resident=resident, order_in=order_in, now=now)
    return db.get_one(Order, placed.order.id)


def _after(window: DeliveryWindow) -> Any:
    return window.cutoff_at + timedelta(minutes=1)


def _snapshot(db: Session) -> dict[str, Any]:
    db.expire_all()
    return {
        "ledger": [
            (e.id, e.order_id, e.kind, e.amount_minor, e.idempotency_key)
            for e in db.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        ],
        "events": [
            (e.id, e.kind, e.dedupe_key, e.payload)
            for e in db.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
        ],
        "orders": [
            (o.id, o.status, o.charged_minor) for o in db.scalars(select(Order).order_by(Order.id))
        ],
        "lines": [
            (li.id, li.status, li.final_unit_price_minor)
            for li in db.scalars(select(OrderLine).order_by(OrderLine.id))
        ],
        "group_buys": [
            (g.id, g.status, g.final_unit_price_minor, g.finalized_at)
            for g in db.scalars(select(GroupBuy).order_by(GroupBuy.id))
        ],
    }


def test_refuses_before_the_cutoff(world, db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict) as info:
        closing.close_window(
            db_session=db,
            window_id=world.window.id,
            now=world.window.cutoff_at - timedelta(seconds=1),
        )
    assert info.value.field == "window_id"
    db.refresh(world.window)
    assert world.window.status == WindowStatus.OPEN


def test_formed_group_charges_the_tier_reached_and_refunds_the_difference(world, make, db) -> None:  # type: ignore[no-untyped-def]
    people = [world.resident, make.resident(world.hood), make.resident(world.hood)]
    orders = [
        _order(db, p, world.window, [(world.gb, q)]) for p, q in zip(people, (5, 6, 4), strict=True)
    ]
    summary = closing.close_window(
        db_session=db, window_id=world.window.id, now=_after(world.window)
    )

    db.refresh(world.gb)
    assert world.gb.status == GroupBuyStatus.FORMED
    assert world.gb.final_unit_price_minor == 990  # 15 units: the 10+ tier
    for order, quantity in zip(orders, (5, 6, 4), strict=True):
        db.refresh(order)
        assert order.status == OrderStatus.CONFIRMED
        assert order.charged_minor == 990 * quantity
        assert order.lines[0].status == LineStatus.CONFIRMED
        assert order.lines[0].final_unit_price_minor == 990
        entries = payment_service.get_all_for_order(db_session=db, order_id=order.id)
        assert [(e.kind, e.amount_minor, e.idempotency_key) for e in entries] == [
            (EntryKind.CHARGE, 1200 * quantity, f"order:{order.id}:placed"),
            (EntryKind.REFUND, 210 * quantity, f"order:{order.id}:close-diff"),
        ]
        assert payment_service.balance(db_session=db, order_id=order.id) == order.charged_minor
    assert (summary.group_buys_formed, summary.group_buys_failed) == (1, 0)
    assert (summary.orders_confirmed, summary.orders_group_failed) == (3, 0)
    assert summary.charged_minor == 990 * 15
    assert summary.refunded_at_close_minor == 210 * 15
    assert summary.window_status == WindowStatus.CLOSED
    db.refresh(world.window)
    assert world.window.status == WindowStatus.CLOSED
    assert world.window.closed_at == _after(world.window)

    formed = db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "group_buy.formed")).all()
    assert [
        (e.dedupe_key, e.payload["total_quantity"], e.payload["final_unit_price_minor"])
        for e in formed
    ] == [(f"group_buy:{world.gb.id}:formed", 15, 990)]
    confirmed = db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "order.confirmed")).all()
    assert {
        e.payload["order_id"]: (e.payload["charged_minor"], e.payload["refunded_minor"])
        for e in confirmed
    } == {o.id: (990 * q, 210 * q) for o, q in zip(orders, (5, 6, 4), strict=True)}


def test_exactly_at_the_top_tier_boundary(world, make, db) -> None:  # type: ignore[no-untyped-def]
    order = _order(db, world.resident, world.window, [(world.gb, 20)])
    closing.close_window(db_session=db, window_id=world.window.id, now=_after(world.window))
    db.refresh(order)
    assert order.lines[0].final_unit_price_minor == 890
    assert order.charged_minor == 20 * 890
    assert payment_service.balance(db_session=db, order_id=order.id) == 20 * 890


def test_minimum_exactly_reached_forms(make, db) -> None:  # type: ignore[no-untyped-def]
    hood = make.neighborhood()
    window = make.window()
    gb = make.group_buy(
        neighborhood=hood, window=window, min_quantity=7, tiers=[(1, 500), (10, 450)]
    )
    order = _order(db, make.resident(hood), window, [(gb, 7)])
    closing.close_window(db_session=db, window_id=window.id, now=_after(window))
    db.refresh(gb)
    db.refresh(order)
    assert gb.status == GroupBuyStatus.FORMED
    assert gb.final_unit_price_minor == 500  # formed, but below the first discount
    assert order.charged_minor == 3500
    assert [
        e.kind for e in payment_service.get_all_for_order(db_session=db, order_id=order.id)
    ] == [
        EntryKind.CHARGE  # nothing to refund
    ]


def test_minimum_not_reached_fails_and_refunds_everything(world, make, db) -> None:  # type: ignore[no-untyped-def]
    neighbor = make.resident(world.hood)
    a = _order(db, world.resident, world.window, [(world.gb, 5)])
    b = _order(db, neighbor, world.window, [(world.gb, 4)])  # 9 < 10
    summary = closing.close_window(
        db_session=db, window_id=world.window.id, now=_after(world.window)
    )
    db.refresh(world.gb)
    assert world.gb.status == GroupBuyStatus.FAILED
    assert world.gb.final_unit_price_minor is None
    for order in (a, b):
        db.refresh(order)
        assert order.status == OrderStatus.GROUP_FAILED
        assert order.charged_minor == 0
        assert order.lines[0].status == LineStatus.GROUP_FAILED
        entries = payment_service.get_all_for_order(db_session=db, order_id=order.id)
        assert [(e.kind, e.idempotency_key) for e in entries] == [
            (EntryKind.CHARGE, f"order:{order.id}:placed"),
            (EntryKind.REFUND, f"order:{order.id}:group-failed"),
        ]
        assert payment_service.balance(db_session=db, order_id=order.id) == 0
    kinds = sorted(e.kind for e in db.scalars(select(OutboxEvent)) if e.kind != "order.placed")
    assert kinds == ["group_buy.failed", "order.group_failed", "order.group_failed"]
    assert (summary.orders_group_failed, summary.charged_minor) == (2, 0)
    assert summary.refunded_at_close_minor == 9 * 1200


def test_an_order_with_one_formed_and_one_failed_line_is_confirmed_for_the_formed_one(
    world, make, db
) -> None:  # type: ignore[no-untyped-def]
    weak = make.group_buy(neighborhood=world.hood, window=world.window, min_quantity=50)
    order = _order(db, world.resident, world.window, [(world.gb, 12), (weak, 3)])
    closing.close_window(db_session=db, window_id=world.window.id, now=_after(world.window))
    db.refresh(order)
    assert order.status == OrderStatus.CONFIRMED
    by_gb = {line.group_buy_id: line for line in order.lines}
    assert by_gb[world.gb.id].status == LineStatus.CONFIRMED
    assert by_gb[world.gb.id].final_unit_price_minor == 990
    assert by_gb[weak.id].status == LineStatus.GROUP_FAILED
    assert order.charged_minor == 12 * 990
    refunds = [
        e
        for e in payment_service.get_all_for_order(db_session=db, order_id=order.id)
        if e.kind == EntryKind.REFUND
    ]
    assert [e.amount_minor for e in refunds] == [12 * 210 + 3 * 1200]
    assert payment_service.balance(db_session=db, order_id=order.id) == order.charged_minor


def test_cancelled_orders_and_other_windows_are_left_alone(world, make, db) -> None:  # type: ignore[no-untyped-def]
    neighbor = make.resident(world.hood)
    kept = _order(db, world.resident, world.window, [(world.gb, 10)])
    gone = _order(db, neighbor, world.window, [(world.gb, 3)])
    order_service.cancel(
        db_session=db,
        resident_id=neighbor.id,
        order_id=gone.id,
        now=world.window.cutoff_at - timedelta(minutes=5),
    )
    later = make.window(cutoff_in=timedelta(days=1))
    later_gb = make.group_buy(neighborhood=world.hood, window=later)
    later_order = _order(db, neighbor, later, [(later_gb, 1)])
    summary = closing.close_window(
        db_session=db, window_id=world.window.id, now=_after(world.window)
    )
    db.refresh(gone)
    db.refresh(kept)
    db.refresh(later_order)
    db.refresh(later_gb)
    assert gone.status == OrderStatus.CANCELLED
    assert len(payment_service.get_all_for_order(db_session=db, order_id=gone.id)) == 2
    assert kept.status == OrderStatus.CONFIRMED
    assert kept.charged_minor == 10 * 990  # the cancelled 3 units do not count toward the tier
    assert later_order.status == OrderStatus.PLACED
    assert later_gb.status == GroupBuyStatus.OPEN
    assert summary.orders_cancelled == 1


def test_closing_twice_changes_nothing(world, make, db) -> None:  # type: ignore[no-untyped-def]
    weak = make.group_buy(neighborhood=world.hood, window=world.window, min_quantity=50)
    other_hood = make.neighborhood()
    other_gb = make.group_buy(neighborhood=other_hood, window=world.window)
    _order(db, world.resident, world.window, [(world.gb, 12), (weak, 1)])
    _order(db, make.resident(world.hood), world.window, [(weak, 2)])
    _order(db, make.resident(other_hood), world.window, [(other_gb, 3)])
    first = closing.close_window(db_session=db, window_id=world.window.id, now=_after(world.window))
    before = _snapshot(db)
    second = closing.close_window(
        db_session=db, window_id=world.window.id, now=_after(world.window) + timedelta(hours=2)
    )
    assert _snapshot(db) == before
    assert first.neighborhoods_finalized_now == 2
    assert first.orders_finalized_now == 3
    assert (
        second.neighborhoods_finalized_now,
        second.group_buys_finalized_now,
        second.orders_finalized_now,
    ) == (0, 0, 0)
    unchanged = ("neighborhoods_finalized_now", "group_buys_finalized_now", "orders_finalized_now")
    assert {k: v for k, v in vars(second).items() if k not in unchanged} == {
        k: v for k, v in vars(first).items() if k not in unchanged
    }
    assert (first.group_buys_formed, first.group_buys_failed) == (1, 2)
    db.refresh(world.window)
    assert world.window.closed_at == _after(world.window)  # the second run did not move it


def test_resumes_after_a_crash_part_way(world, make, db) -> None:  # type: ignore[no-untyped-def]
    hood_b = make.neighborhood()
    gb_b = make.group_buy(neighborhood=hood_b, window=world.window, min_quantity=2)
    order_a = _order(db, world.resident, world.window, [(world.gb, 11)])
    order_b = _order(db, make.resident(hood_b), world.window, [(gb_b, 2)])
    now = _after(world.window)
    # The first run marked the window closing and finished neighborhood A, then died.
    world.window.status = WindowStatus.CLOSING
    closing.finalize_neighborhood(
        db_session=db, window_id=world.window.id, neighborhood_id=world.hood.id, now=now
    )
    db.commit()
    done_a = _snapshot(db)
    db.refresh(order_b)
    assert order_b.status == OrderStatus.PLACED

    summary = closing.close_window(
        db_session=db, window_id=world.window.id, now=now + timedelta(minutes=3)
    )
    assert summary.neighborhoods_finalized_now == 1
    assert summary.neighborhoods == 2
    after = _snapshot(db)
    a_ledger = [e for e in after["ledger"] if e[1] == order_a.id]
    assert a_ledger == [e for e in done_a["ledger"] if e[1] == order_a.id]
    db.refresh(order_b)
    db.refresh(world.window)
    assert order_b.status == OrderStatus.CONFIRMED
    assert world.window.status == WindowStatus.CLOSED
    assert summary.orders_confirmed == 2


def test_orders_after_closing_are_refused(world, make, db) -> None:  # type: ignore[no-untyped-def]
    closing.close_window(db_session=db, window_id=world.window.id, now=_after(world.window))
    order_in = OrderCreate.model_validate(
        {"window_id": world.window.id, "lines": [{"group_buy_id": world.gb.id, "quantity": 1}]}
    )
    with pytest.raises(Conflict) as info:
        order_service.place(
            db_session=db,
            resident=world.resident,
            order_in=order_in,
            now=world.window.cutoff_at - timedelta(hours=1),
        )
    assert info.value.field == "window_id"  # the window is closed even if the clock says otherwise


def test_a_window_without_group_buys_closes(make, db) -> None:  # type: ignore[no-untyped-def]
    window = make.window(cutoff_in=timedelta(minutes=-1))
    summary = closing.close_window(db_session=db, window_id=window.id)
    assert summary.window_status == WindowStatus.CLOSED
    assert summary.neighborhoods == 0


# --- over the API ----------------------------------------------------------------------------


def _past_window_with_order(
    make: Factory, world: Any, quantity: int
) -> tuple[DeliveryWindow, Order]:
    window = make.window(cutoff_in=timedelta(minutes=-2))
    gb = make.group_buy(neighborhood=world.hood, window=window)
    return window, make.order(world.resident, [(gb, quantity)])


def test_close_endpoint(world, make, operator_client, db) -> None:  # type: ignore[no-untyped-def]
    early = operator_client.post(f"/windows/{world.window.id}/close")
    assert early.status_code == 409
    assert early.json()["detail"][0]["loc"] == ["path", "window_id"]
    window, order = _past_window_with_order(make, world, 12)
    # make.order writes no ledger row; record the placement charge as the service would.
    payment_service.charge(
        db_session=db,
        order=order,
        amount_minor=order.paid_minor,
        key=f"order:{order.id}:placed",
        reason="test",
    )
    response = operator_client.post(f"/windows/{window.id}/close")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window_status"] == "closed"
    assert body["orders_confirmed"] == 1
    assert body["charged_minor"] == 12 * 990
    again = operator_client.post(f"/windows/{window.id}/close").json()
    assert again["neighborhoods_finalized_now"] == 0
    assert again["charged_minor"] == body["charged_minor"]

    ledger = operator_client.get(f"/orders/{order.id}/ledger")
    assert ledger.status_code == 200
    assert ledger.json()["balance_minor"] == 12 * 990
    assert [e["kind"] for e in ledger.json()["entries"]] == ["charge", "refund"]


def test_close_and_ledger_role_checks(
    world,
    make,
    client_for,
    operator_client,
    other_city_operator,
    resident_client,
    driver_client,
    anon_client,
) -> None:  # type: ignore[no-untyped-def]
    window, order = _past_window_with_order(make, world, 1)
    for client, status in ((resident_client, 403), (driver_client, 403), (anon_client, 401)):
        assert client.post(f"/windows/{window.id}/close").status_code == status
        assert client.get(f"/orders/{order.id}/ledger").status_code == status
    stranger = client_for(other_city_operator)
    assert stranger.post(f"/windows/{window.id}/close").status_code == 404
    assert stranger.get(f"/orders/{order.id}/ledger").status_code == 404
    assert window.status == WindowStatus.OPEN
    assert operator_client.post("/windows/999999/close").status_code == 404
    assert operator_client.get("/orders/999999/ledger").status_code == 404


@pytest.mark.parametrize("ordered", [2, 5, 9, 10, 19, 20, 35])
def test_the_price_formed_at_follows_the_pricing_rule_for_any_total(make, db, ordered) -> None:  # type: ignore[no-untyped-def]
    tiers = [(5, 1500), (10, 1200), (20, 990)]  # below the first tier, its price still applies
    window = make.window()
    gb = make.group_buy(window=window, tiers=tiers, min_quantity=1, ordered_quantity=ordered)
    closing.close_window(db_session=db, window_id=window.id, now=_after(window))
    db.refresh(gb)
    assert gb.status == GroupBuyStatus.FORMED
    expected = pricing.price_at([pricing.Tier(q, p) for q, p in tiers], ordered)
    assert gb.final_unit_price_minor == expected
