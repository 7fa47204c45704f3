"""What a window's close did: totals read back from the stored state (`summarize`), plus what
the current run changed, per neighborhood (`app.groupbuys.closing` does the closing)."""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.groupbuys.models import GroupBuy, GroupBuyStatus
from app.orders.models import Order, OrderStatus
from app.windows.models import DeliveryWindow, WindowStatus
from app.windows.service import WindowNotFound

# Statuses of an order that was confirmed at the cut-off (it may have moved on since): every
# status but those of an order never confirmed.
_NEVER_CONFIRMED = (OrderStatus.PLACED, OrderStatus.CANCELLED, OrderStatus.GROUP_FAILED)
_CONFIRMED_OR_LATER = tuple(status for status in OrderStatus if status not in _NEVER_CONFIRMED)


@dataclass(frozen=True)
class NeighborhoodOutcome:
    neighborhood_id: int
    group_buys_formed: int
    group_buys_failed: int
    orders_confirmed: int
    orders_group_failed: int


@dataclass(frozen=True)
class CloseSummary:
    """Totals read back from the stored state, plus what this run changed."""

    window_id: int
    window_status: WindowStatus
    neighborhoods: int
    neighborhoods_finalized_now: int
    group_buys_formed: int
    group_buys_failed: int
    group_buys_finalized_now: int
    orders_confirmed: int
    orders_group_failed: int
    orders_cancelled: int
    orders_finalized_now: int
    charged_minor: int
    refunded_at_close_minor: int


def summarize(
    *,
    db_session: Session,
    window_id: int,
    outcomes: list[NeighborhoodOutcome] | None = None,
) -> CloseSummary:
    """The window's closing totals as stored; `outcomes` are what the current run changed."""
    window = db_session.get(DeliveryWindow, window_id)
    if window is None:
        raise WindowNotFound("no such delivery window", field="window_id")
    gb_counts: dict[GroupBuyStatus, int] = defaultdict(int)
    neighborhoods: set[int] = set()
    for status, hood_id, count in db_session.execute(
        select(GroupBuy.status, GroupBuy.neighborhood_id, func.count())
        .where(GroupBuy.window_id == window_id)
        .group_by(GroupBuy.status, GroupBuy.neighborhood_id)
    ):
        gb_counts[status] += count
        neighborhoods.add(hood_id)
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
    outcomes = outcomes or []
    return CloseSummary(
        window_id=window_id,
        window_status=window.status,
        neighborhoods=len(neighborhoods),
        neighborhoods_finalized_now=len(outcomes),
        group_buys_formed=gb_counts[GroupBuyStatus.FORMED],
        group_buys_failed=gb_counts[GroupBuyStatus.FAILED],
        group_buys_finalized_now=sum(o.group_buys_formed + o.group_buys_failed for o in outcomes),
        orders_confirmed=int(row[0]),
        orders_group_failed=int(row[1]),
        orders_cancelled=int(row[2]),
        orders_finalized_now=sum(o.orders_confirmed + o.orders_group_failed for o in outcomes),
        charged_minor=int(row[3]),
        refunded_at_close_minor=int(row[4]),
    )
