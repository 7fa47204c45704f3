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

from sqlalchemy.orm import Session

from app.catalog.queries import product_labels
from app.core.enums import TemperatureClass
from app.neighborhoods.queries import bank_labels, compartment_labels, neighborhood_names
from app.orders.queries import picked_lines_of_orders, picked_quantity_by_product
from app.residents.queries import resident_contacts
from logistics.queries import (
    live_parcel_counts_by_route,
    live_parcels_with_vans,
    live_parts_by_order_and_class,
    order_ids_with_live_parcels,
)

CLASS_ORDER = {TemperatureClass.FROZEN: 0, TemperatureClass.CHILLED: 1, TemperatureClass.AMBIENT: 2}
NO_VAN = 0


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
    totals = picked_quantity_by_product(db_session, order_ids_with_live_parcels(window_id))
    products = product_labels(db_session, totals).values()
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
    rows = live_parcel_counts_by_route(db_session, window_id)
    found = [(route_id or NO_VAN, code or "", n) for route_id, code, n in rows]
    return sorted(found, key=lambda v: (v[0] == NO_VAN, v[1]))


def packing_list(db_session: Session, window_id: int, route_id: int | None = None) -> list[VanLoad]:
    """The window's parcels by van and pickup point (one van's when `route_id` is given)."""
    loaded = live_parcels_with_vans(
        db_session,
        window_id,
        route_id=route_id if route_id != NO_VAN else None,
        unrouted=route_id == NO_VAN,
    )
    parcels = [each.parcel for each in loaded]
    order_ids = {p.order_id for p in parcels}
    residents = resident_contacts(db_session, {p.resident_id for p in parcels})
    hoods = neighborhood_names(db_session, {p.neighborhood_id for p in parcels})
    banks = bank_labels(db_session, {p.bank_id for p in parcels if p.bank_id is not None})
    compartments = compartment_labels(
        db_session, {p.compartment_id for p in parcels if p.compartment_id is not None}
    )
    lines = _lines_by_order_and_class(db_session, order_ids)
    parts = live_parts_by_order_and_class(db_session, window_id, order_ids)
    loads: dict[int, VanLoad] = {}
    points: dict[tuple[int, int | None], PickupPoint] = {}
    for each in loaded:
        p = each.parcel
        r_id = each.route_id or NO_VAN
        load = loads.setdefault(r_id, VanLoad(r_id, each.van_code or "", each.van_name or ""))
        key = (load.route_id, p.bank_id)
        if key not in points:
            bank = banks.get(p.bank_id) if p.bank_id is not None else None
            points[key] = PickupPoint(
                p.bank_id,
                bank.code if bank else "",
                bank.name if bank else "",
                hoods[p.neighborhood_id],
                each.stop_sequence,
            )
            load.points.append(points[key])
        compartment = compartments.get(p.compartment_id) if p.compartment_id else None
        points[key].parcels.append(
            PackRow(
                parcel_id=p.id,
                order_id=p.order_id,
                name=mask_name(residents[p.resident_id].name),
                temperature_class=p.temperature_class,
                size=p.compartment_size,
                part=p.sequence,
                compartment=compartment.label if compartment else "",
                lines=lines.get((p.order_id, p.temperature_class), []),
                parts=parts.get((p.order_id, p.temperature_class), 1),
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
    lines = picked_lines_of_orders(db_session, order_ids)
    products = product_labels(db_session, {line.product_id for line in lines})
    for line in lines:
        product = products[line.product_id]
        found[(line.order_id, product.temperature_class)].append(
            (product.sku, product.name, line.quantity)
        )
    return found


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
