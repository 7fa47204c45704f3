"""Packing: confirmed order lines become parcels, one per order and temperature class.

A parcel that would not fit the largest compartment of its zone (inner volume times the fill
factor) is split, first-fit decreasing over the product units; each parcel then gets the
smallest compartment size that holds it. Packing is idempotent: parcels are unique per
(order, class, sequence) and an order is packed once (its status moves confirmed -> packed).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, Subquery, select
from sqlalchemy.orm import Session

from app.catalog import queries as catalog_queries
from app.core import bulk
from app.core.db import utcnow
from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods import queries as neighborhood_queries
from app.orders import queries as order_queries
from app.orders import states
from app.orders.queries import OrderStatus
from app.windows import queries as window_queries
from app.windows.queries import WindowView
from logistics.models import Parcel

SIZES: tuple[CompartmentSize, ...] = (CompartmentSize.S, CompartmentSize.M, CompartmentSize.L)
# Inner volumes assumed for a zone/size no compartment of the city has (the common bank model).
DEFAULT_INNER_VOLUME_ML = {
    CompartmentSize.S: 20_000,
    CompartmentSize.M: 45_000,
    CompartmentSize.L: 90_000,
}
OVERSIZE_REASON = "larger than the largest compartment of its zone"

Progress = Callable[[int, int], None]
SizeTable = dict[TemperatureClass, dict[CompartmentSize, int]]


@dataclass(frozen=True)
class Unit:
    """One product unit to pack."""

    volume_ml: int
    weight_g: int


@dataclass
class PackedParcel:
    """A parcel before it is stored: its contents' totals and compartment size."""

    temperature_class: TemperatureClass
    volume_ml: int = 0
    weight_g: int = 0
    size: CompartmentSize = CompartmentSize.S
    oversize: bool = False
    units: int = 0


@dataclass
class PackReport:
    """What a packing pass did."""

    orders_packed: int = 0
    parcels_created: int = 0
    split_orders: int = 0
    oversize_parcels: int = 0


def usable_volumes(*, db_session: Session, city_id: int, fill_factor: float) -> SizeTable:
    """Usable volume (ml) per zone and size: the smallest inner volume in the city x fill factor.

    Sizes no compartment of a zone has are left out; a zone without compartments gets the
    default bank model, so packing still works before the lockers are registered.
    """
    smallest = neighborhood_queries.smallest_inner_volumes_in_city(db_session, city_id)
    table: SizeTable = {tc: {} for tc in TemperatureClass}
    for (zone, size), inner in smallest.items():
        table[zone][size] = int(inner * fill_factor)
    for sizes in table.values():
        if not sizes:
            sizes.update({s: int(v * fill_factor) for s, v in DEFAULT_INNER_VOLUME_ML.items()})
    return table


def size_for(volume_ml: int, sizes: dict[CompartmentSize, int]) -> CompartmentSize | None:
    """The smallest size whose usable volume holds `volume_ml`, or None when none does."""
    for size in SIZES:
        if size in sizes and volume_ml <= sizes[size]:
            return size
    return None


def pack_units(
    temperature_class: TemperatureClass, units: Iterable[Unit], sizes: dict[CompartmentSize, int]
) -> list[PackedParcel]:
    """Units of one order and class into parcels no bigger than the largest compartment.

    First-fit decreasing by volume; a unit bigger than every compartment travels alone and is
    marked oversize (reservation reports it instead of booking a compartment it cannot use).
    """
    largest_size = max(sizes, key=lambda s: sizes[s])
    largest = sizes[largest_size]
    units = list(units)
    total = sum(unit.volume_ml for unit in units)
    if units and total <= largest:  # all fit one parcel: what first-fit decreasing gives
        size = size_for(total, sizes) or largest_size
        weight = sum(unit.weight_g for unit in units)
        return [PackedParcel(temperature_class, total, weight, size, units=len(units))]
    parcels: list[PackedParcel] = []
    for unit in sorted(units, key=lambda u: u.volume_ml, reverse=True):
        if unit.volume_ml > largest:
            parcels.append(
                PackedParcel(
                    temperature_class,
                    unit.volume_ml,
                    unit.weight_g,
                    largest_size,
                    oversize=True,
                    units=1,
                )
            )
            continue
        target = next(
            (p for p in parcels if not p.oversize and p.volume_ml + unit.volume_ml <= largest),
            None,
        )
        if target is None:
            target = PackedParcel(temperature_class)
            parcels.append(target)
        target.volume_ml += unit.volume_ml
        target.weight_g += unit.weight_g
        target.units += 1
    for parcel in parcels:
        if not parcel.oversize:
            parcel.size = size_for(parcel.volume_ml, sizes) or largest_size
    return parcels


