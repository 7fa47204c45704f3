"""The depot's lists for a closed window: the pick list (each product's total by temperature
class) and the packing list (each parcel with its lines, compartment and bank), grouped by van
and pickup point; and both as CSV for Excel (UTF-8 with BOM, numbers as numbers).

Both lists read the same parcels (every parcel of the window but cancelled ones), so the pick
list's totals are the packing list's lines added up.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.core.enums import TemperatureClass
from app.neighborhoods.models import Compartment, LockerBank, Neighborhood
from app.orders.models import LineStatus, OrderLine
from app.residents.models import Resident
from logistics.models import Parcel, ParcelStatus, Route, RouteStop, Vehicle

CLASS_ORDER = {TemperatureClass.FROZEN: 0, TemperatureClass.CHILLED: 1, TemperatureClass.AMBIENT: 2}
NOT_PICKED = (LineStatus.CANCELLED, LineStatus.GROUP_FAILED)
NO_VAN = 0


def _in_window(window_id: int) -> list[Any]:
    return [Parcel.window_id == window_id, Parcel.status != ParcelStatus.CANCELLED]


def mask_name(name: str) -> str:
    """A resident's name as the depot sees it: the first character, then stars."""
    name = name.strip()
    return f"{name[0]}{'*' * min(len(name) - 1, 3)}" if name else ""


@dataclass
class PickRow:
    """One product to pick: its total over the window's parcels."""

    temperature_class: str
    sku: str
    name: str
    name_zh: str
    unit: str
    quantity: int


def pick_list(db_session: Session, window_id: int) -> list[PickRow]:
    """Each product's total quantity over the window's parcels, frozen then chilled then ambient."""
    orders = select(Parcel.order_id).where(*_in_window(window_id)).distinct()
    totals: dict[int, int] = {
        product_id: int(quantity)
        for product_id, quantity in db_session.execute(
            select(OrderLine.product_id, func.sum(OrderLine.quantity))
            .where(OrderLine.order_id.in_(orders), OrderLine.status.not_in(NOT_PICKED))
            .group_by(OrderLine.product_id)
        )
    }
    products = db_session.scalars(select(Product).where(Product.id.in_(totals)))
    picks = [
        PickRow(str(p.temperature_class), p.sku, p.name, p.name_zh, p.unit, int(totals[p.id]))
        for p in products
    ]
    picks.sort(key=lambda r: (CLASS_ORDER.get(TemperatureClass(r.temperature_class), 9), r.name))
    return picks


@dataclass
class PackRow:
    """A parcel to pack: whose (name masked), its lines, where it goes."""

    parcel_id: int
    order_id: int
    name: str
    temperature_class: str
    size: str
    part: int
    compartment: str
    lines: list[tuple[str, str, int]] = field(default_factory=list)
    parts: int = 1


@dataclass
class PickupPoint:
    """A locker bank on a van's route and the parcels it receives."""

    bank_id: int | None
    code: str
    name: str
    neighborhood: str
    stop: int | None
    parcels: list[PackRow] = field(default_factory=list)


@dataclass
class VanLoad:
    """One van's parcels by pickup point (route_id NO_VAN: parcels on no route)."""

    route_id: int
    code: str
    name: str
    points: list[PickupPoint] = field(default_factory=list)

    @property
    def parcel_count(self) -> int:
        """How many parcels the van carries."""
        return sum(len(point.parcels) for point in self.points)


def vans(db_session: Session, window_id: int) -> list[tuple[int, str, int]]:
    """(route id, van code, parcels) of the window's vans, and the parcels on no route."""
    rows = db_session.execute(
        select(RouteStop.route_id, Vehicle.code, func.count())
        .select_from(Parcel)
        .outerjoin(RouteStop, RouteStop.id == Parcel.route_stop_id)
        .outerjoin(Route, Route.id == RouteStop.route_id)
        .outerjoin(Vehicle, Vehicle.id == Route.vehicle_id)
        .where(*_in_window(window_id))
        .group_by(RouteStop.route_id, Vehicle.code)
    ).all()
    found = [(route_id or NO_VAN, code or "", int(n)) for route_id, code, n in rows]
    return sorted(found, key=lambda v: (v[0] == NO_VAN, v[1]))


