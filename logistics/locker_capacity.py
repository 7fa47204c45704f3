"""Locker room at order time: what a neighborhood's lockers still hold for a window.

Free compartments now, minus the parcels expected from the window's placed and confirmed
orders (estimated with the packing rules) and its packed parcels still without a compartment;
each expected parcel takes the smallest free size that holds it. Read by the residents' shop
(full-locker warnings) and the capacity API before the cut-off; the compartments themselves
are booked at the cut-off (`logistics.reservation`).
"""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods import queries as neighborhood_queries
from app.orders import queries as order_queries
from app.windows import queries as window_queries
from app.windows.queries import WindowCutoff
from logistics import packing
from logistics.compartment_claim import SIZE_RANK
from logistics.errors import NeighborhoodNotFound, WindowNotFound
from logistics.models import Parcel, ParcelStatus


@dataclass(frozen=True)
class CapacityInfo:
    """Locker room of one neighborhood in one zone for a window, before the cut-off."""

    temperature_class: TemperatureClass
    free_compartments: int
    expected_parcels: int
    remaining_compartments: int
    remaining_by_size: dict[CompartmentSize, int]
    unplaced_expected: int
    full: bool


def capacity_for(
    *, db_session: Session, neighborhood_id: int, window_id: int, fill_factor: float = 0.85
) -> dict[TemperatureClass, CapacityInfo]:
    """Room left per zone in the neighborhood's lockers for a window, known at order time.

    Free compartments now, minus the parcels expected from the window's placed and confirmed
    orders (estimated with the packing rules) and its packed parcels still without a compartment;
    each expected parcel takes the smallest free size that holds it.
    """
    hood = neighborhood_queries.neighborhood_standing(db_session, neighborhood_id)
    if hood is None:
        raise NeighborhoodNotFound(
            f"neighborhood {neighborhood_id} does not exist", field="neighborhood_id"
        )
    window = window_queries.window_cutoff(db_session, window_id)
    if window is None or window.city_id != hood.city_id:
        raise WindowNotFound(f"delivery window {window_id} does not exist", field="window_id")
    free: dict[TemperatureClass, dict[CompartmentSize, int]] = {
        tc: dict.fromkeys(packing.SIZES, 0) for tc in TemperatureClass
    }
    counts = neighborhood_queries.free_compartment_counts_in_neighborhood(
        db_session, neighborhood_id
    )
    for (zone, size), count in counts.items():
        free[zone][size] = count
    expected = _expected_sizes(db_session, window, neighborhood_id, fill_factor)
    result: dict[TemperatureClass, CapacityInfo] = {}
    for tc in TemperatureClass:
        left = dict(free[tc])
        unplaced = 0
        for size in sorted(expected[tc], key=lambda s: -SIZE_RANK[s]):
            fit = next((s for s in packing.SIZES[SIZE_RANK[size] :] if left[s] > 0), None)
            if fit is None:
                unplaced += 1
            else:
                left[fit] -= 1
        remaining = sum(left.values())
        result[tc] = CapacityInfo(
            temperature_class=tc,
            free_compartments=sum(free[tc].values()),
            expected_parcels=len(expected[tc]),
            remaining_compartments=remaining,
            remaining_by_size=left,
            unplaced_expected=unplaced,
            full=remaining == 0 or unplaced > 0,
        )
    return result


def _expected_sizes(
    db_session: Session, window: WindowCutoff, neighborhood_id: int, fill_factor: float
) -> dict[TemperatureClass, list[CompartmentSize]]:
    """Compartment sizes the window's not-yet-reserved orders of the neighborhood will need."""
    table = packing.usable_volumes(
        db_session=db_session, city_id=window.city_id, fill_factor=fill_factor
    )
    lines: dict[int, list[tuple[TemperatureClass, int, int, int]]] = defaultdict(list)
    open_lines = order_queries.open_line_quantities_query(window.id, neighborhood_id).subquery()
    for order_id, tc, volume, weight, quantity in db_session.execute(
        packing.with_packing(open_lines)
    ):
        lines[order_id].append((TemperatureClass(tc), volume, weight, quantity))
    sizes: dict[TemperatureClass, list[CompartmentSize]] = {tc: [] for tc in TemperatureClass}
    for order_lines in lines.values():
        for parcel in packing.pack_lines(order_lines, table):
            sizes[parcel.temperature_class].append(parcel.size)
    for tc, size in db_session.execute(
        select(Parcel.temperature_class, Parcel.compartment_size).where(
            and_(
                Parcel.window_id == window.id,
                Parcel.neighborhood_id == neighborhood_id,
                Parcel.status == ParcelStatus.PACKED,
                Parcel.compartment_id.is_(None),
            )
        )
    ):
        sizes[TemperatureClass(tc)].append(CompartmentSize(size))
    return sizes
