"""Residents' orders: place (idempotent, all-or-nothing, never over the stock cap), read, cancel."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.catalog import queries as catalog_queries
from app.core.db import utcnow
from app.events import service as event_service
from app.groupbuys import pricing
from app.groupbuys import stock as groupbuy_stock
from app.orders import checks as order_checks
from app.orders import placing, states
from app.orders.errors import (
    IDEMPOTENCY_HEADER,
    GroupBuyFinalized,
    IdempotencyKeyReused,
    NeighborhoodNotServed,
    OrderChangedMeanwhile,
    OrderNotFound,
    OrderNotPlaced,
)
from app.orders.models import LineStatus, Order, OrderStatus
from app.orders.placing import NewLine, NewOrder
from app.orders.schemas import OrderCreate, OrderLineRead, OrderRead
from app.payments import service as payment_service
from app.windows import queries as window_queries
from app.windows.queries import WindowStatus
from app.windows.service import UnknownWindow, WindowClosed


class Buyer(Protocol):
    """Who places an order: a resident of a neighborhood."""

    @property
    def id(self) -> int: ...

    @property
    def neighborhood_id(self) -> int: ...


@dataclass(frozen=True)
class PlaceResult:
    """The order as its resident reads it (a new one built from the values in hand)."""

    order: OrderRead
    replayed: bool


def request_fingerprint(order_in: OrderCreate) -> str:
    """A stable hash of the order request, to tell a retry from a different request."""
    canonical = json.dumps(order_in.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _with_lines() -> Any:
    return selectinload(Order.lines)


def get(*, db_session: Session, order_id: int) -> Order | None:
    """An order by id with its lines, or None."""
    return db_session.scalar(select(Order).where(Order.id == order_id).options(_with_lines()))


def get_for_resident(*, db_session: Session, resident_id: int, order_id: int) -> Order:
    """The resident's own order; NotFound for anyone else's (never says it exists)."""
    order = db_session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.resident_id == resident_id)
        .options(_with_lines())
    )
    if order is None:
        raise OrderNotFound("no such order", field="order_id")
    return order


def get_all_for_resident(
    *, db_session: Session, resident_id: int, limit: int = 20, offset: int = 0
) -> tuple[list[Order], int]:
    """The resident's orders, newest first, one page; and how many there are in all."""
    total = db_session.scalar(
        select(func.count()).select_from(Order).where(Order.resident_id == resident_id)
    )
    orders = db_session.scalars(
        select(Order)
        .where(Order.resident_id == resident_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
        .offset(offset)
        .options(_with_lines())
    ).all()
    return list(orders), total or 0


def get_by_idempotency_key(*, db_session: Session, resident_id: int, key: str) -> Order | None:
    """The resident's order placed with this Idempotency-Key, if any."""
    return db_session.scalar(
        select(Order)
        .where(Order.resident_id == resident_id, Order.idempotency_key == key)
        .options(_with_lines())
    )


def to_read(
    db_session: Session, order: Order, product_names: Mapping[int, str] | None = None
) -> OrderRead:
    """The order as its resident sees it (`product_names` in hand are not read again)."""
    return to_reads(db_session, [order], product_names)[0]


def to_reads(
    db_session: Session, orders: Sequence[Order], product_names: Mapping[int, str] | None = None
) -> list[OrderRead]:
    """The orders as their residents see them (the product names missing read once for all)."""
    names = dict(product_names or {})
    missing = {line.product_id for order in orders for line in order.lines} - names.keys()
    names.update(catalog_queries.product_names(db_session, missing))
    return [_read(order, names) for order in orders]


def _read(order: Order, product_names: Mapping[int, str]) -> OrderRead:
    return OrderRead(
        id=order.id,
        window_id=order.window_id,
        neighborhood_id=order.neighborhood_id,
        status=order.status,
        currency=order.currency,
        paid_minor=order.paid_minor,
        paid_display=pricing.format_money(order.paid_minor, order.currency),
        charged_minor=order.charged_minor,
        charged_display=(
            None
            if order.charged_minor is None
            else pricing.format_money(order.charged_minor, order.currency)
        ),
        created_at=order.created_at,
        lines=[
            OrderLineRead(
                id=line.id,
                group_buy_id=line.group_buy_id,
                product_id=line.product_id,
                product_name=product_names[line.product_id],
                quantity=line.quantity,
                paid_unit_price_minor=line.paid_unit_price_minor,
                final_unit_price_minor=line.final_unit_price_minor,
                status=line.status,
            )
            for line in order.lines
        ],
    )


def _replay(db_session: Session, order: Order, fingerprint: str) -> PlaceResult:
    if order.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request body",
            field=IDEMPOTENCY_HEADER,
            order_id=order.id,
        )
    return PlaceResult(order=to_read(db_session, order), replayed=True)


def _replay_key(
    db_session: Session, resident_id: int, idempotency_key: str, fingerprint: str
) -> PlaceResult | None:
    existing = get_by_idempotency_key(
        db_session=db_session, resident_id=resident_id, key=idempotency_key
    )
    return None if existing is None else _replay(db_session, existing, fingerprint)


