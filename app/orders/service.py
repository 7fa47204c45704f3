"""Residents' orders: place (idempotent, all-or-nothing, never over the stock cap), read, cancel."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.cities.models import City
from app.core.db import utcnow
from app.events import service as event_service
from app.groupbuys import pricing
from app.groupbuys import stock as groupbuy_stock
from app.neighborhoods.models import Neighborhood
from app.orders import checks as order_checks
from app.orders import states
from app.orders.errors import (
    IDEMPOTENCY_HEADER,
    GroupBuyFinalized,
    IdempotencyKeyReused,
    NeighborhoodNotServed,
    OrderChangedMeanwhile,
    OrderNotFound,
    OrderNotPlaced,
)
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus
from app.orders.schemas import OrderCreate, OrderLineRead, OrderRead
from app.payments import service as payment_service
from app.residents.models import Resident
from app.windows.models import DeliveryWindow, WindowStatus
from app.windows.service import UnknownWindow, WindowClosed


@dataclass(frozen=True)
class PlaceResult:
    order: Order
    replayed: bool


def request_fingerprint(order_in: OrderCreate) -> str:
    """A stable hash of the order request, to tell a retry from a different request."""
    canonical = json.dumps(order_in.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _with_lines() -> Any:
    return selectinload(Order.lines).selectinload(OrderLine.product)


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


def to_read(order: Order) -> OrderRead:
    """The order as its resident sees it."""
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
                product_name=line.product.name,
                quantity=line.quantity,
                paid_unit_price_minor=line.paid_unit_price_minor,
                final_unit_price_minor=line.final_unit_price_minor,
                status=line.status,
            )
            for line in order.lines
        ],
    )


def _replay(order: Order, fingerprint: str) -> PlaceResult:
    if order.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request body",
            field=IDEMPOTENCY_HEADER,
            order_id=order.id,
        )
    return PlaceResult(order=order, replayed=True)


def place(
    *,
    db_session: Session,
    resident: Resident,
    order_in: OrderCreate,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> PlaceResult:
    """Place an order at entry prices and charge it; all or nothing; a retried key replays."""
    now = now or utcnow()
    fingerprint = request_fingerprint(order_in)
    if idempotency_key is not None:
        existing = get_by_idempotency_key(
            db_session=db_session, resident_id=resident.id, key=idempotency_key
        )
        if existing is not None:
            return _replay(existing, fingerprint)

    hood, city, window = db_session.execute(
        select(Neighborhood, City, DeliveryWindow)
        .join(City, City.id == Neighborhood.city_id)
        .outerjoin(
            DeliveryWindow,
            (DeliveryWindow.id == order_in.window_id) & (DeliveryWindow.city_id == City.id),
        )
        .where(Neighborhood.id == resident.neighborhood_id)
    ).one()
    if not hood.active:
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
    group_buys = order_checks.validated_group_buys(db_session, resident, window, order_in)

    order = Order(
        resident_id=resident.id,
        window_id=window.id,
        neighborhood_id=hood.id,
        status=OrderStatus.PLACED,
        currency=city.currency,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        created_at=now,
        updated_at=now,
    )
    paid = 0
    for line_in in order_in.lines:
        gb = group_buys[line_in.group_buy_id]
        price = pricing.entry_price(gb.tiers)
        paid += price * line_in.quantity
        line = OrderLine(
            group_buy_id=gb.id,
            product_id=gb.product_id,
            quantity=line_in.quantity,
            paid_unit_price_minor=price,
            status=LineStatus.PLACED,
        )
        order.lines.append(line)
    order.paid_minor = paid
    quantities = {line.group_buy_id: line.quantity for line in order_in.lines}
    try:
        # A savepoint: a stock race lost on any line undoes the whole order, nothing else.
        with db_session.begin_nested():
            db_session.add(order)
            db_session.flush()  # a concurrent retry with the same key fails here
            if not groupbuy_stock.reserve_stock_many(db_session=db_session, quantities=quantities):
                raise order_checks.StockRaceLost
            # The order is new, so its ledger key and event key are too: no lookups first.
            payment_service.charge_new(
                db_session=db_session,
                order=order,
                amount_minor=paid,
                key=f"order:{order.id}:placed",
                reason="order placed at entry prices",
            )
            event_service.emit_new(
                db_session=db_session,
                kind="order.placed",
                dedupe_key=f"order:{order.id}:placed",
                payload=_order_payload(order),
            )
    except order_checks.StockRaceLost:
        raise order_checks.not_reserved(db_session, order_in) from None
    except IntegrityError:
        if idempotency_key is None:
            raise
        existing = get_by_idempotency_key(
            db_session=db_session, resident_id=resident.id, key=idempotency_key
        )
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    return PlaceResult(order=order, replayed=False)


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
    window = db_session.get(DeliveryWindow, order.window_id)
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
            payload=_order_payload(order) | {"refunded_minor": order.paid_minor},
        )
    return order


def _order_payload(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "resident_id": order.resident_id,
        "window_id": order.window_id,
        "neighborhood_id": order.neighborhood_id,
        "status": order.status.value,
        "currency": order.currency,
        "paid_minor": order.paid_minor,
        "charged_minor": order.charged_minor,
        "lines": [
            {
                "group_buy_id": line.group_buy_id,
                "product_id": line.product_id,
                "quantity": line.quantity,
                "status": line.status.value,
                "paid_unit_price_minor": line.paid_unit_price_minor,
                "final_unit_price_minor": line.final_unit_price_minor,
            }
            for line in order.lines
        ],
    }
