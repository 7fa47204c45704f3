"""Reading queries of the lockers views: every bank's state, a bank's grid, events and audit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods.queries import (
    CompartmentStatus,
    CompartmentView,
    city_banks_with_neighborhood_names,
    compartment_counts_by_bank_zone_status,
)
from app.staff.queries import staff_display_names
from lockers import coldchain, temperature_log
from lockers import queries as locker_queries
from lockers.queries import BankCommandView, CommandStatus, ReceivedLockerEvent
from logistics.parcels import Parcel, ParcelStatus
from logistics.queries import parcel_counts_by_bank_and_status

HISTORY = timedelta(hours=6)
FILTERS = ("all", "offline", "parcels", "cold")
INSIDE = (ParcelStatus.READY_FOR_PICKUP, ParcelStatus.EXPIRED)
SPARK_W, SPARK_H = 90.0, 24.0


@dataclass
class Zone:
    """A temperature zone: the reading now, its limit, the last hours as a sparkline."""

    name: str
    temp_c: float | None
    limit_c: float | None
    readings: list[tuple[datetime, float]] = field(default_factory=list)
    excursion: bool = False

    @property
    def too_warm(self) -> bool:
        """Above its limit now, or in an open excursion."""
        over = self.temp_c is not None and self.limit_c is not None and self.temp_c > self.limit_c
        return over or self.excursion

    def sparkline(self, now: datetime) -> tuple[str, float | None]:
        """SVG points of the readings over the last hours, and the limit's y (or None)."""
        points = sorted(self.readings)
        if self.temp_c is not None:
            points.append((now, self.temp_c))
        if not points:
            return "", None
        values = [v for _, v in points] + ([self.limit_c] if self.limit_c is not None else [])
        low, high = min(values) - 0.5, max(values) + 0.5
        start = now - HISTORY

        def y(value: float) -> float:
            return round(SPARK_H - (value - low) / (high - low) * SPARK_H, 1)

        def x(at: datetime) -> float:
            return round(max(0.0, (at - start) / HISTORY) * SPARK_W, 1)

        if len(points) == 1:
            points.insert(0, (start, points[0][1]))
        line = " ".join(f"{x(at)},{y(value)}" for at, value in points)
        return line, (y(self.limit_c) if self.limit_c is not None else None)


@dataclass
class BankRow:
    """One bank in the list."""

    id: int
    code: str
    name: str
    neighborhood: str
    online: bool
    last_seen_at: datetime | None
    counts: dict[str, int]
    parcels_inside: int
    zones: list[Zone]

    @property
    def cold_alarm(self) -> bool:
        """A watched zone is too warm."""
        return any(z.too_warm for z in self.zones)

    @property
    def total(self) -> int:
        """Compartments in the bank."""
        return sum(self.counts.values())


def bank_rows(db_session: Session, city_id: int, show: str = "all") -> list[BankRow]:
    """Every bank of the city with state, occupancy and temperatures (filtered)."""
    now = utcnow()
    banks = city_banks_with_neighborhood_names(db_session, city_id)
    ids = [bank.id for bank, _ in banks]
    links = locker_queries.bank_links(db_session, ids)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    zones_of: dict[int, set[str]] = defaultdict(set)
    for bank_id, zone, status, n in compartment_counts_by_bank_zone_status(db_session, ids):
        counts[bank_id][status] = counts[bank_id].get(status, 0) + n
        zones_of[bank_id].add(zone)
    inside: dict[int, int] = defaultdict(int)
    for bank_id, _, n in parcel_counts_by_bank_and_status(db_session, ids, INSIDE):
        inside[bank_id] += n
    history = temperature_log.history(db_session=db_session, bank_ids=ids, since=now - HISTORY)
    warm = locker_queries.open_excursion_zones(db_session, ids)
    rows: list[BankRow] = []
    for bank, hood in banks:
        link = links.get(bank.id)
        reported: dict[str, Any] = ((link.state if link else None) or {}).get("zones", {})
        names = sorted(zones_of[bank.id] | set(reported))
        zones = [
            Zone(
                name=name,
                temp_c=reported.get(name),
                limit_c=coldchain.limit_for(name),
                readings=history.get((bank.id, name), []),
                excursion=(bank.id, name) in warm,
            )
            for name in names
        ]
        rows.append(
            BankRow(
                id=bank.id,
                code=bank.code,
                name=bank.name,
                neighborhood=hood,
                online=bool(link and link.online),
                last_seen_at=link.last_seen_at if link else None,
                counts=counts[bank.id],
                parcels_inside=inside.get(bank.id, 0),
                zones=zones,
            )
        )
    if show == "offline":
        return [r for r in rows if not r.online]
    if show == "parcels":
        return [r for r in rows if r.parcels_inside]
    if show == "cold":
        return [r for r in rows if r.cold_alarm]
    return rows


@dataclass(frozen=True)
class Cell:
    """A compartment in the grid: its state (one colour each) and its parcel."""

    id: int
    label: str
    size: str
    zone: str
    state: str
    door_open: bool
    parcel_id: int | None


def grid(
    compartments: list[tuple[CompartmentView, Parcel | None]], reported: dict[str, Any]
) -> list[Cell]:
    """The grid's cells from the bank's compartments and what the locker last reported."""
    cells = []
    for compartment, parcel in compartments:
        state = CompartmentStatus(compartment.status).value
        if parcel is not None and parcel.status == ParcelStatus.EXPIRED:
            state = "expired"
        door = (reported.get(compartment.label) or {}).get("door")
        cells.append(
            Cell(
                id=compartment.id,
                label=compartment.label,
                size=str(getattr(compartment.size, "value", compartment.size)),
                zone=str(getattr(compartment.zone, "value", compartment.zone)),
                state=state,
                door_open=door == "open",
                parcel_id=parcel.id if parcel is not None else None,
            )
        )
    return cells


class AuditEntry(Protocol):
    """An audit entry, as far as naming its actor goes."""

    @property
    def actor_id(self) -> int | None:
        """The staff member who acted, if one did."""
        ...


def recent_events(db_session: Session, bank_id: int, limit: int = 25) -> list[ReceivedLockerEvent]:
    """The bank's newest events."""
    return locker_queries.newest_bank_events(db_session, bank_id, limit)


def audit_names(db_session: Session, entries: Sequence[AuditEntry]) -> dict[int, str]:
    """Who the audit entries' actors are."""
    return staff_display_names(db_session, {e.actor_id for e in entries if e.actor_id is not None})


@dataclass(frozen=True)
class OpenProgress:
    """Where a remote open stands: waiting, acknowledged, confirmed by the door, or failed."""

    command: BankCommandView
    stage: str
    door_event_at: datetime | None = None


def open_progress(db_session: Session, bank_id: int, command_id: str) -> OpenProgress | None:
    """The remote open command of this bank and how far it got."""
    command = locker_queries.bank_command(db_session, command_id)
    if command is None or command.bank_id != bank_id:
        return None
    for event in locker_queries.bank_events_of_type_since(
        db_session, [bank_id], "door_opened", command.created_at - timedelta(seconds=5)
    ):
        if event.payload.get("command_id") == command.id:
            return OpenProgress(command, "confirmed", event.received_at)
    if command.status in (CommandStatus.FAILED, CommandStatus.EXPIRED):
        return OpenProgress(command, "failed")
    if command.status == CommandStatus.ACKED:
        return OpenProgress(command, "acked")
    return OpenProgress(command, "waiting")