def place(
    *,
    db_session: Session,
    resident: Buyer,
    order_in: OrderCreate,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> PlaceResult:
    """Place an order at entry prices and charge it; all or nothing; a retried key replays.

    On the way of a new order: one read (the neighborhood, its city's currency, the window,
    an order already placed with the key), a guarded stock UPDATE a line that also checks the
    group buy and returns its product and entry price, the order with its lines, the ledger
    entry, the outbox event. A refused line writes nothing (its UPDATE matched no row; lines
    before it are given back), and only then are the group buys read to say why.
    """
    now = now or utcnow()
    fingerprint = request_fingerprint(order_in)
    hood, currency, window, existing_id = order_checks.order_context(
        db_session, resident.neighborhood_id, order_in.window_id, resident.id, idempotency_key
    )
    if idempotency_key is not None and (existing_id is not None or hood is None):
        replay = _replay_key(db_session, resident.id, idempotency_key, fingerprint)
        if replay is not None:
            return replay
    if hood is None or not hood.active:
        raise NeighborhoodNotServed(
            "your neighborhood is not served at the moment", field="neighborhood_id"
        )
    if window is None:
        raise UnknownWindow("unknown delivery window", field="window_id")
    if window.status != WindowStatus.OPEN or window.cutoff_at <= now:
        raise WindowClosed(
            "ordering for this window closed at its cut-off",
            field="window_id",
            cutoff_at=window.cutoff_at.isoformat(),
        )
    assert currency is not None
    quantities = order_checks.line_quantities(order_in)  # duplicates refused here
    reserved = groupbuy_stock.reserve_offers(
        db_session=db_session, neighborhood_id=hood.id, window_id=window.id, quantities=quantities
    )
    if reserved is None:
        order_checks.validated_group_buys(db_session, hood.id, window.id, order_in)
        raise order_checks.not_reserved(db_session, order_in)
    lines = [
        NewLine(
            group_buy_id=line.group_buy_id,
            product_id=reserved[line.group_buy_id].product_id,
            quantity=line.quantity,
            paid_unit_price_minor=reserved[line.group_buy_id].entry_price_minor,
        )
        for line in order_in.lines
    ]
    new = NewOrder(
        resident_id=resident.id,
        window_id=window.id,
        neighborhood_id=hood.id,
        currency=currency,
        paid_minor=sum(line.paid_unit_price_minor * line.quantity for line in lines),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        created_at=now,
    )
    inserted = placing.insert_order(db_session, new, lines)
    if inserted is None:  # a concurrent retry with the same key placed it first
        groupbuy_stock.give_back(db_session=db_session, quantities=quantities)
        assert idempotency_key is not None
        replay = _replay_key(db_session, resident.id, idempotency_key, fingerprint)
        assert replay is not None
        return replay
    order_id, line_ids = inserted
    read = placing.placed_read(
        order_id, new, lines, line_ids, {gb.id: gb.product_name for gb in reserved.values()}
    )
    # The order is new, so its ledger key and event key are too: no lookups first.
    payment_service.charge_new(
        db_session=db_session,
        order=placing.Charged(order_id, resident.id, currency),
        amount_minor=new.paid_minor,
        key=f"order:{order_id}:placed",
        reason="order placed at entry prices",
    )
    event_service.emit_new(
        db_session=db_session,
        kind="order.placed",
        dedupe_key=f"order:{order_id}:placed",
        payload=placing.event_payload(read, resident.id),
    )
    return PlaceResult(order=read, replayed=False)


def cancel(
    *, db_session: Session, resident_id: int, order_id: int, now: datetime | None = None
) -> Order:
    """Cancel the resident's placed order before the cut-off: stock back, full refund."""
    now = now or utcnow()
    order = get_for_resident(db_session=db_session, resident_id=resident_id, order_id=order_id)
    if order.status != OrderStatus.PLACED:
        raise OrderNotPlaced(
            f"the order is {order.status.value}; only placed orders can be cancelled",
            field="status",
        )
    window = window_queries.window_cutoff(db_session, order.window_id)
    assert window is not None
    if window.status != WindowStatus.OPEN or window.cutoff_at <= now:
        raise WindowClosed(
            "the window is past its cut-off; the order can no longer be cancelled",
            field="window_id",
            cutoff_at=window.cutoff_at.isoformat(),
        )
    with db_session.begin_nested():
        # Group-buy rows first (as placing and closing do), then the order row.
        for line in sorted(order.lines, key=lambda li: li.group_buy_id):
            if line.status != LineStatus.PLACED:
                continue
            if not groupbuy_stock.release_stock(
                db_session=db_session, group_buy_id=line.group_buy_id, quantity=line.quantity
            ):
                raise GroupBuyFinalized(
                    "the group buy was finalized; the order can no longer be cancelled",
                    field="window_id",
                )
            states.transition_line(line, LineStatus.CANCELLED)
        current = db_session.scalar(
            select(Order.status).where(Order.id == order.id).with_for_update()
        )
        if current != OrderStatus.PLACED:
            raise OrderChangedMeanwhile(
                "the order changed meanwhile; it can no longer be cancelled", field="status"
            )
        states.transition(order, OrderStatus.CANCELLED)
        order.charged_minor = 0
        order.updated_at = now
        payment_service.refund(
            db_session=db_session,
            order=order,
            amount_minor=order.paid_minor,
            key=f"order:{order.id}:cancel",
            reason="cancelled by the resident before the cut-off",
        )
        event_service.emit(
            db_session=db_session,
            kind="order.cancelled",
            dedupe_key=f"order:{order.id}:cancelled",
            payload=placing.event_payload(order, order.resident_id)
            | {"refunded_minor": order.paid_minor},
        )
    return order
