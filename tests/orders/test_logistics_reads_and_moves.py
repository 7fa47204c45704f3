"""The orders' reads and moves logistics uses: packing, capacity, the van leaving, settlement."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.orders import delivery
from app.orders import queries as order_queries
from app.orders.models import LineStatus, Order, OrderStatus
from tests.factories import Factory


def _order(make: Factory, status: OrderStatus, quantity: int = 2) -> Order:
    hood = make.neighborhood()
    gb = make.group_buy(neighborhood=hood, tiers=[(1, 500)])
    return make.order(make.resident(hood), [(gb, quantity)], status=status)


def test_window_orders_recipients_and_line_subqueries(db: Session, make: Factory) -> None:
    confirmed = _order(make, OrderStatus.CONFIRMED, quantity=3)
    window_id, hood_id = confirmed.window_id, confirmed.neighborhood_id
    [line] = confirmed.lines
    line.status, line.final_unit_price_minor = LineStatus.CONFIRMED, 450
    db.flush()
    assert order_queries.window_order_ids_in_status(db, window_id, OrderStatus.CONFIRMED) == [
        confirmed.id
    ]
    assert order_queries.window_order_ids_in_status(db, window_id, OrderStatus.PACKED) == []
    [recipient] = order_queries.order_recipients_in_status(
        db, [confirmed.id], OrderStatus.CONFIRMED
    )
    assert recipient == order_queries.OrderRecipient(confirmed.id, confirmed.resident_id, hood_id)
    picked = order_queries.picked_line_quantities_query(db, [confirmed.id])
    assert [tuple(r) for r in db.execute(picked)] == [(confirmed.id, line.product_id, 3)]
    open_lines = order_queries.open_line_quantities_query(window_id, hood_id).subquery()
    assert [tuple(r) for r in db.execute(select(open_lines))] == [
        (confirmed.id, line.product_id, 3)
    ]
    prices = order_queries.confirmed_line_prices_query(confirmed.id)
    assert [tuple(r) for r in db.execute(prices)] == [(line.product_id, 3, 450, 500)]


def test_packed_orders_go_out_for_delivery(db: Session, make: Factory) -> None:
    packed, placed = _order(make, OrderStatus.PACKED), _order(make, OrderStatus.PLACED)
    ids = select(Order.id).where(Order.id.in_([packed.id, placed.id]))
    delivery.send_out_for_delivery(db_session=db, order_ids=ids)
    assert (packed.status, placed.status) == (OrderStatus.OUT_FOR_DELIVERY, OrderStatus.PLACED)


def test_settled_orders_end_undelivered_or_follow_their_parcels(db: Session, make: Factory) -> None:
    lost, delivered = _order(make, OrderStatus.PACKED), _order(make, OrderStatus.PACKED)
    locked = delivery.lock_for_settlement(db_session=db, order_id=lost.id)
    assert locked == delivery.SettlingOrder(lost.id, lost.resident_id, "CNY", OrderStatus.PACKED)
    assert delivery.lock_for_settlement(db_session=db, order_id=0) is None
    assert delivery.mark_undelivered(db_session=db, order_id=lost.id) is True
    assert lost.status == OrderStatus.UNDELIVERED
    assert delivery.mark_undelivered(db_session=db, order_id=lost.id) is False
    delivery.follow_delivered_parcels(
        db_session=db, order_id=delivered.id, target=OrderStatus.COLLECTED
    )
    assert delivered.status == OrderStatus.COLLECTED
    delivery.follow_delivered_parcels(db_session=db, order_id=lost.id, target=OrderStatus.EXPIRED)
    assert lost.status == OrderStatus.UNDELIVERED
