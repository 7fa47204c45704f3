"""Compartment reservation: each parcel books a free compartment of its zone and size (or larger).

Parcels go to their own neighborhood's bank(s) first (larger parcels first, so they are not
crowded out of the big compartments); what does not fit overflows to the nearest bank with room
(great-circle distance), and an outbox event "parcel.overflow" tells the resident which bank.
Compartments are claimed atomically (`logistics.compartment_claim`), so two pipelines running at
once can never book the same compartment: the loser re-plans its parcels on a fresh snapshot.
Parcels that fit nowhere stay packed with the reason, never dropped.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core import bulk
from app.core.db import utcnow
from app.core.enums import CompartmentSize, TemperatureClass
from app.events import service as event_service
from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import CompartmentStatus
from app.windows import queries as window_queries
from logistics import lifecycle, packing
from logistics.compartment_claim import SIZE_RANK, Pool, claim, snapshot
from logistics.errors import ParcelNotFound, WindowNotFound
from logistics.models import Parcel, ParcelStatus
from logistics.solver.travel import EARTH_RADIUS_M

NO_ROOM_REASON = "no free compartment of its zone and size in any locker bank of the city"
CONTENDED_REASON = "compartments were taken by a concurrent reservation; re-run to retry"
MAX_ROUNDS = 5
CLAIM_CHUNK = 2000

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


def _banks(
    db_session: Session, city_id: int
) -> tuple[dict[int, tuple[float, float]], dict[int, list[int]], dict[int, tuple[float, float]]]:
    """Bank locations, banks per neighborhood, and neighborhood locations of a city."""
    where: dict[int, tuple[float, float]] = {}
    by_hood: dict[int, list[int]] = defaultdict(list)
    for bank in neighborhood_queries.bank_sites_in_city(db_session, city_id):
        by_hood[bank.neighborhood_id].append(bank.id)
        if bank.neighborhood_active:
            where[bank.id] = (bank.lat, bank.lon)
    hoods = neighborhood_queries.neighborhood_points_in_city(db_session, city_id)
    return where, by_hood, hoods


class _Banks:
    """A city's banks for one reservation pass: own neighborhood's first, then the nearest."""

    def __init__(self, db_session: Session, city_id: int, excluded: Iterable[int]) -> None:
        self.where, self.by_hood, self.hoods = _banks(db_session, city_id)
        for bank_id in excluded:
            self.where.pop(bank_id, None)
        self._nearest: dict[int, list[int]] = {}
        self._own: dict[int, list[int]] = {}
        self._ids = list(self.where)
        points = np.radians(np.array([self.where[b] for b in self._ids], dtype=float))
        self._lat, self._lon = points.reshape(-1, 2).T

    def own(self, hood_id: int) -> list[int]:
        """The neighborhood's banks that take parcels in this pass."""
        banks = self._own.get(hood_id)
        if banks is None:
            banks = [b for b in self.by_hood.get(hood_id, []) if b in self.where]
            self._own[hood_id] = banks
        return banks

    def overflow_order(self, hood_id: int) -> list[int]:
        """Other neighborhoods' banks, nearest to this neighborhood first (great circle)."""
        if hood_id not in self._nearest:
            lat, lon = np.radians(self.hoods[hood_id])
            h = (
                np.sin((self._lat - lat) / 2) ** 2
                + np.cos(lat) * np.cos(self._lat) * np.sin((self._lon - lon) / 2) ** 2
            )
            meters = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, h)))
            own = set(self.by_hood.get(hood_id, []))
            self._nearest[hood_id] = [
                self._ids[i] for i in np.argsort(meters, kind="stable") if self._ids[i] not in own
            ]
        return self._nearest[hood_id]


def _place(
    pending: Sequence[Want], pool: Pool, banks: _Banks
) -> tuple[list[tuple[Want, int, int]], list[Want]]:
    """Plan (want, bank, compartment) on the snapshot: own banks for all, then overflow.

    Returns the plan and the parcels that fit nowhere.
    """
    plan: list[tuple[Want, int, int]] = []
    leftovers: list[Want] = []
    for want in pending:
        comp = None
        for bank_id in banks.own(want.neighborhood_id):
            comp = pool.take(bank_id, want.temperature_class, want.size)
            if comp is not None:
                plan.append((want, bank_id, comp))
                break
        if comp is None:
            leftovers.append(want)
    nowhere: list[Want] = []
    for want in leftovers:
        for bank_id in banks.overflow_order(want.neighborhood_id):
            comp = pool.take(bank_id, want.temperature_class, want.size)
            if comp is not None:
                plan.append((want, bank_id, comp))
                break
        else:
            nowhere.append(want)
    return plan, nowhere


