"""Reads of the orders' tables for other packages: plain values, never the models."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from app.core import bulk
from app.neighborhoods import queries as neighborhood_queries
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus


@dataclass(frozen=True)
class OrderTotals:
    """An order's resident, status and money."""

    id: int
    resident_id: int
    status: str
    currency: str
    paid_minor: int
    charged_minor: int | None


def order_totals_in_city(db_session: Session, order_id: int, city_id: int) -> OrderTotals | None:
    """The order's totals if it was placed in one of the city's neighborhoods, else None."""
    row = db_session.execute(
        select(
            Order.id,
            Order.resident_id,
            Order.status,
            Order.currency,
            Order.paid_minor,
            Order.charged_minor,
        ).where(
            Order.id == order_id,
            Order.neighborhood_id.in_(neighborhood_queries.neighborhood_ids_in_city(city_id)),
        )
    ).one_or_none()
    if row is None:
        return None
    order_id, resident_id, status, currency, paid_minor, charged_minor = row
    return OrderTotals(order_id, resident_id, status.value, currency, paid_minor, charged_minor)


_NEVER_CONFIRMED = (OrderStatus.PLACED, OrderStatus.CANCELLED, OrderStatus.GROUP_FAILED)


_CONFIRMED_OR_LATER = tuple(status for status in OrderStatus if status not in _NEVER_CONFIRMED)


@dataclass(frozen=True)
class WindowOrderTotals:
    """How a window's orders came out of the cut-off, and the money charged and refunded."""

    confirmed: int
    group_failed: int
    cancelled: int
    charged_minor: int
    refunded_at_close_minor: int


def window_order_totals(db_session: Session, window_id: int) -> WindowOrderTotals:
    """The window's orders counted by outcome, with what was charged and refunded at the close."""
    confirmed = Order.status.in_(_CONFIRMED_OR_LATER)
    settled = Order.status.in_((*_CONFIRMED_OR_LATER, OrderStatus.GROUP_FAILED))
    row = db_session.execute(
        select(
            func.count(case((confirmed, 1))),
            func.count(case((Order.status == OrderStatus.GROUP_FAILED, 1))),
            func.count(case((Order.status == OrderStatus.CANCELLED, 1))),
            func.coalesce(func.sum(case((confirmed, Order.charged_minor), else_=0)), 0),
            func.coalesce(
                func.sum(
                    case(
                        (settled, Order.paid_minor - func.coalesce(Order.charged_minor, 0)), else_=0
                    )
                ),
                0,
            ),
        ).where(Order.window_id == window_id)
    ).one()
    return WindowOrderTotals(
        confirmed=int(row[0]),
        group_failed=int(row[1]),
        cancelled=int(row[2]),
        charged_minor=int(row[3]),
        refunded_at_close_minor=int(row[4]),
    )


def count_lines_of_group_buy(db_session: Session, group_buy_id: int) -> int:
    """How many order lines were ever placed in the group buy."""
    return (
        db_session.scalar(
            select(func.count())
            .select_from(OrderLine)
            .where(OrderLine.group_buy_id == group_buy_id)
        )
        or 0
    )


__all__ = [
    "OrderLineView",
    "OrderStatus",
    "OrderView",
    "lines_of_order",
    "order_count_in_window",
    "order_view",
    "orders_page",
    "picked_lines_of_orders",
    "picked_quantity_by_product",
    "units_by_order",
]


NOT_PICKED = (LineStatus.CANCELLED, LineStatus.GROUP_FAILED)


@dataclass(frozen=True)
class OrderView:
    """An order's header (`status` as its string value)."""

    id: int
    resident_id: int
    window_id: int
    neighborhood_id: int
    status: str
    currency: str
    paid_minor: int
    charged_minor: int | None
    created_at: datetime
    updated_at: datetime


