"""What a window's close did: totals read back from the stored state (`summarize`), plus what
the current run changed, per neighborhood (`app.groupbuys.closing` does the closing)."""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.groupbuys.models import GroupBuy, GroupBuyStatus
from app.orders import queries as order_queries
from app.windows import queries as window_queries
from app.windows.queries import WindowStatus
from app.windows.service import WindowNotFound


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
    window = window_queries.window_cutoff(db_session, window_id)
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
    orders = order_queries.window_order_totals(db_session, window_id)
    outcomes = outcomes or []
    return CloseSummary(
        window_id=window_id,
        window_status=window.status,
        neighborhoods=len(neighborhoods),
        neighborhoods_finalized_now=len(outcomes),
        group_buys_formed=gb_counts[GroupBuyStatus.FORMED],
        group_buys_failed=gb_counts[GroupBuyStatus.FAILED],
        group_buys_finalized_now=sum(o.group_buys_formed + o.group_buys_failed for o in outcomes),
        orders_confirmed=orders.confirmed,
        orders_group_failed=orders.group_failed,
        orders_cancelled=orders.cancelled,
        orders_finalized_now=sum(o.orders_confirmed + o.orders_group_failed for o in outcomes),
        charged_minor=orders.charged_minor,
        refunded_at_close_minor=orders.refunded_at_close_minor,
    )
