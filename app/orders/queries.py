"""Reads of orders for other packages: plain values, never the rows."""

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.orders.models import Order, OrderLine, OrderStatus

# Statuses of an order that was confirmed at the cut-off (it may have moved on since): every
# status but those of an order never confirmed.
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


def window_order_totals(*, db_session: Session, window_id: int) -> WindowOrderTotals:
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


def count_lines_of_group_buy(*, db_session: Session, group_buy_id: int) -> int:
    """How many order lines were ever placed in the group buy."""
    return (
        db_session.scalar(
            select(func.count())
            .select_from(OrderLine)
            .where(OrderLine.group_buy_id == group_buy_id)
        )
        or 0
    )
