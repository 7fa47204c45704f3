"""Reading queries of the parcels view: a window's orders, a resident's orders, parcels by state.

Every list is one page of rows with its total, fetched set-based: one query for the rows,
one for their count, one for what the rows show beside (parcels, line counts).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.core.errors import InvalidInput
from app.groupbuys.models import GroupBuy, PriceTier
from app.neighborhoods.models import Compartment, LockerBank, Neighborhood
from app.orders.models import Order, OrderLine, OrderStatus
from app.residents.models import Resident
from app.windows.models import DeliveryWindow
from lockers.models import ParcelColdChainFlag
from logistics.models import Parcel, ParcelStatus

PAGE_SIZE = 50
EXPIRING_WITHIN = timedelta(hours=3)


class InvalidPhone(InvalidInput):
    """The phone number searched for is not 6 to 15 digits (+ optional)."""

    case = "invalid_phone"


TABS = ("orders", "resident", "ready", "expiring", "expired", "cold", "undelivered")
PARCEL_TABS = TABS[2:]
PHONE = re.compile(r"^\+?[0-9]{6,15}$")
OrdersSelect = Select[Order, str, str, DeliveryWindow]
STATUS_KIND = {
    "placed": "unassigned",
    "confirmed": "assigned",
    "packed": "assigned",
    "reserved": "assigned",
    "loaded": "transit",
    "out_for_delivery": "transit",
    "ready_for_pickup": "done",
    "collected": "done",
    "cancelled": "unassigned",
    "group_failed": "failed",
    "expired": "late",
    "retrieved": "late",
    "undelivered": "failed",
}


def status_kind(status: str) -> str:
    """The one colour (macro kind) of an order or parcel status."""
    return STATUS_KIND.get(str(status), "unassigned")


@dataclass
class Paged:
    """One page of rows and where it stands in the whole list."""

    rows: list[Any]
    total: int
    page: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        """How many pages the list has (at least one)."""
        return max(1, math.ceil(self.total / self.size))


@dataclass
class OrderRow:
    """An order in a list, with its parcels."""

    id: int
    status: str
    created_at: datetime
    phone: str
    neighborhood: str
    window: str
    paid_minor: int
    charged_minor: int | None
    currency: str
    units: int = 0
    parcels: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class ParcelRow:
    """A parcel in a list: where it is, whose it is (phone masked by the page), why it is here."""

    id: int
    order_id: int
    status: str
    temperature_class: str
    phone: str
    neighborhood: str
    bank: str | None
    compartment: str | None
    pickup_deadline: datetime
    reason: str | None
    minutes_out: int | None


def normalize_phone(value: str) -> str:
    """A phone as typed (spaces, dashes allowed) in E.164, or InvalidInput naming `phone`."""
    digits = re.sub(r"[\s\-()]", "", value)
    if not PHONE.match(digits):
        raise InvalidPhone("give a phone number: 6 to 15 digits, + optional", field="phone")
    if digits.startswith("+"):
        return digits
    return f"+86{digits}" if len(digits) == 11 else f"+{digits}"


def _window_label(window: DeliveryWindow) -> str:
    return f"{window.local_date.isoformat()} {window.slot_name}"


def _order_page(db_session: Session, query: OrdersSelect, count: Select[int], page: int) -> Paged:
    total = int(db_session.scalar(count) or 0)
    rows = db_session.execute(
        query.order_by(Order.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    orders = [
        OrderRow(
            id=o.id,
            status=str(o.status),
            created_at=o.created_at,
            phone=phone,
            neighborhood=hood,
            window=_window_label(window),
            paid_minor=o.paid_minor,
            charged_minor=o.charged_minor,
            currency=o.currency,
        )
        for o, phone, hood, window in rows
    ]
    by_id = {o.id: o for o in orders}
    if by_id:
        units = db_session.execute(
            select(OrderLine.order_id, func.sum(OrderLine.quantity))
            .where(OrderLine.order_id.in_(by_id))
            .group_by(OrderLine.order_id)
        )
        for order_id, quantity in units:
            by_id[order_id].units = int(quantity or 0)
        parcels = db_session.execute(
            select(Parcel.order_id, Parcel.id, Parcel.status)
            .where(Parcel.order_id.in_(by_id))
            .order_by(Parcel.id)
        )
        for order_id, parcel_id, status in parcels:
            by_id[order_id].parcels.append((parcel_id, str(status)))
    return Paged(orders, total, page, PAGE_SIZE)


def _orders_select() -> OrdersSelect:
    return (
        select(Order, Resident.phone, Neighborhood.name, DeliveryWindow)
        .join(Resident, Resident.id == Order.resident_id)
        .join(Neighborhood, Neighborhood.id == Order.neighborhood_id)
        .join(DeliveryWindow, DeliveryWindow.id == Order.window_id)
    )


def window_orders(
    db_session: Session, window_id: int, page: int, status: OrderStatus | None = None
) -> Paged:
    """A window's orders, newest first, optionally of one status."""
    where = [Order.window_id == window_id]
    if status is not None:
        where.append(Order.status == status)
    count = select(func.count()).select_from(Order).where(*where)
    return _order_page(db_session, _orders_select().where(*where), count, page)


