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
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.cities import queries as city_queries
from app.core.db import utcnow
from app.events import service as event_service
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
    group_buys = _decide(db_session, window_id, hood_ids, now)
    if not group_buys:
        return []
    currency = _currency_of_window(db_session, window_id)
    events: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    # (neighborhood, "formed" | "failed" | "confirmed" | "group_failed") -> how many.
    counts: Counter[tuple[int, str]] = Counter()
    for gb in group_buys:
        counts[gb.neighborhood_id, gb.status.value] += 1
        events[f"group_buy.{gb.status.value}"].append(
            (
                f"group_buy:{gb.id}:{gb.status.value}",
                {
                    "group_buy_id": gb.id,
                    "neighborhood_id": gb.neighborhood_id,
                    "window_id": window_id,
                    "product_id": gb.product_id,
                    "total_quantity": gb.ordered_quantity,
                    "min_quantity": gb.min_quantity,
                    "final_unit_price_minor": gb.final_unit_price_minor,
                    "currency": currency,
                },
            )
        )

    settled = order_cutoff.settle_placed_orders(
        db_session=db_session, window_id=window_id, neighborhood_ids=hood_ids, now=now
    )
    refunds = []
    for order in settled:
        counts[order.neighborhood_id, order.status.value] += 1
        events[f"order.{order.status.value}"].append(
            (f"order:{order.order_id}:{order.status.value}", _order_payload(order, window_id))
        )
        refund = _refund(order)
        if refund is not None:
            refunds.append(refund)
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


def _decide(
    db_session: Session, window_id: int, hood_ids: Collection[int], now: datetime
) -> list[Any]:
    """Form or fail the neighborhoods' open group buys in one statement computed in the
    database, at the tier their total reached (`pricing.price_at`); the decided rows by id.

    Only open ones move: on PostgreSQL the statement locks them (a concurrent run waits, then
    finds nothing open); on SQLite the transaction already holds the database's write lock.
    """
    formed = GroupBuy.ordered_quantity >= GroupBuy.min_quantity
    status_type = GroupBuy.__table__.c.status.type
    decided = db_session.execute(
        update(GroupBuy)
        .where(
            GroupBuy.window_id == window_id,
            GroupBuy.neighborhood_id.in_(hood_ids),
            GroupBuy.status == GroupBuyStatus.OPEN,
        )
        .values(
            status=case(
                (formed, literal(GroupBuyStatus.FORMED, status_type)),
                else_=literal(GroupBuyStatus.FAILED, status_type),
            ),
            final_unit_price_minor=case((formed, _tier_price_reached()), else_=None),
            finalized_at=now,
        )
        .returning(
            GroupBuy.id,
            GroupBuy.neighborhood_id,
            GroupBuy.product_id,
            GroupBuy.min_quantity,
            GroupBuy.ordered_quantity,
            GroupBuy.status,
            GroupBuy.final_unit_price_minor,
        )
        .execution_options(synchronize_session=False)
    ).all()
    for gb in decided:
        if gb.status == GroupBuyStatus.FORMED and gb.final_unit_price_minor is None:
            raise LookupError(f"group buy {gb.id} formed without a price tier")
    _show_decisions(db_session, decided, now)
    return sorted(decided, key=lambda gb: gb.id)


def _tier_price_reached() -> ColumnElement[Any]:
    """`pricing.price_at` in SQL, for the group buy being updated: the price of the highest
    tier its total reached, else of its first tier."""
    tiers = select(PriceTier.unit_price_minor).where(PriceTier.group_buy_id == GroupBuy.id)
    reached = (
        tiers.where(PriceTier.min_quantity <= GroupBuy.ordered_quantity)
        .order_by(PriceTier.min_quantity.desc())
        .limit(1)
        .scalar_subquery()
    )
    first = tiers.order_by(PriceTier.min_quantity).limit(1).scalar_subquery()
    return func.coalesce(reached, first)


def _show_decisions(db_session: Session, decided: Sequence[Any], now: datetime) -> None:
    """Show the decisions on any of those group buys the session holds."""
    by_id = {gb.id: gb for gb in decided}
    for held in list(db_session.identity_map.values()):
        if isinstance(held, GroupBuy) and held.id in by_id:
            gb = by_id[held.id]
            set_committed_value(held, "status", gb.status)
            set_committed_value(held, "final_unit_price_minor", gb.final_unit_price_minor)
            set_committed_value(held, "finalized_at", now)


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
