"""Compartment reservation: each parcel books a free compartment of its zone and size (or larger).

Parcels go to their own neighborhood's bank(s) first (larger parcels first, so they are not
crowded out of the big compartments); what does not fit overflows to the nearest bank with room
(great-circle distance), and an outbox event "parcel.overflow" tells the resident which bank.
A compartment is claimed with one atomic conditional statement (PostgreSQL: `SELECT ... FOR
UPDATE SKIP LOCKED` then `UPDATE`; SQLite: `UPDATE ... WHERE status = 'free' RETURNING id`), so two
pipelines running at once can never book the same compartment: the loser re-plans its parcels
on a fresh snapshot. Parcels that fit nowhere stay packed with the reason, never dropped.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.core.db import utcnow
from app.core.enums import CompartmentSize, TemperatureClass
from app.core.errors import NotFound
from app.events import service as event_service
from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods.models import Compartment, CompartmentStatus, LockerBank, Neighborhood
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus
from app.windows.models import DeliveryWindow
from logistics import lifecycle, packing
from logistics.models import Parcel, ParcelStatus
from logistics.solver.travel import haversine_m

SIZE_RANK = {size: rank for rank, size in enumerate(packing.SIZES)}
NO_ROOM_REASON = "no free compartment of its zone and size in any locker bank of the city"
CONTENDED_REASON = "compartments were taken by a concurrent reservation; re-run to retry"
MAX_ROUNDS = 5
CLAIM_CHUNK = 500

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Want:
    """A parcel that needs a compartment."""

    parcel_id: int
    order_id: int
    resident_id: int
    neighborhood_id: int
    temperature_class: TemperatureClass
    size: CompartmentSize
    status: ParcelStatus


@dataclass
class ReservationReport:
    """What a reservation pass did."""

    reserved: int = 0
    overflowed: int = 0
    unplaced: int = 0
    contended_rounds: int = 0
    unplaced_parcel_ids: list[int] = field(default_factory=list)


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


class _Pool:
    """Free compartment ids by bank, zone and size, taken smallest size first."""

    def __init__(self, rows: Iterable[tuple[int, int, str, str]]) -> None:
        self.free: dict[tuple[int, TemperatureClass], dict[CompartmentSize, list[int]]] = (
            defaultdict(lambda: defaultdict(list))
        )
        for comp_id, bank_id, zone, size in sorted(rows, reverse=True):
            self.free[(bank_id, TemperatureClass(zone))][CompartmentSize(size)].append(comp_id)

    def take(self, bank_id: int, zone: TemperatureClass, size: CompartmentSize) -> int | None:
        """A free compartment id of this bank and zone at least `size`, removed from the pool."""
        by_size = self.free.get((bank_id, zone))
        if not by_size:
            return None
        for candidate in packing.SIZES[SIZE_RANK[size] :]:
            ids = by_size.get(candidate)
            if ids:
                return ids.pop()
        return None


def _claim(db_session: Session, ids: Sequence[int]) -> set[int]:
    """Atomically move these compartments from free to reserved; return the ids that moved."""
    if not ids:
        return set()
    dialect = db_session.get_bind().dialect.name
    if dialect == "postgresql":
        locked = list(
            db_session.scalars(
                select(Compartment.id)
                .where(Compartment.id.in_(ids), Compartment.status == CompartmentStatus.FREE)
                .order_by(Compartment.id)
                .with_for_update(skip_locked=True)
            )
        )
        if locked:
            compartment_lifecycle.move_compartments(
                db_session=db_session,
                ids=locked,
                frm=CompartmentStatus.FREE,
                to=CompartmentStatus.RESERVED,
            )
        return set(locked)
    if dialect == "sqlite":
        return compartment_lifecycle.move_compartments_returning(
            db_session=db_session,
            ids=ids,
            frm=CompartmentStatus.FREE,
            to=CompartmentStatus.RESERVED,
        )
    won: set[int] = set()
    for comp_id in ids:
        moved = compartment_lifecycle.move_compartments(
            db_session=db_session,
            ids=[comp_id],
            frm=CompartmentStatus.FREE,
            to=CompartmentStatus.RESERVED,
        )
        if moved == 1:
            won.add(comp_id)
    return won


def _banks(
    db_session: Session, city_id: int
) -> tuple[dict[int, tuple[float, float]], dict[int, list[int]], dict[int, tuple[float, float]]]:
    """Bank locations, banks per neighborhood, and neighborhood locations of a city."""
    rows = db_session.execute(
        select(
            LockerBank.id,
            LockerBank.neighborhood_id,
            LockerBank.lat,
            LockerBank.lon,
            Neighborhood.active,
        )
        .join(Neighborhood, Neighborhood.id == LockerBank.neighborhood_id)
        .where(Neighborhood.city_id == city_id)
        .order_by(LockerBank.id)
    ).all()
    where: dict[int, tuple[float, float]] = {}
    by_hood: dict[int, list[int]] = defaultdict(list)
    for bank_id, hood_id, lat, lon, active in rows:
        by_hood[hood_id].append(bank_id)
        if active:
            where[bank_id] = (lat, lon)
    hoods = {
        hood_id: (lat, lon)
        for hood_id, lat, lon in db_session.execute(
            select(Neighborhood.id, Neighborhood.lat, Neighborhood.lon).where(
                Neighborhood.city_id == city_id
            )
        )
    }
    return where, by_hood, hoods


def _snapshot(db_session: Session, bank_ids: Iterable[int]) -> _Pool:
    """The free compartments of these banks now."""
    ids = list(bank_ids)
    rows: list[tuple[int, int, str, str]] = []
    for start in range(0, len(ids), 1000):
        rows.extend(
            (row[0], row[1], row[2], row[3])
            for row in db_session.execute(
                select(
                    Compartment.id, Compartment.bank_id, Compartment.zone, Compartment.size
                ).where(
                    Compartment.bank_id.in_(ids[start : start + 1000]),
                    Compartment.status == CompartmentStatus.FREE,
                )
            )
        )
    return _Pool(rows)


def reserve(
    *,
    db_session: Session,
    city_id: int,
    wants: Sequence[Want],
    exclude_bank_ids: Iterable[int] = (),
    from_bank_of: dict[int, int] | None = None,
    batch_size: int = 2000,
    commit: bool = True,
    on_progress: Progress | None = None,
) -> ReservationReport:
    """Book compartments for these parcels: own neighborhood first, then the nearest bank with room.

    `from_bank_of` names, per parcel, the bank it is moved away from (re-plans); by default the
    first bank of the parcel's own neighborhood. Commits after each claimed chunk when `commit`.
    """
    excluded = set(exclude_bank_ids)
    where, by_hood, hoods = _banks(db_session, city_id)
    for bank_id in excluded:
        where.pop(bank_id, None)
    nearest: dict[int, list[int]] = {}

    def overflow_order(hood_id: int) -> list[int]:
        if hood_id not in nearest:
            origin = hoods[hood_id]
            own = set(by_hood.get(hood_id, []))
            nearest[hood_id] = sorted(
                (b for b in where if b not in own), key=lambda b: haversine_m(origin, where[b])
            )
        return nearest[hood_id]

    report = ReservationReport()
    pending = sorted(wants, key=lambda w: (w.neighborhood_id, -SIZE_RANK[w.size], w.parcel_id))
    total = len(pending)
    done = 0
    for round_no in range(MAX_ROUNDS):
        pool = _snapshot(db_session, where)
        plan: list[tuple[Want, int, int]] = []
        leftovers: list[Want] = []
        for want in pending:
            comp = None
            for bank_id in by_hood.get(want.neighborhood_id, []):
                if bank_id in where:
                    comp = pool.take(bank_id, want.temperature_class, want.size)
                    if comp is not None:
                        plan.append((want, bank_id, comp))
                        break
            if comp is None:
                leftovers.append(want)
        nowhere: list[Want] = []
        for want in leftovers:
            for bank_id in overflow_order(want.neighborhood_id):
                comp = pool.take(bank_id, want.temperature_class, want.size)
                if comp is not None:
                    plan.append((want, bank_id, comp))
                    break
            else:
                nowhere.append(want)
        _mark_unplaced(db_session, nowhere, NO_ROOM_REASON, report)
        done += len(nowhere)
        lost: list[Want] = []
        for start in range(0, len(plan), batch_size):
            chunk = plan[start : start + batch_size]
            won: set[int] = set()
            ids = sorted(comp for _, _, comp in chunk)
            for i in range(0, len(ids), CLAIM_CHUNK):
                won |= _claim(db_session, ids[i : i + CLAIM_CHUNK])
            placed = [(w, b, c) for w, b, c in chunk if c in won]
            lost.extend(w for w, _, c in chunk if c not in won)
            _apply(db_session, placed, by_hood, from_bank_of or {}, report)
            if commit:
                db_session.commit()
            else:
                db_session.flush()
            done += len(placed)
            if on_progress is not None:
                on_progress(done, total)
        if not lost:
            break
        report.contended_rounds = round_no + 1
        pending = lost
    else:
        _mark_unplaced(db_session, pending, CONTENDED_REASON, report)
    if commit:
        db_session.commit()
    else:
        db_session.flush()
    return report


def _apply(
    db_session: Session,
    placed: Sequence[tuple[Want, int, int]],
    by_hood: dict[int, list[int]],
    from_bank_of: dict[int, int],
    report: ReservationReport,
) -> None:
    """Point the parcels at their claimed compartments and tell residents about overflows."""
    if not placed:
        return
    assert lifecycle.can_transition(ParcelStatus.PACKED, ParcelStatus.RESERVED)
    now = utcnow()
    db_session.execute(
        update(Parcel),
        [
            {
                "id": w.parcel_id,
                "bank_id": bank_id,
                "compartment_id": comp_id,
                "status": ParcelStatus.RESERVED if w.status == ParcelStatus.PACKED else w.status,
                "unplaced_reason": None,
                "reserved_at": now,
                "updated_at": now,
            }
            for w, bank_id, comp_id in placed
        ],
    )
    events: list[tuple[str, dict[str, Any]]] = []
    for want, bank_id, _ in placed:
        home = by_hood.get(want.neighborhood_id, [])
        if bank_id in home and want.parcel_id not in from_bank_of:
            continue
        origin = from_bank_of.get(want.parcel_id, home[0] if home else None)
        events.append(
            (
                f"parcel.overflow:{want.parcel_id}:{bank_id}",
                {
                    "parcel_id": want.parcel_id,
                    "order_id": want.order_id,
                    "resident_id": want.resident_id,
                    "from_bank_id": origin,
                    "to_bank_id": bank_id,
                },
            )
        )
    report.overflowed += event_service.emit_many(
        db_session=db_session, kind="parcel.overflow", events=events
    )
    report.reserved += len(placed)


def _mark_unplaced(
    db_session: Session, wants: Sequence[Want], reason: str, report: ReservationReport
) -> None:
    """Keep these parcels where they are (packed), with the reason they have no compartment."""
    if not wants:
        return
    now = utcnow()
    db_session.execute(
        update(Parcel),
        [{"id": w.parcel_id, "unplaced_reason": reason, "updated_at": now} for w in wants],
    )
    report.unplaced += len(wants)
    report.unplaced_parcel_ids.extend(w.parcel_id for w in wants)


def wants_for_window(*, db_session: Session, window_id: int) -> list[Want]:
    """Packed parcels of the window without a compartment (oversize ones excluded)."""
    rows = db_session.execute(
        select(
            Parcel.id,
            Parcel.order_id,
            Parcel.resident_id,
            Parcel.neighborhood_id,
            Parcel.temperature_class,
            Parcel.compartment_size,
            Parcel.status,
        ).where(
            Parcel.window_id == window_id,
            Parcel.status == ParcelStatus.PACKED,
            Parcel.compartment_id.is_(None),
            func.coalesce(Parcel.unplaced_reason, "") != packing.OVERSIZE_REASON,
        )
    ).all()
    return [
        Want(
            r[0],
            r[1],
            r[2],
            r[3],
            TemperatureClass(r[4]),
            CompartmentSize(r[5]),
            ParcelStatus(r[6]),
        )
        for r in rows
    ]


def reserve_window(
    *,
    db_session: Session,
    window_id: int,
    batch_size: int = 2000,
    commit: bool = True,
    on_progress: Progress | None = None,
) -> ReservationReport:
    """Reserve compartments for every packed parcel of the window that has none yet."""
    window = db_session.get(DeliveryWindow, window_id)
    if window is None:
        raise NotFound(f"delivery window {window_id} does not exist", field="window_id")
    return reserve(
        db_session=db_session,
        city_id=window.city_id,
        wants=wants_for_window(db_session=db_session, window_id=window_id),
        batch_size=batch_size,
        commit=commit,
        on_progress=on_progress,
    )


def release(*, db_session: Session, parcel_id: int) -> Parcel:
    """Give a parcel's reserved compartment back (free) and detach it from the parcel."""
    parcel = db_session.get(Parcel, parcel_id)
    if parcel is None:
        raise NotFound(f"parcel {parcel_id} does not exist", field="parcel_id")
    if parcel.compartment_id is not None:
        compartment_lifecycle.move_compartments(
            db_session=db_session,
            ids=[parcel.compartment_id],
            frm=CompartmentStatus.RESERVED,
            to=CompartmentStatus.FREE,
        )
    parcel.compartment_id = None
    parcel.bank_id = None
    if parcel.status == ParcelStatus.RESERVED:
        lifecycle.transition(parcel, ParcelStatus.PACKED)
    db_session.flush()
    return parcel