def packing_list(db_session: Session, window_id: int, route_id: int | None = None) -> list[VanLoad]:
    """The window's parcels by van and pickup point (one van's when `route_id` is given)."""
    where = _in_window(window_id)
    if route_id == NO_VAN:
        where.append(Parcel.route_stop_id.is_(None))
    elif route_id is not None:
        where.append(RouteStop.route_id == route_id)
    rows = db_session.execute(
        select(
            Parcel.id,
            Parcel.order_id,
            Parcel.temperature_class,
            Parcel.compartment_size,
            Parcel.sequence,
            Resident.name,
            Neighborhood.name,
            LockerBank.id,
            LockerBank.code,
            LockerBank.name,
            Compartment.label,
            RouteStop.sequence,
            RouteStop.route_id,
            Vehicle.code,
            Vehicle.name,
        )
        .join(Resident, Resident.id == Parcel.resident_id)
        .join(Neighborhood, Neighborhood.id == Parcel.neighborhood_id)
        .outerjoin(LockerBank, LockerBank.id == Parcel.bank_id)
        .outerjoin(Compartment, Compartment.id == Parcel.compartment_id)
        .outerjoin(RouteStop, RouteStop.id == Parcel.route_stop_id)
        .outerjoin(Route, Route.id == RouteStop.route_id)
        .outerjoin(Vehicle, Vehicle.id == Route.vehicle_id)
        .where(*where)
    ).all()
    order_ids = {row[1] for row in rows}
    lines = _lines_by_order_and_class(db_session, order_ids)
    parts = _parts(db_session, window_id, order_ids)
    loads: dict[int, VanLoad] = {}
    points: dict[tuple[int, int | None], PickupPoint] = {}
    for (
        parcel_id,
        order_id,
        temperature_class,
        size,
        sequence,
        who,
        hood,
        bank_id,
        bank_code,
        bank_name,
        label,
        stop,
        r_id,
        code,
        van_name,
    ) in rows:
        load = loads.setdefault(r_id or NO_VAN, VanLoad(r_id or NO_VAN, code or "", van_name or ""))
        key = (load.route_id, bank_id)
        if key not in points:
            points[key] = PickupPoint(bank_id, bank_code or "", bank_name or "", hood, stop)
            load.points.append(points[key])
        tc = str(temperature_class)
        points[key].parcels.append(
            PackRow(
                parcel_id=parcel_id,
                order_id=order_id,
                name=mask_name(who),
                temperature_class=tc,
                size=str(size),
                part=sequence,
                compartment=label or "",
                lines=lines.get((order_id, tc), []),
                parts=parts.get((order_id, tc), 1),
            )
        )
    for load in loads.values():
        load.points.sort(key=lambda p: (p.stop is None, p.stop or 0, p.code))
        for point in load.points:
            point.parcels.sort(key=lambda r: (r.compartment, r.parcel_id))
    return sorted(loads.values(), key=lambda v: (v.route_id == NO_VAN, v.code))


def _lines_by_order_and_class(
    db_session: Session, order_ids: set[int]
) -> dict[tuple[int, str], list[tuple[str, str, int]]]:
    found: dict[tuple[int, str], list[tuple[str, str, int]]] = defaultdict(list)
    if not order_ids:
        return found
    rows = db_session.execute(
        select(
            OrderLine.order_id,
            Product.temperature_class,
            Product.sku,
            Product.name,
            OrderLine.quantity,
        )
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.order_id.in_(order_ids), OrderLine.status.not_in(NOT_PICKED))
        .order_by(OrderLine.id)
    )
    for order_id, tc, sku, name, quantity in rows:
        found[(order_id, str(tc))].append((sku, name, int(quantity)))
    return found


def _parts(db_session: Session, window_id: int, order_ids: set[int]) -> dict[tuple[int, str], int]:
    counts: dict[tuple[int, str], int] = defaultdict(int)
    if not order_ids:
        return counts
    rows = db_session.execute(
        select(Parcel.order_id, Parcel.temperature_class).where(
            *_in_window(window_id), Parcel.order_id.in_(order_ids)
        )
    )
    for order_id, tc in rows:
        counts[(order_id, str(tc))] += 1
    return counts


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def pick_list_csv(picks: list[PickRow]) -> bytes:
    """The pick list as CSV for Excel."""
    header = ["temperature_class", "sku", "product", "product_zh", "unit", "quantity"]
    return _csv(
        header, [[p.temperature_class, p.sku, p.name, p.name_zh, p.unit, p.quantity] for p in picks]
    )


def packing_list_csv(loads: list[VanLoad]) -> bytes:
    """The packing list as CSV for Excel: one row per parcel line."""
    header = [
        "van",
        "stop",
        "bank",
        "bank_name",
        "neighborhood",
        "compartment",
        "parcel_id",
        "part",
        "parts",
        "order_id",
        "resident",
        "temperature_class",
        "sku",
        "product",
        "quantity",
    ]
    rows: list[list[Any]] = []
    for load in loads:
        for point in load.points:
            for p in point.parcels:
                start = [
                    load.code,
                    point.stop if point.stop is not None else "",
                    point.code,
                    point.name,
                    point.neighborhood,
                    p.compartment,
                    p.parcel_id,
                    p.part,
                    p.parts,
                    p.order_id,
                    p.name,
                    p.temperature_class,
                ]
                for sku, product, quantity in p.lines or [("", "", 0)]:
                    rows.append([*start, sku, product, quantity])
    return _csv(header, rows)
