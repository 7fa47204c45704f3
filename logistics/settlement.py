"""Settling undelivered parcels at their window's pickup deadline: refund what they carried,
end them (cancelled, reason kept), end their orders, tell the residents.

A parcel's value is the order's confirmed lines of its temperature class at the final unit
price, split evenly over the order's parcels of that class (the remainder on the last), and
never more than the order still holds. An order none of whose parcels reached a locker ends
`undelivered`; one with delivered parcels follows those (ready, collected, expired).

Idempotent and safe from two processes: each order is claimed with a write before it is read
(row locks on PostgreSQL, the write lock on SQLite), only parcels still `undelivered` are
settled, and refunds and events carry keys derived from the parcel id.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, exists, select, update
from sqlalchemy.orm import Session, aliased

from app.catalog import queries as catalog_queries
from app.core.db import utcnow
from app.core.enums import TemperatureClass
from app.events import service as event_service
from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods.queries import CompartmentStatus
from app.orders import delivery as order_delivery
from app.orders import queries as order_queries
from app.orders.delivery import SettlingOrder
from app.orders.queries import OrderStatus
from app.payments import service as payment_service
from app.windows import queries as window_queries
from logistics import lifecycle
from logistics.models import Parcel, ParcelStatus

REFUNDED_EVENT = "parcel.undelivered_refunded"
REFUND_KEY_PREFIX = "refund:undelivered:"


def refund_key(parcel_id: int) -> str:
    """The ledger idempotency key of an undelivered parcel's refund."""
    return f"{REFUND_KEY_PREFIX}{parcel_id}"


@dataclass
class SettlementReport:
    """What a settlement pass did."""

    parcels_settled: list[int] = field(default_factory=list)
    refunded_minor: int = 0
    orders_undelivered: list[int] = field(default_factory=list)


def due_orders(
    *, db_session: Session, now: datetime, after_order_id: int = 0, limit: int = 200
) -> list[int]:
    """Orders with a parcel still undelivered after its window's pickup deadline, by id."""
    return list(
        db_session.scalars(
            select(Parcel.order_id)
            .where(
                Parcel.status == ParcelStatus.UNDELIVERED,
                Parcel.window_id.in_(window_queries.window_ids_past_pickup_deadline(now)),
                Parcel.order_id > after_order_id,
            )
            .distinct()
            .order_by(Parcel.order_id)
            .limit(limit)
        )
    )


def settle_due(
    *, db_session: Session, now: datetime | None = None, batch: int = 200
) -> SettlementReport:
    """Flow: settle every order with parcels undelivered past the deadline, committing per
    batch of orders."""
    now = now or utcnow()
    report = SettlementReport()
    last = 0
    while True:
        order_ids = due_orders(db_session=db_session, now=now, after_order_id=last, limit=batch)
        if not order_ids:
            return report
        for order_id in order_ids:
            settle_order(db_session=db_session, order_id=order_id, now=now, report=report)
        db_session.commit()
        last = order_ids[-1]