def resident_orders(db_session: Session, city_id: int, phone: str, page: int) -> Paged:
    """Every order of the city's resident with this phone (exact, in E.164), newest first."""
    resident_id = db_session.scalar(
        select(Resident.id)
        .join(Neighborhood, Neighborhood.id == Resident.neighborhood_id)
        .where(Resident.phone == phone, Neighborhood.city_id == city_id)
    )
    if resident_id is None:
        return Paged([], 0, page, PAGE_SIZE)
    where = [Order.resident_id == resident_id]
    count = select(func.count()).select_from(Order).where(*where)
    return _order_page(db_session, _orders_select().where(*where), count, page)


def _parcel_filter(tab: str, now: datetime) -> list[Any]:
    flagged = exists().where(ParcelColdChainFlag.parcel_id == Parcel.id)
    filters: dict[str, list[Any]] = {
        "ready": [Parcel.status == ParcelStatus.READY_FOR_PICKUP],
        "expiring": [
            Parcel.status == ParcelStatus.READY_FOR_PICKUP,
            Parcel.pickup_deadline <= now + EXPIRING_WITHIN,
        ],
        "expired": [Parcel.status.in_([ParcelStatus.EXPIRED, ParcelStatus.RETRIEVED])],
        "cold": [or_(Parcel.van_minutes_over_limit.is_not(None), flagged)],
        "undelivered": [Parcel.status == ParcelStatus.UNDELIVERED],
    }
    return filters[tab]


