"""Reads of the orders' tables for other packages: plain values, never the models."""

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.neighborhoods import queries as neighborhood_queries
from app.orders.models import Order, OrderLine, OrderStatus


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
