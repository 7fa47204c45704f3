"""Settling a window's placed orders at its cut-off, set-based: each line priced at its group
buy's outcome, each order confirmed or failed (`app.groupbuys.closing` decides the outcomes)."""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select, update
from sqlalchemy.orm import Session, aliased

from app.core import bulk
from app.groupbuys import queries as groupbuy_queries
from app.orders import states
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus


@dataclass(frozen=True)
class SettledLine:
    """One order line as the cut-off left it."""

    group_buy_id: int
    product_id: int
    quantity: int
    status: LineStatus
    final_unit_price_minor: int | None


@dataclass(frozen=True)
class SettledOrder:
    """One order as the cut-off left it: confirmed with what it costs, or group-failed."""

    order_id: int
    resident_id: int
    neighborhood_id: int
    currency: str
    status: OrderStatus
    paid_minor: int
    charged_minor: int
    lines: tuple[SettledLine, ...]


def settle_placed_orders(
    *,
    db_session: Session,
    window_id: int,
    neighborhood_ids: Collection[int],
    now: datetime,
) -> list[SettledOrder]:
    """Price each placed order's placed lines at their group's outcome (the unit price it
    formed at, never more than the resident paid; nothing when it did not form), confirm the
    orders that cost something and fail the others; in order of id.

    Two statements computed in the database, orders first (the lock order of every order
    change): only orders and lines still placed move, so a second run moves nothing.
    """
    prices = groupbuy_queries.cutoff_formed_unit_prices()
    placed = aliased(Order)
    charges = (
        select(
            OrderLine.order_id,
            func.sum(func.coalesce(_final_price(prices), 0) * OrderLine.quantity).label("charged"),
        )
        .join(placed, placed.id == OrderLine.order_id)
        .join(prices, prices.c.group_buy_id == OrderLine.group_buy_id)
        .where(
            placed.window_id == window_id,
            placed.neighborhood_id.in_(neighborhood_ids),
            placed.status == OrderStatus.PLACED,
            OrderLine.status == LineStatus.PLACED,
        )
        .group_by(OrderLine.order_id)
        .subquery("charges")
    )
    # Plain rows straight from the connection: no ORM loading of 10,000s of returned rows.
    db_session.flush()
    connection = db_session.connection()
    orders = connection.execute(
        update(Order)
        .where(Order.id == charges.c.order_id, Order.status == OrderStatus.PLACED)
        .values(
            status=case(
                (charges.c.charged > 0, _order_status(OrderStatus.CONFIRMED)),
                else_=_order_status(OrderStatus.GROUP_FAILED),
            ),
            charged_minor=charges.c.charged,
            updated_at=now,
        )
        .returning(
            Order.id,
            Order.resident_id,
            Order.neighborhood_id,
            Order.currency,
            Order.status,
            Order.paid_minor,
            Order.charged_minor,
        )
    ).all()
    if not orders:
        return []
    for to in {order.status for order in orders}:
        if not states.can_transition(OrderStatus.PLACED, to):  # pragma: no cover - a rule change
            raise states.IllegalTransition(f"orders: placed -> {to.value}")
    lines = connection.execute(
        update(OrderLine)
        .where(
            OrderLine.group_buy_id == prices.c.group_buy_id,
            OrderLine.status == LineStatus.PLACED,
            bulk.among(db_session, OrderLine.order_id, [order.id for order in orders]),
        )
        .values(
            status=case(
                (prices.c.unit_price_minor.is_(None), _line_status(LineStatus.GROUP_FAILED)),
                else_=_line_status(LineStatus.CONFIRMED),
            ),
            final_unit_price_minor=_final_price(prices),
        )
        .returning(
            OrderLine.order_id,
            OrderLine.id,
            OrderLine.group_buy_id,
            OrderLine.product_id,
            OrderLine.quantity,
            OrderLine.status,
            OrderLine.final_unit_price_minor,
        )
    ).all()
    lines_of: dict[int, list[SettledLine]] = defaultdict(list)
    for line in sorted(lines, key=lambda row: row.id):
        lines_of[line.order_id].append(
            SettledLine(
                group_buy_id=line.group_buy_id,
                product_id=line.product_id,
                quantity=line.quantity,
                status=line.status,
                final_unit_price_minor=line.final_unit_price_minor,
            )
        )
    return [
        SettledOrder(
            order_id=order.id,
            resident_id=order.resident_id,
            neighborhood_id=order.neighborhood_id,
            currency=order.currency,
            status=order.status,
            paid_minor=order.paid_minor,
            charged_minor=order.charged_minor or 0,
            lines=tuple(lines_of[order.id]),
        )
        for order in sorted(orders, key=lambda row: row.id)
    ]


def _final_price(prices: Any) -> ColumnElement[Any]:
    """A placed line's price: its group's formed price, at most what was paid; NULL if none."""
    formed = prices.c.unit_price_minor
    return case(
        (formed.is_(None), None),
        (formed < OrderLine.paid_unit_price_minor, formed),
        else_=OrderLine.paid_unit_price_minor,
    )


def _order_status(status: OrderStatus) -> ColumnElement[Any]:
    return literal(status, Order.__table__.c.status.type)


def _line_status(status: LineStatus) -> ColumnElement[Any]:
    return literal(status, OrderLine.__table__.c.status.type)