def settle_order(
    *,
    db_session: Session,
    order_id: int,
    now: datetime,
    report: SettlementReport | None = None,
) -> SettlementReport:
    """Settle one order's undelivered parcels whose window deadline passed (caller commits);
    nothing when another process got there first."""
    report = report if report is not None else SettlementReport()
    past_deadline = window_queries.window_ids_past_pickup_deadline(now)
    mine = (
        Parcel.order_id == order_id,
        Parcel.status == ParcelStatus.UNDELIVERED,
        Parcel.window_id.in_(past_deadline),
    )
    claimed = cast(
        CursorResult[Any],
        db_session.execute(
            update(Parcel)
            .where(*mine)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount == 0:
        return report
    order = order_delivery.lock_for_settlement(db_session=db_session, order_id=order_id)
    assert order is not None
    parcels = list(
        db_session.scalars(
            select(Parcel)
            .where(Parcel.order_id == order_id)
            .order_by(Parcel.temperature_class, Parcel.sequence, Parcel.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    due = set(db_session.scalars(select(Parcel.id).where(*mine)))
    shares = parcel_values(db_session=db_session, order_id=order_id, parcels=parcels)
    held = payment_service.balance(db_session=db_session, order_id=order_id)
    for parcel in parcels:
        if parcel.id not in due:
            continue
        amount = min(shares.get(parcel.id, 0), max(held, 0))
        _settle_parcel(db_session, order, parcel, amount)
        held -= amount
        report.parcels_settled.append(parcel.id)
        report.refunded_minor += amount
    if _end_order(db_session, order, parcels):
        report.orders_undelivered.append(order.id)
    db_session.flush()
    return report


def parcel_values(*, db_session: Session, order_id: int, parcels: list[Parcel]) -> dict[int, int]:
    """Parcel id -> what it carried in minor units: its class's confirmed lines at the final
    price, split over the order's parcels of that class (the remainder on the last)."""
    lines = order_queries.confirmed_line_prices_query(order_id).subquery()
    products = catalog_queries.product_card_query().subquery()
    rows = db_session.execute(
        select(
            products.c.temperature_class,
            lines.c.quantity,
            lines.c.final_unit_price_minor,
            lines.c.paid_unit_price_minor,
        ).join(products, products.c.id == lines.c.product_id)
    ).all()
    value_by_class: dict[TemperatureClass, int] = defaultdict(int)
    for temperature_class, quantity, final_price, paid_price in rows:
        price = final_price if final_price is not None else paid_price
        value_by_class[TemperatureClass(temperature_class)] += int(price) * int(quantity)
    by_class: dict[TemperatureClass, list[Parcel]] = defaultdict(list)
    for parcel in sorted(parcels, key=lambda p: (p.sequence, p.id)):
        by_class[TemperatureClass(parcel.temperature_class)].append(parcel)
    shares: dict[int, int] = {}
    for temperature_class, same_class in by_class.items():
        value = value_by_class.get(temperature_class, 0)
        share = value // len(same_class)
        for parcel in same_class:
            shares[parcel.id] = share
        shares[same_class[-1].id] = value - share * (len(same_class) - 1)
    return shares


def _settle_parcel(db_session: Session, order: SettlingOrder, parcel: Parcel, amount: int) -> None:
    lifecycle.transition(parcel, ParcelStatus.CANCELLED)
    _free_compartment(db_session, parcel)
    if amount > 0:
        payment_service.refund(
            db_session=db_session,
            order=order,
            amount_minor=amount,
            key=refund_key(parcel.id),
            reason=f"parcel {parcel.id} undelivered: {parcel.failure_reason or 'unknown'}"[:120],
        )
    event_service.emit(
        db_session=db_session,
        kind=REFUNDED_EVENT,
        dedupe_key=f"{REFUNDED_EVENT}:{parcel.id}",
        payload={
            "parcel_id": parcel.id,
            "order_id": order.id,
            "resident_id": parcel.resident_id,
            "window_id": parcel.window_id,
            "temperature_class": TemperatureClass(parcel.temperature_class).value,
            "refunded_minor": amount,
            "currency": order.currency,
            "reason": parcel.failure_reason,
        },
    )


def _free_compartment(db_session: Session, parcel: Parcel) -> None:
    """Give back a compartment still reserved for the parcel (unless another parcel holds it)."""
    if parcel.compartment_id is None:
        return
    other = aliased(Parcel)
    held_by_other = exists().where(
        other.compartment_id == parcel.compartment_id,
        other.id != parcel.id,
        other.status.in_(
            (ParcelStatus.RESERVED, ParcelStatus.LOADED, ParcelStatus.READY_FOR_PICKUP)
        ),
    )
    compartment_lifecycle.move_compartments(
        db_session=db_session,
        ids=[parcel.compartment_id],
        frm=CompartmentStatus.RESERVED,
        to=CompartmentStatus.FREE,
        where=[~held_by_other],
    )


def _end_order(db_session: Session, order: SettlingOrder, parcels: list[Parcel]) -> bool:
    """Move the order to where its parcels leave it; True when it ended undelivered."""
    live = {ParcelStatus(p.status) for p in parcels if p.status != ParcelStatus.CANCELLED}
    if not live:
        return order_delivery.mark_undelivered(db_session=db_session, order_id=order.id)
    target = _followed(live)
    if target is not None:
        order_delivery.follow_delivered_parcels(
            db_session=db_session, order_id=order.id, target=target
        )
    return False


def _followed(statuses: set[ParcelStatus]) -> OrderStatus | None:
    """What the delivered parcels say about their order (as the lockers' own sync does)."""
    if statuses == {ParcelStatus.COLLECTED}:
        return OrderStatus.COLLECTED
    if statuses <= {ParcelStatus.READY_FOR_PICKUP, ParcelStatus.COLLECTED}:
        return OrderStatus.READY_FOR_PICKUP
    if statuses <= {ParcelStatus.COLLECTED, ParcelStatus.EXPIRED, ParcelStatus.RETRIEVED}:
        return OrderStatus.EXPIRED
    return None  # some parcel is still on its way