def get(*, db_session: Session, parcel_id: int) -> Parcel | None:
    """A parcel by id."""
    return db_session.get(Parcel, parcel_id)


def get_all_for_bank(
    *, db_session: Session, bank_id: int, window_id: int | None = None
) -> list[Parcel]:
    """Parcels booked into a bank (optionally of one window), by compartment."""
    query = select(Parcel).where(Parcel.bank_id == bank_id).order_by(Parcel.compartment_id)
    if window_id is not None:
        query = query.where(Parcel.window_id == window_id)
    return list(db_session.scalars(query))


def get_by_compartment(*, db_session: Session, compartment_id: int) -> Parcel | None:
    """The parcel currently booked into a compartment (reserved, on its way or waiting)."""
    return db_session.scalar(
        select(Parcel)
        .where(
            Parcel.compartment_id == compartment_id,
            Parcel.status.in_(
                [ParcelStatus.RESERVED, ParcelStatus.LOADED, ParcelStatus.READY_FOR_PICKUP]
            ),
        )
        .order_by(Parcel.id.desc())
    )


def capacity_for(
    *, db_session: Session, neighborhood_id: int, window_id: int, fill_factor: float = 0.85
) -> dict[TemperatureClass, CapacityInfo]:
    """Room left per zone in the neighborhood's lockers for a window, known at order time.

    Free compartments now, minus the parcels expected from the window's placed and confirmed
    orders (estimated with the packing rules) and its packed parcels still without a compartment;
    each expected parcel takes the smallest free size that holds it.
    """
    hood = db_session.get(Neighborhood, neighborhood_id)
    if hood is None:
        raise NotFound(f"neighborhood {neighborhood_id} does not exist", field="neighborhood_id")
    window = db_session.get(DeliveryWindow, window_id)
    if window is None or window.city_id != hood.city_id:
        raise NotFound(f"delivery window {window_id} does not exist", field="window_id")
    free: dict[TemperatureClass, dict[CompartmentSize, int]] = {
        tc: dict.fromkeys(packing.SIZES, 0) for tc in TemperatureClass
    }
    for zone, size, count in db_session.execute(
        select(Compartment.zone, Compartment.size, func.count())
        .join(LockerBank, LockerBank.id == Compartment.bank_id)
        .where(
            LockerBank.neighborhood_id == neighborhood_id,
            Compartment.status == CompartmentStatus.FREE,
        )
        .group_by(Compartment.zone, Compartment.size)
    ):
        free[TemperatureClass(zone)][CompartmentSize(size)] = int(count)
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
    db_session: Session, window: DeliveryWindow, neighborhood_id: int, fill_factor: float
) -> dict[TemperatureClass, list[CompartmentSize]]:
    """Compartment sizes the window's not-yet-reserved orders of the neighborhood will need."""
    table = packing.usable_volumes(
        db_session=db_session, city_id=window.city_id, fill_factor=fill_factor
    )
    lines: dict[int, list[tuple[TemperatureClass, int, int, int]]] = defaultdict(list)
    for order_id, tc, volume, weight, quantity in db_session.execute(
        select(
            Order.id,
            Product.temperature_class,
            Product.packed_volume_ml,
            Product.weight_g,
            OrderLine.quantity,
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.window_id == window.id,
            Order.neighborhood_id == neighborhood_id,
            Order.status.in_([OrderStatus.PLACED, OrderStatus.CONFIRMED]),
            OrderLine.status.in_([LineStatus.PLACED, LineStatus.CONFIRMED]),
        )
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


def emit_reserved_events(
    *, db_session: Session, window_id: int, parcel_ids: Sequence[int] | None = None
) -> int:
    """Emit "parcel.reserved" (bank, compartment) for booked parcels, once per compartment.

    The lockers package turns these into reservations and pickup codes on the bank; a parcel
    moved to another compartment (re-plan) gets a new event, a re-run gets none.
    """
    query = (
        select(
            Parcel.id,
            Parcel.order_id,
            Parcel.resident_id,
            Parcel.bank_id,
            Parcel.compartment_id,
            Compartment.label,
            Parcel.temperature_class,
            Parcel.pickup_deadline,
            Parcel.neighborhood_id,
        )
        .join(Compartment, Compartment.id == Parcel.compartment_id)
        .where(
            Parcel.window_id == window_id,
            Parcel.status.in_([ParcelStatus.RESERVED, ParcelStatus.LOADED]),
        )
        .order_by(Parcel.id)
    )
    if parcel_ids is not None:
        query = query.where(Parcel.id.in_(list(parcel_ids)))
    events: list[tuple[str, dict[str, Any]]] = []
    for (
        pid,
        order_id,
        resident_id,
        bank_id,
        comp_id,
        label,
        tc,
        deadline,
        hood_id,
    ) in db_session.execute(query):
        events.append(
            (
                f"parcel.reserved:{pid}:{comp_id}",
                {
                    "parcel_id": pid,
                    "order_id": order_id,
                    "resident_id": resident_id,
                    "window_id": window_id,
                    "neighborhood_id": hood_id,
                    "bank_id": bank_id,
                    "compartment_id": comp_id,
                    "compartment_label": label,
                    "temperature_class": TemperatureClass(tc).value,
                    "pickup_deadline": deadline.isoformat(),
                },
            )
        )
    return event_service.emit_many(db_session=db_session, kind="parcel.reserved", events=events)
