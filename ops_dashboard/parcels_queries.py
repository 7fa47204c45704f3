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

from sqlalchemy.orm import Session

from app.catalog.queries import product_labels
from app.core.errors import InvalidInput
from app.groupbuys.queries import group_buy_outcomes
from app.neighborhoods.queries import bank_labels, compartment_labels, neighborhood_names
from app.orders.queries import (
    OrderStatus,
    OrderView,
    lines_of_order,
    order_count_in_window,
    orders_page,
    units_by_order,
)
from app.residents.queries import resident_contacts, resident_id_in_city
from app.windows.queries import windows_by_id
from lockers.queries import cold_flagged_parcel_ids, max_minutes_out_by_parcel
from logistics.queries import (
    count_window_parcels_in_state,
    parcel_status_counts,
    parcel_statuses_by_order,
    window_parcels_in_state,
)

PAGE_SIZE = 50
EXPIRING_WITHIN = timedelta(hours=3)


class InvalidPhone(InvalidInput):
    """The phone number searched for is not 6 to 15 digits (+ optional)."""

    case = "invalid_phone"


TABS = ("orders", "resident", "ready", "expiring", "expired", "cold", "undelivered")
PARCEL_TABS = TABS[2:]
PHONE = re.compile(r"^\+?[0-9]{6,15}$")
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


def _order_page(db_session: Session, found: tuple[list[OrderView], int], page: int) -> Paged:
    views, total = found
    residents = resident_contacts(db_session, {o.resident_id for o in views})
    hoods = neighborhood_names(db_session, {o.neighborhood_id for o in views})
    windows = windows_by_id(db_session, {o.window_id for o in views})
    orders = [
        OrderRow(
            id=o.id,
            status=o.status,
            created_at=o.created_at,
            phone=residents[o.resident_id].phone,
            neighborhood=hoods[o.neighborhood_id],
            window=windows[o.window_id].label,
            paid_minor=o.paid_minor,
            charged_minor=o.charged_minor,
            currency=o.currency,
        )
        for o in views
    ]
    by_id = {o.id: o for o in orders}
    for order_id, units in units_by_order(db_session, by_id).items():
        by_id[order_id].units = units
    for order_id, parcels in parcel_statuses_by_order(db_session, by_id).items():
        by_id[order_id].parcels.extend(parcels)
    return Paged(orders, total, page, PAGE_SIZE)


def _offset(page: int) -> int:
    return (page - 1) * PAGE_SIZE


def window_orders(
    db_session: Session, window_id: int, page: int, status: OrderStatus | None = None
) -> Paged:
    """A window's orders, newest first, optionally of one status."""
    found = orders_page(
        db_session, window_id=window_id, status=status, limit=PAGE_SIZE, offset=_offset(page)
    )
    return _order_page(db_session, found, page)


def resident_orders(db_session: Session, city_id: int, phone: str, page: int) -> Paged:
    """Every order of the city's resident with this phone (exact, in E.164), newest first."""
    resident_id = resident_id_in_city(db_session, phone, city_id)
    if resident_id is None:
        return Paged([], 0, page, PAGE_SIZE)
    found = orders_page(db_session, resident_id=resident_id, limit=PAGE_SIZE, offset=_offset(page))
    return _order_page(db_session, found, page)


def parcels_in(db_session: Session, window_id: int, tab: str, page: int, now: datetime) -> Paged:
    """A window's parcels in one state (ready, expiring soon, expired, cold chain, undelivered)."""
    expiring_before, cold_flagged = now + EXPIRING_WITHIN, cold_flagged_parcel_ids()
    total = count_window_parcels_in_state(
        db_session, window_id, tab, expiring_before=expiring_before, cold_flagged=cold_flagged
    )
    views = window_parcels_in_state(
        db_session,
        window_id,
        tab,
        expiring_before=expiring_before,
        cold_flagged=cold_flagged,
        limit=PAGE_SIZE,
        offset=_offset(page),
    )
    residents = resident_contacts(db_session, {p.resident_id for p in views})
    hoods = neighborhood_names(db_session, {p.neighborhood_id for p in views})
    banks = bank_labels(db_session, {p.bank_id for p in views if p.bank_id is not None})
    compartments = compartment_labels(
        db_session, {p.compartment_id for p in views if p.compartment_id is not None}
    )
    minutes = max_minutes_out_by_parcel(db_session, [p.id for p in views])
    parcels = [
        ParcelRow(
            id=p.id,
            order_id=p.order_id,
            status=p.status,
            temperature_class=p.temperature_class,
            phone=residents[p.resident_id].phone,
            neighborhood=hoods[p.neighborhood_id],
            bank=banks[p.bank_id].code if p.bank_id in banks else None,
            compartment=(
                compartments[p.compartment_id].label if p.compartment_id in compartments else None
            ),
            pickup_deadline=p.pickup_deadline,
            reason=p.failure_reason or p.unplaced_reason,
            minutes_out=max(
                filter(None, (p.van_minutes_over_limit, minutes.get(p.id))), default=None
            ),
        )
        for p in views
    ]
    return Paged(parcels, total, page, PAGE_SIZE)


def tab_counts(db_session: Session, window_id: int, now: datetime) -> dict[str, int]:
    """How many parcels of the window each parcel tab holds, and the window's orders."""
    counts: dict[str, int] = defaultdict(int)
    counts["orders"] = order_count_in_window(db_session, window_id)
    for status, n in parcel_status_counts(db_session, window_id).items():
        if status == "ready_for_pickup":
            counts["ready"] += n
        elif status in ("expired", "retrieved"):
            counts["expired"] += n
        elif status == "undelivered":
            counts["undelivered"] += n
    for tab in ("expiring", "cold"):
        counts[tab] = count_window_parcels_in_state(
            db_session,
            window_id,
            tab,
            expiring_before=now + EXPIRING_WITHIN,
            cold_flagged=cold_flagged_parcel_ids(),
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


def order_lines(db_session: Session, order: OrderView) -> list[Line]:
    """An order's lines with their group buys' outcome and the price tier reached."""
    lines = lines_of_order(db_session, order.id)
    products = product_labels(db_session, {line.product_id for line in lines})
    groups = group_buy_outcomes(db_session, {line.group_buy_id for line in lines})
    return [
        Line(
            product=products[line.product_id].name,
            temperature_class=products[line.product_id].temperature_class,
            quantity=line.quantity,
            paid_unit_minor=line.paid_unit_price_minor,
            final_unit_minor=line.final_unit_price_minor,
            status=line.status,
            group_status=groups[line.group_buy_id].status,
            group_ordered=groups[line.group_buy_id].ordered_quantity,
            group_min=groups[line.group_buy_id].min_quantity,
            tier_min=groups[line.group_buy_id].tier_reached,
        )
        for line in lines
    ]