def _end_batch(db_session: Session, commit: bool) -> None:
    """Commit the batch when the caller asked for it, else only flush."""
    if commit:
        db_session.commit()
    else:
        db_session.flush()


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
    banks = _Banks(db_session, city_id, exclude_bank_ids)
    report = ReservationReport()
    pending = sorted(wants, key=lambda w: (w.neighborhood_id, -SIZE_RANK[w.size], w.parcel_id))
    total = len(pending)
    done = 0
    for round_no in range(MAX_ROUNDS):
        plan, nowhere = _place(pending, snapshot(db_session, banks.where), banks)
        _mark_unplaced(db_session, nowhere, NO_ROOM_REASON, report)
        done += len(nowhere)
        lost: list[Want] = []
        for start in range(0, len(plan), batch_size):
            chunk = plan[start : start + batch_size]
            won: set[int] = set()
            ids = sorted(comp for _, _, comp in chunk)
            for i in range(0, len(ids), CLAIM_CHUNK):
                won |= claim(db_session, ids[i : i + CLAIM_CHUNK])
            placed = [(w, b, c) for w, b, c in chunk if c in won]
            lost.extend(w for w, _, c in chunk if c not in won)
            _apply(db_session, placed, banks.by_hood, from_bank_of or {}, report)
            _end_batch(db_session, commit)
            done += len(placed)
            if on_progress is not None:
                on_progress(done, total)
        if not lost:
            break
        report.contended_rounds = round_no + 1
        pending = lost
    else:
        _mark_unplaced(db_session, pending, CONTENDED_REASON, report)
    _end_batch(db_session, commit)
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
    same = {"unplaced_reason": None, "reserved_at": now, "updated_at": now}
    # Packed parcels move to reserved (only from packed); the others keep their status.
    for from_packed in (True, False):
        rows = [
            {"id": w.parcel_id, "bank_id": bank_id, "compartment_id": comp_id, **same}
            | {"status": ParcelStatus.RESERVED if from_packed else w.status}
            for w, bank_id, comp_id in placed
            if (w.status == ParcelStatus.PACKED) == from_packed
        ]
        guard = [Parcel.status == ParcelStatus.PACKED] if from_packed else []
        bulk.update_by_key(db_session, Parcel, rows, where=guard)
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
    bulk.update_by_key(
        db_session,
        Parcel,
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
    window = window_queries.window_view(db_session, window_id)
    if window is None:
        raise WindowNotFound(f"delivery window {window_id} does not exist", field="window_id")
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
        raise ParcelNotFound(f"parcel {parcel_id} does not exist", field="parcel_id")
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


def emit_reserved_events(
    *, db_session: Session, window_id: int, parcel_ids: Sequence[int] | None = None
) -> int:
    """Emit "parcel.reserved" (bank, compartment) for booked parcels, once per compartment.

    The lockers package turns these into reservations and pickup codes on the bank; a parcel
    moved to another compartment (re-plan) gets a new event, a re-run gets none.
    """
    compartments = neighborhood_queries.compartment_label_query().subquery()
    query = (
        select(
            Parcel.id,
            Parcel.order_id,
            Parcel.resident_id,
            Parcel.bank_id,
            Parcel.compartment_id,
            compartments.c.label,
            Parcel.temperature_class,
            Parcel.pickup_deadline,
            Parcel.neighborhood_id,
        )
        .join(compartments, compartments.c.id == Parcel.compartment_id)
        .where(
            Parcel.window_id == window_id,
            Parcel.status.in_([ParcelStatus.RESERVED, ParcelStatus.LOADED]),
        )
        .order_by(Parcel.id)
    )
    if parcel_ids is not None:
        query = query.where(Parcel.id.in_(list(parcel_ids)))
    events: list[tuple[str, dict[str, Any]]] = []
    zone_value: dict[object, str] = {}  # thousands of rows share a handful of zones and deadlines
    deadline_text: dict[object, str] = {}
    rows = db_session.execute(query).tuples()
    for parcel_id, order_id, who, bank_id, comp_id, label, tc, deadline, hood in rows:
        if tc not in zone_value:
            zone_value[tc] = TemperatureClass(tc).value
        if deadline not in deadline_text:
            deadline_text[deadline] = deadline.isoformat()
        events.append(
            (
                f"parcel.reserved:{parcel_id}:{comp_id}",
                {
                    "parcel_id": parcel_id,
                    "order_id": order_id,
                    "resident_id": who,
                    "window_id": window_id,
                    "neighborhood_id": hood,
                    "bank_id": bank_id,
                    "compartment_id": comp_id,
                    "compartment_label": label,
                    "temperature_class": zone_value[tc],
                    "pickup_deadline": deadline_text[deadline],
                },
            )
        )
    return event_service.emit_many(db_session=db_session, kind="parcel.reserved", events=events)
