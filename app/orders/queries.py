"""Reads of the orders for other packages: plain values, never the models."""

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.orders.models import LineStatus, Order, OrderLine, OrderStatus


def placed_buyers(
    db_session: Session, window_id: int, group_buy_ids: Collection[int]
) -> list[tuple[int, int]]:
    """(resident id, group buy id) of the placed lines of placed orders in the window for
    these group buys, by resident then group buy."""
    if not group_buy_ids:
        return []
    rows = db_session.execute(
        select(Order.resident_id, OrderLine.group_buy_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.window_id == window_id,
            Order.status == OrderStatus.PLACED,
            OrderLine.status == LineStatus.PLACED,
            OrderLine.group_buy_id.in_(set(group_buy_ids)),
        )
        .order_by(Order.resident_id, OrderLine.group_buy_id)
    )
    return [(resident_id, group_buy_id) for resident_id, group_buy_id in rows]
