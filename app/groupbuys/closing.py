"""Close a delivery window at its cut-off: every group buy formed or failed, orders settled.

A flow (it commits): the window is marked `closing`; then the neighborhoods are finalized, a
batch per transaction, set-based (their open group buys locked, decided, priced; their orders
confirmed or failed, the differences refunded, events recorded); then it is marked `closed`.
Each step only touches what is still open, so running it again (after a crash, or twice)
finishes what is left and changes nothing else; every ledger entry and event has a key derived
from its row's id.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.cities import queries as city_queries
from app.core import bulk
from app.core.db import utcnow
from app.events import service as event_service
from app.groupbuys import pricing
from app.groupbuys.close_summary import CloseSummary, NeighborhoodOutcome, summarize
from app.groupbuys.errors import CutoffNotPassed
from app.groupbuys.models import GroupBuy, GroupBuyStatus, PriceTier
from app.orders import cutoff as order_cutoff
from app.payments import service as payment_service
from app.windows import queries as window_queries
from app.windows import service as window_service
from app.windows.queries import WindowStatus
from app.windows.service import WindowNotFound

__all__ = [
    "CloseSummary",
    "NeighborhoodOutcome",
    "close_window",
    "finalize_neighborhood",
    "summarize",
]

log = logging.getLogger(__name__)

# Neighborhoods settled together in one transaction (a crash rolls back at most this many).
NEIGHBORHOODS_PER_TRANSACTION = 50


def close_window(
    *, db_session: Session, window_id: int, now: datetime | None = None
) -> CloseSummary:
    """Close the window: finalize each neighborhood in one transaction, then mark it closed."""
    now = now or utcnow()
    window = window_queries.window_cutoff(db_session, window_id)
    if window is None:
        raise WindowNotFound("no such delivery window", field="window_id")
    if now < window.cutoff_at:
        raise CutoffNotPassed(
            "the window's cut-off has not passed yet",
            field="window_id",
            cutoff_at=window.cutoff_at.isoformat(),
        )
    if window.status == WindowStatus.OPEN:
        window_service.start_closing_by_id(db_session=db_session, window_id=window_id)
        db_session.commit()

    outcomes: list[NeighborhoodOutcome] = []
    pending = _neighborhoods_with_open_group_buys(db_session, window_id)
    for start in range(0, len(pending), NEIGHBORHOODS_PER_TRANSACTION):
        batch = pending[start : start + NEIGHBORHOODS_PER_TRANSACTION]
        try:
            outcomes.extend(
                finalize_neighborhood(
                    db_session=db_session, window_id=window_id, neighborhood_id=batch, now=now
                )
            )
            db_session.commit()
        except Exception:
            db_session.rollback()
            log.exception("closing window %s: neighborhoods %s failed", window_id, batch)
            raise

    window = window_queries.window_cutoff(db_session, window_id)
    assert window is not None
    if window.status != WindowStatus.CLOSED:
        window_service.mark_closed_by_id(db_session=db_session, window_id=window_id, now=now)
        db_session.commit()
    return summarize(db_session=db_session, window_id=window_id, outcomes=outcomes)


def _neighborhoods_with_open_group_buys(db_session: Session, window_id: int) -> list[int]:
    return list(
        db_session.scalars(
            select(GroupBuy.neighborhood_id)
            .where(GroupBuy.window_id == window_id, GroupBuy.status == GroupBuyStatus.OPEN)
            .distinct()
            .order_by(GroupBuy.neighborhood_id)
        )
    )


def finalize_neighborhood(
    *,
    db_session: Session,
    window_id: int,
    neighborhood_id: int | Collection[int],
    now: datetime,
) -> list[NeighborhoodOutcome]:
    """Decide the open group buys of one neighborhood (or several at once), settle their orders
    (the caller commits). One outcome per neighborhood that still had open group buys: none
    when another run got there first."""
    hood_ids = [neighborhood_id] if isinstance(neighborhood_id, int) else list(neighborhood_id)
    open_here = (
        GroupBuy.window_id == window_id,
        GroupBuy.neighborhood_id.in_(hood_ids),
        GroupBuy.status == GroupBuyStatus.OPEN,
    )
    # Claim the rows with a write first: on PostgreSQL it takes the row locks (a concurrent
    # run waits, then finds nothing open); on SQLite it takes the database's write lock, so
    # what is read next is current. The SELECT ... FOR UPDATE below then reads them locked.
    claimed = cast(
        CursorResult[Any],
        db_session.execute(
            update(GroupBuy)
            .where(*open_here)
            .values(finalized_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount == 0:
        return []
    # Plain rows, not loaded objects: a cut-off decides thousands at once.
    group_buys = db_session.execute(
        select(*_GROUP_BUY_COLUMNS).where(*open_here).order_by(GroupBuy.id).with_for_update()
    ).all()
    tiers: dict[int, list[Any]] = defaultdict(list)
    for tier in db_session.execute(
        select(PriceTier.group_buy_id, PriceTier.min_quantity, PriceTier.unit_price_minor)
        .join(GroupBuy)
        .where(*open_here)
        .order_by(PriceTier.group_buy_id, PriceTier.min_quantity)
    ):
        tiers[tier.group_buy_id].append(tier)
    if not group_buys:  # pragma: no cover - claimed above, so only on a dialect without locks
        return []
    currency = _currency_of_window(db_session, window_id)
    decided: dict[int, Decision] = {}
    events: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    # (neighborhood, "formed" | "failed" | "confirmed" | "group_failed") -> how many.
    counts: Counter[tuple[int, str]] = Counter()
    for gb in group_buys:
        total = gb.ordered_quantity
        formed = total >= gb.min_quantity
        status = GroupBuyStatus.FORMED if formed else GroupBuyStatus.FAILED
        price = pricing.price_at(tiers[gb.id], total) if formed else None
        decided[gb.id] = Decision(status, price)
        counts[gb.neighborhood_id, status.value] += 1
        events[f"group_buy.{status.value}"].append(
            (
                f"group_buy:{gb.id}:{status.value}",
                {
                    "group_buy_id": gb.id,
                    "neighborhood_id": gb.neighborhood_id,
                    "window_id": window_id,
                    "product_id": gb.product_id,
                    "total_quantity": total,
                    "min_quantity": gb.min_quantity,
                    "final_unit_price_minor": price,
                    "currency": currency,
                },
            )
        )
    _store_decisions(db_session, decided, now)

    settled = _settle_orders(db_session, window_id, hood_ids, decided, now)
    refunds = [move for _, move in settled if move is not None]
    for payload, _ in settled:
        counts[payload["neighborhood_id"], payload["status"]] += 1
        events[f"order.{payload['status']}"].append(
            (f"order:{payload['order_id']}:{payload['status']}", payload)
        )
    payment_service.refund_many(db_session=db_session, refunds=refunds)
    for kind, batch in events.items():
        event_service.emit_many(db_session=db_session, kind=kind, events=batch)
    return [
        NeighborhoodOutcome(
            hood,
            *(counts[hood, kind] for kind in ("formed", "failed", "confirmed", "group_failed")),
        )
        for hood in sorted({gb.neighborhood_id for gb in group_buys})
    ]


def _currency_of_window(db_session: Session, window_id: int) -> str:
    window = window_queries.window_cutoff(db_session, window_id)
    assert window is not None
    locales = city_queries.city_locales(db_session, [window.city_id])
    return locales[window.city_id].currency


_GROUP_BUY_COLUMNS = (
    GroupBuy.id,
    GroupBuy.neighborhood_id,
    GroupBuy.product_id,
    GroupBuy.min_quantity,
    GroupBuy.ordered_quantity,
)


@dataclass(frozen=True)
class Decision:
    status: GroupBuyStatus
    final_unit_price_minor: int | None


def _store_decisions(db_session: Session, decided: dict[int, Decision], now: datetime) -> None:
    """Write the group buys' outcomes in one statement (only over open ones), and show them on
    any of those rows the session holds."""
    rows = [
        {"id": gb_id, "status": d.status, "final_unit_price_minor": d.final_unit_price_minor}
        for gb_id, d in decided.items()
    ]
    bulk.update_by_key(db_session, GroupBuy, rows, where=[GroupBuy.status == GroupBuyStatus.OPEN])
    for held in list(db_session.identity_map.values()):
        if isinstance(held, GroupBuy) and held.id in decided:
            for name, value in (*vars(decided[held.id]).items(), ("finalized_at", now)):
                set_committed_value(held, name, value)


def _final_price_of(
    db_session: Session, decided: dict[int, Decision]
) -> Callable[[int], int | None]:
    """The unit price a group buy formed at (None when it failed): decided now, or earlier (then
    the stored row says how)."""

    def final_price(group_buy_id: int) -> int | None:
        gb = decided.get(group_buy_id) or db_session.get(GroupBuy, group_buy_id)
        assert gb is not None
        if gb.status != GroupBuyStatus.FORMED:
            return None
        assert gb.final_unit_price_minor is not None
        return gb.final_unit_price_minor

    return final_price


def _settle_orders(
    db_session: Session,
    window_id: int,
    neighborhood_ids: Collection[int],
    decided: dict[int, Decision],
    now: datetime,
) -> list[tuple[dict[str, Any], payment_service.Movement | None]]:
    """Settle the placed orders through their owner; each order's event payload and the refund
    due, if any."""
    settled = order_cutoff.settle_placed_orders(
        db_session=db_session,
        window_id=window_id,
        neighborhood_ids=neighborhood_ids,
        final_price_of=_final_price_of(db_session, decided),
        now=now,
    )
    return [(_order_payload(order, window_id), _refund(order)) for order in settled]


def _refund(order: order_cutoff.SettledOrder) -> payment_service.Movement | None:
    refund = order.paid_minor - order.charged_minor
    if refund <= 0:
        return None
    key, reason = (
        ("close-diff", "cut-off: tier price reached and failed lines refunded")
        if order.charged_minor > 0
        else ("group-failed", "cut-off: no group buy of the order formed")
    )
    return payment_service.Movement(
        order_id=order.order_id,
        resident_id=order.resident_id,
        currency=order.currency,
        amount_minor=refund,
        key=f"order:{order.order_id}:{key}",
        reason=reason,
    )


def _order_payload(order: order_cutoff.SettledOrder, window_id: int) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "resident_id": order.resident_id,
        "window_id": window_id,
        "neighborhood_id": order.neighborhood_id,
        "status": order.status.value,
        "currency": order.currency,
        "paid_minor": order.paid_minor,
        "charged_minor": order.charged_minor,
        "refunded_minor": order.paid_minor - order.charged_minor,
        "lines": [
            {
                "group_buy_id": line.group_buy_id,
                "product_id": line.product_id,
                "quantity": line.quantity,
                "status": line.status.value,
                "final_unit_price_minor": line.final_unit_price_minor,
            }
            for line in order.lines
        ],
    }