def _view(order: Order) -> OrderView:
    return OrderView(
        id=order.id,
        resident_id=order.resident_id,
        window_id=order.window_id,
        neighborhood_id=order.neighborhood_id,
        status=str(order.status.value),
        currency=order.currency,
        paid_minor=order.paid_minor,
        charged_minor=order.charged_minor,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def order_view(db_session: Session, order_id: int) -> OrderView | None:
    """The order with this id, or None."""
    order = db_session.get(Order, order_id)
    return _view(order) if order is not None else None


def orders_page(
    db_session: Session,
    *,
    window_id: int | None = None,
    resident_id: int | None = None,
    status: OrderStatus | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[list[OrderView], int]:
    """One page of the orders matching every filter given, newest first, and how many match."""
    where = []
    if window_id is not None:
        where.append(Order.window_id == window_id)
    if resident_id is not None:
        where.append(Order.resident_id == resident_id)
    if status is not None:
        where.append(Order.status == status)
    total = int(db_session.scalar(select(func.count()).select_from(Order).where(*where)) or 0)
    orders = db_session.scalars(
        select(Order).where(*where).order_by(Order.id.desc()).limit(limit).offset(offset)
    )
    return [_view(order) for order in orders], total


def order_count_in_window(db_session: Session, window_id: int) -> int:
    """How many orders the window has, whatever their status."""
    return int(
        db_session.scalar(
            select(func.count()).select_from(Order).where(Order.window_id == window_id)
        )
        or 0
    )


def units_by_order(db_session: Session, order_ids: Collection[int]) -> dict[int, int]:
    """The units ordered over every line of each of these orders (orders with lines only)."""
    if not order_ids:
        return {}
    rows = db_session.execute(
        select(OrderLine.order_id, func.sum(OrderLine.quantity))
        .where(OrderLine.order_id.in_(order_ids))
        .group_by(OrderLine.order_id)
    )
    return {order_id: int(quantity or 0) for order_id, quantity in rows}


@dataclass(frozen=True)
class OrderLineView:
    """An order line (`status` as its string value)."""

    id: int
    order_id: int
    group_buy_id: int
    product_id: int
    quantity: int
    paid_unit_price_minor: int
    final_unit_price_minor: int | None
    status: str


def _line_view(line: OrderLine) -> OrderLineView:
    return OrderLineView(
        id=line.id,
        order_id=line.order_id,
        group_buy_id=line.group_buy_id,
        product_id=line.product_id,
        quantity=line.quantity,
        paid_unit_price_minor=line.paid_unit_price_minor,
        final_unit_price_minor=line.final_unit_price_minor,
        status=str(line.status.value),
    )


def lines_of_order(db_session: Session, order_id: int) -> list[OrderLineView]:
    """Every line of the order, in id order."""
    lines = db_session.scalars(
        select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
    )
    return [_line_view(line) for line in lines]


def picked_lines_of_orders(db_session: Session, order_ids: Collection[int]) -> list[OrderLineView]:
    """The lines of these orders still to be picked (not cancelled, not group-failed), by id."""
    if not order_ids:
        return []
    lines = db_session.scalars(
        select(OrderLine)
        .where(OrderLine.order_id.in_(order_ids), OrderLine.status.not_in(NOT_PICKED))
        .order_by(OrderLine.id)
    )
    return [_line_view(line) for line in lines]


def picked_quantity_by_product(
    db_session: Session, order_ids: Select[int] | Collection[int]
) -> dict[int, int]:
    """Each product's units over the still-to-pick lines of these orders (a list or a query)."""
    rows = db_session.execute(
        select(OrderLine.product_id, func.sum(OrderLine.quantity))
        .where(OrderLine.order_id.in_(order_ids), OrderLine.status.not_in(NOT_PICKED))
        .group_by(OrderLine.product_id)
    )
    return {product_id: int(quantity) for product_id, quantity in rows}


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


def order_count_and_revenue_by_window(
    db_session: Session, window_ids: Collection[int], excluding: Collection[OrderStatus]
) -> dict[int, tuple[int, int]]:
    """(orders, money charged or else paid, minor units) of these windows' orders not in
    `excluding`, by window id (windows with such orders only)."""
    if not window_ids:
        return {}
    rows = db_session.execute(
        select(
            Order.window_id,
            func.count(),
            func.coalesce(func.sum(func.coalesce(Order.charged_minor, Order.paid_minor)), 0),
        )
        .where(Order.window_id.in_(list(window_ids)), Order.status.not_in(list(excluding)))
        .group_by(Order.window_id)
    )
    return {window_id: (int(n), int(money)) for window_id, n, money in rows}


def window_order_ids_in_status(
    db_session: Session, window_id: int, status: OrderStatus
) -> list[int]:
    """The ids of the window's orders in `status`, in id order."""
    return list(
        db_session.scalars(
            select(Order.id)
            .where(Order.window_id == window_id, Order.status == status)
            .order_by(Order.id)
        )
    )


@dataclass(frozen=True)
class OrderRecipient:
    """Whose an order is and where it is picked up."""

    id: int
    resident_id: int
    neighborhood_id: int


def order_recipients_in_status(
    db_session: Session, order_ids: Collection[int], status: OrderStatus
) -> list[OrderRecipient]:
    """Those of these orders still in `status`, with their resident and neighborhood."""
    rows = db_session.execute(
        select(Order.id, Order.resident_id, Order.neighborhood_id).where(
            bulk.among(db_session, Order.id, order_ids), Order.status == status
        )
    )
    return [OrderRecipient(*row) for row in rows]


def picked_line_quantities_query(
    db_session: Session, order_ids: Collection[int]
) -> Select[int, int, int]:
    """(order id, product id, quantity) of these orders' still-to-pick lines, as a subquery."""
    return select(OrderLine.order_id, OrderLine.product_id, OrderLine.quantity).where(
        bulk.among(db_session, OrderLine.order_id, order_ids),
        OrderLine.status.not_in(NOT_PICKED),
    )


def open_line_quantities_query(window_id: int, neighborhood_id: int) -> Select[int, int, int]:
    """(order id, product id, quantity) of the placed or confirmed lines of the neighborhood's
    placed or confirmed orders in the window, as a subquery."""
    return (
        select(Order.id.label("order_id"), OrderLine.product_id, OrderLine.quantity)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.window_id == window_id,
            Order.neighborhood_id == neighborhood_id,
            Order.status.in_([OrderStatus.PLACED, OrderStatus.CONFIRMED]),
            OrderLine.status.in_([LineStatus.PLACED, LineStatus.CONFIRMED]),
        )
    )


def confirmed_line_prices_query(order_id: int) -> Select[int, int, int | None, int]:
    """(product id, quantity, final and paid unit price) of the order's confirmed lines, as a
    subquery."""
    return select(
        OrderLine.product_id,
        OrderLine.quantity,
        OrderLine.final_unit_price_minor,
        OrderLine.paid_unit_price_minor,
    ).where(OrderLine.order_id == order_id, OrderLine.status == LineStatus.CONFIRMED)