def parcels_in(db_session: Session, window_id: int, tab: str, page: int, now: datetime) -> Paged:
    """A window's parcels in one state (ready, expiring soon, expired, cold chain, undelivered)."""
    where = [Parcel.window_id == window_id, *_parcel_filter(tab, now)]
    total = int(db_session.scalar(select(func.count()).select_from(Parcel).where(*where)) or 0)
    order = Parcel.pickup_deadline if tab in ("ready", "expiring") else Parcel.id.desc()
    rows = db_session.execute(
        select(Parcel, Resident.phone, Neighborhood.name, LockerBank.code, Compartment.label)
        .join(Resident, Resident.id == Parcel.resident_id)
        .join(Neighborhood, Neighborhood.id == Parcel.neighborhood_id)
        .outerjoin(LockerBank, LockerBank.id == Parcel.bank_id)
        .outerjoin(Compartment, Compartment.id == Parcel.compartment_id)
        .where(*where)
        .order_by(order, Parcel.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    minutes = _minutes_out(db_session, [p.id for p, *_ in rows])
    parcels = [
        ParcelRow(
            id=p.id,
            order_id=p.order_id,
            status=str(p.status),
            temperature_class=str(p.temperature_class),
            phone=phone,
            neighborhood=hood,
            bank=bank,
            compartment=label,
            pickup_deadline=p.pickup_deadline,
            reason=p.failure_reason or p.unplaced_reason,
            minutes_out=max(
                filter(None, (p.van_minutes_over_limit, minutes.get(p.id))), default=None
            ),
        )
        for p, phone, hood, bank, label in rows
    ]
    return Paged(parcels, total, page, PAGE_SIZE)


def _minutes_out(db_session: Session, parcel_ids: list[int]) -> dict[int, int]:
    if not parcel_ids:
        return {}
    rows = db_session.execute(
        select(ParcelColdChainFlag.parcel_id, func.max(ParcelColdChainFlag.minutes_out))
        .where(ParcelColdChainFlag.parcel_id.in_(parcel_ids))
        .group_by(ParcelColdChainFlag.parcel_id)
    )
    return {parcel_id: int(m) for parcel_id, m in rows}


def tab_counts(db_session: Session, window_id: int, now: datetime) -> dict[str, int]:
    """How many parcels of the window each parcel tab holds, and the window's orders."""
    counts: dict[str, int] = defaultdict(int)
    counts["orders"] = int(
        db_session.scalar(
            select(func.count()).select_from(Order).where(Order.window_id == window_id)
        )
        or 0
    )
    by_status = db_session.execute(
        select(Parcel.status, func.count())
        .where(Parcel.window_id == window_id)
        .group_by(Parcel.status)
    )
    for status, n in by_status:
        if status == ParcelStatus.READY_FOR_PICKUP:
            counts["ready"] += int(n)
        elif status in (ParcelStatus.EXPIRED, ParcelStatus.RETRIEVED):
            counts["expired"] += int(n)
        elif status == ParcelStatus.UNDELIVERED:
            counts["undelivered"] += int(n)
    for tab in ("expiring", "cold"):
        where = [Parcel.window_id == window_id, *_parcel_filter(tab, now)]
        counts[tab] = int(
            db_session.scalar(select(func.count()).select_from(Parcel).where(*where)) or 0
        )
    return dict(counts)


@dataclass
class Line:
    """An order line with its group buy's outcome."""

    product: str
    temperature_class: str
    quantity: int
    paid_unit_minor: int
    final_unit_minor: int | None
    status: str
    group_status: str
    group_ordered: int
    group_min: int
    tier_min: int | None


def order_lines(db_session: Session, order: Order) -> list[Line]:
    """An order's lines with their group buys' outcome and the price tier reached."""
    rows = db_session.execute(
        select(OrderLine, Product, GroupBuy)
        .join(Product, Product.id == OrderLine.product_id)
        .join(GroupBuy, GroupBuy.id == OrderLine.group_buy_id)
        .where(OrderLine.order_id == order.id)
        .order_by(OrderLine.id)
    ).all()
    tiers: dict[int, list[tuple[int, int]]] = {}
    for gb_id, min_q, price in db_session.execute(
        select(PriceTier.group_buy_id, PriceTier.min_quantity, PriceTier.unit_price_minor).where(
            PriceTier.group_buy_id.in_([gb.id for _, _, gb in rows])
        )
    ):
        tiers.setdefault(gb_id, []).append((min_q, price))
    lines = []
    for line, product, gb in rows:
        reached = [m for m, _ in tiers.get(gb.id, []) if m <= gb.ordered_quantity]
        lines.append(
            Line(
                product=product.name,
                temperature_class=str(product.temperature_class),
                quantity=line.quantity,
                paid_unit_minor=line.paid_unit_price_minor,
                final_unit_minor=line.final_unit_price_minor,
                status=str(line.status),
                group_status=str(gb.status),
                group_ordered=gb.ordered_quantity,
                group_min=gb.min_quantity,
                tier_min=max(reached) if reached else None,
            )
        )
    return lines