def pack_lines(
    lines: Iterable[tuple[TemperatureClass, int, int, int]], table: SizeTable
) -> list[PackedParcel]:
    """(class, unit volume, unit weight, quantity) lines of one order into its parcels."""
    by_class: dict[TemperatureClass, list[Unit]] = defaultdict(list)
    for tc, volume, weight, quantity in lines:
        by_class[TemperatureClass(tc)].extend([Unit(volume, weight)] * quantity)
    parcels: list[PackedParcel] = []
    for tc in TemperatureClass:
        if by_class.get(tc):
            parcels.extend(pack_units(tc, by_class[tc], table[tc]))
    return parcels


def with_packing(lines: Subquery) -> Select[int, TemperatureClass, int, int, int]:
    """(order id, temperature class, unit volume, unit weight, quantity) of order lines given
    as a subquery of (order id, product id, quantity): one statement with the products."""
    products = catalog_queries.product_packing_query().subquery()
    return select(
        lines.c.order_id,
        products.c.temperature_class,
        products.c.packed_volume_ml,
        products.c.weight_g,
        lines.c.quantity,
    ).join(products, products.c.id == lines.c.product_id)


def _window(db_session: Session, window_id: int) -> WindowView:
    window = window_queries.window_view(db_session, window_id)
    if window is None:
        raise LookupError(f"delivery window {window_id} does not exist")
    return window


def pack_window(
    *,
    db_session: Session,
    window_id: int,
    fill_factor: float,
    batch_size: int = 2000,
    commit: bool = True,
    on_progress: Progress | None = None,
) -> PackReport:
    """Pack every confirmed order of the window not packed yet, a committed batch at a time."""
    window = _window(db_session, window_id)
    table = usable_volumes(db_session=db_session, city_id=window.city_id, fill_factor=fill_factor)
    order_ids = order_queries.window_order_ids_in_status(
        db_session, window_id, OrderStatus.CONFIRMED
    )
    report = PackReport()
    total = len(order_ids)
    for start in range(0, total, batch_size):
        chunk = order_ids[start : start + batch_size]
        _pack_batch(db_session, window, chunk, table, report, utcnow())
        if commit:
            db_session.commit()
        else:
            db_session.flush()
        if on_progress is not None:
            on_progress(min(start + batch_size, total), total)
    return report


def _pack_batch(
    db_session: Session,
    window: WindowView,
    order_ids: Sequence[int],
    table: SizeTable,
    report: PackReport,
    now: datetime,
) -> None:
    """Create the parcels of these orders (unless some exist) and move the orders to packed."""
    already = set(
        db_session.scalars(
            select(Parcel.order_id)
            .where(bulk.among(db_session, Parcel.order_id, order_ids))
            .distinct()
        )
    )
    picked = order_queries.picked_line_quantities_query(db_session, order_ids).subquery()
    rows = db_session.execute(with_packing(picked)).all()
    lines: dict[int, list[tuple[TemperatureClass, int, int, int]]] = defaultdict(list)
    for order_id, tc, volume, weight, quantity in rows:
        lines[order_id].append((TemperatureClass(tc), volume, weight, quantity))
    orders = order_queries.order_recipients_in_status(db_session, order_ids, OrderStatus.CONFIRMED)
    if not states.can_transition(OrderStatus.CONFIRMED, OrderStatus.PACKED):  # pragma: no cover
        raise states.IllegalTransition("an order cannot go from confirmed to packed")
    new_rows: list[dict[str, object]] = []
    for order in orders:
        if order.id not in already:
            parcels = pack_lines(lines.get(order.id, []), table)
            sequence: dict[TemperatureClass, int] = defaultdict(int)
            for parcel in parcels:
                sequence[parcel.temperature_class] += 1
                new_rows.append(
                    {
                        "order_id": order.id,
                        "window_id": window.id,
                        "resident_id": order.resident_id,
                        "neighborhood_id": order.neighborhood_id,
                        "temperature_class": parcel.temperature_class,
                        "sequence": sequence[parcel.temperature_class],
                        "volume_ml": parcel.volume_ml,
                        "weight_g": parcel.weight_g,
                        "compartment_size": parcel.size,
                        "unplaced_reason": OVERSIZE_REASON if parcel.oversize else None,
                        "pickup_deadline": window.pickup_deadline,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                report.oversize_parcels += int(parcel.oversize)
            if any(n > 1 for n in sequence.values()):
                report.split_orders += 1
    report.parcels_created += bulk.insert_rows(db_session, Parcel, new_rows)
    # One statement for the batch; only orders still confirmed move (the state machine's source).
    report.orders_packed += states.move_orders(
        db_session=db_session,
        order_ids=[order.id for order in orders],
        frm=OrderStatus.CONFIRMED,
        to=OrderStatus.PACKED,
    )
    db_session.flush()
