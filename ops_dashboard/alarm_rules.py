"""The alarm evaluation pass: what is wrong now, read from the owners' tables, as alarms.

Each rule reads one source with an aggregate query or two and returns the causes it found,
each only once it has lasted past its threshold where a blip is normal (a door open while a
driver loads, a bank rebooting). The pass raises or repeats the alarm of every cause and
clears every active alarm whose cause is gone; a rule that fails clears nothing. Idempotent:
running it twice at the same `now` changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from app.neighborhoods.models import LockerBank, Neighborhood
from app.windows.models import DeliveryWindow
from lockers.models import ColdChainExcursion, LockerBankState, LockerEvent, ParcelColdChainFlag
from logistics.models import (
    Parcel,
    ParcelStatus,
    Route,
    RouteStatus,
    RouteStop,
    StopStatus,
    Vehicle,
)
from notifications.models import Message, MessageStatus
from ops_dashboard.alarm_states import ACTIVE, Cause, clear_alarm, raise_alarm
from ops_dashboard.models import Alarm, Severity

log = logging.getLogger(__name__)

BANK_OFFLINE_AFTER = timedelta(minutes=2)
DOOR_OPEN_AFTER = timedelta(minutes=10)
VAN_LATE_MINOR, VAN_LATE_MAJOR = 15, 30
SMS_WINDOW = timedelta(minutes=30)
SMS_MIN_FAILURES, SMS_FAILING_RATE, SMS_MAJOR_RATE = 5, 0.2, 0.5
INSIDE = (ParcelStatus.READY_FOR_PICKUP, ParcelStatus.EXPIRED)
ON_THE_WAY = (ParcelStatus.RESERVED, ParcelStatus.LOADED)
TURNED_AWAY_REASON = "locker_offline"  # the driver's reason when the bank refused the deposit
FAILED_SMS = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
FINAL_SMS = (*FAILED_SMS, MessageStatus.DELIVERED, MessageStatus.SENT)


def _banks(db_session: Session, bank_ids: list[int]) -> dict[int, tuple[str, int]]:
    rows = db_session.execute(
        select(LockerBank.id, LockerBank.code, Neighborhood.city_id)
        .join(Neighborhood, Neighborhood.id == LockerBank.neighborhood_id)
        .where(LockerBank.id.in_(bank_ids))
    )
    return {bank_id: (code, city_id) for bank_id, code, city_id in rows}


def cold_chain(db_session: Session, now: datetime) -> list[Cause]:
    """A zone too warm for longer than the lockers' own alarm threshold (parcels flagged)."""
    excursions = list(
        db_session.scalars(
            select(ColdChainExcursion).where(
                ColdChainExcursion.ended_at.is_(None), ColdChainExcursion.alarm_at.is_not(None)
            )
        )
    )
    if not excursions:
        return []
    flagged = dict(
        db_session.execute(
            select(ParcelColdChainFlag.excursion_id, func.count())
            .where(ParcelColdChainFlag.excursion_id.in_([e.id for e in excursions]))
            .group_by(ParcelColdChainFlag.excursion_id)
        ).all()
    )
    banks = _banks(db_session, [e.bank_id for e in excursions])
    causes = []
    for excursion in excursions:
        code, city_id = banks[excursion.bank_id]
        parcels = flagged.get(excursion.id, 0)
        zone = excursion.zone.value
        causes.append(
            Cause(
                source=f"bank:{excursion.bank_id}:{zone}",
                type="cold_chain",
                severity=Severity.CRITICAL if parcels else Severity.MAJOR,
                message=f"{code} {zone} at {excursion.max_temp_c:.1f}°C, limit "
                f"{excursion.limit_c:.1f}°C ({parcels} parcels flagged)",
                city_id=city_id,
                details={
                    "bank": code,
                    "bank_id": excursion.bank_id,
                    "zone": zone,
                    "temp": f"{excursion.max_temp_c:.1f}",
                    "limit": f"{excursion.limit_c:.1f}",
                    "parcels": parcels,
                },
            )
        )
    return causes


def bank_offline(db_session: Session, now: datetime) -> list[Cause]:
    """A bank off the network for minutes with parcels inside it or on their way to it."""
    offline = {
        bank_id: since
        for bank_id, since in db_session.execute(
            select(
                LockerBankState.bank_id,
                func.coalesce(LockerBankState.went_offline_at, LockerBankState.last_seen_at),
            ).where(LockerBankState.online.is_(False))
        )
        if since is not None and now - since >= BANK_OFFLINE_AFTER
    }
    if not offline:
        return []
    parcels: dict[int, dict[str, int]] = defaultdict(
        lambda: {"inside": 0, "coming": 0, "turned_away": 0}
    )
    for bank_id, status, count in db_session.execute(
        select(Parcel.bank_id, Parcel.status, func.count())
        .where(Parcel.bank_id.in_(list(offline)), Parcel.status.in_((*INSIDE, *ON_THE_WAY)))
        .group_by(Parcel.bank_id, Parcel.status)
    ):
        if bank_id is not None:
            parcels[bank_id]["inside" if status in INSIDE else "coming"] += count
    for bank_id, updated_at in db_session.execute(
        select(Parcel.bank_id, Parcel.updated_at).where(
            Parcel.bank_id.in_(list(offline)),
            Parcel.status == ParcelStatus.UNDELIVERED,
            Parcel.failure_reason.like(f"{TURNED_AWAY_REASON}%"),
        )
    ):
        # Turned away at the door while it is offline: back in a van, the bank still the cause.
        if bank_id is not None and updated_at is not None and updated_at >= offline[bank_id]:
            parcels[bank_id]["turned_away"] += 1
    banks = _banks(db_session, list(parcels))
    causes = []
    for bank_id, counts in parcels.items():
        code, city_id = banks[bank_id]
        minutes = int((now - offline[bank_id]).total_seconds() // 60)
        causes.append(
            Cause(
                source=f"bank:{bank_id}",
                type="bank_offline",
                severity=Severity.CRITICAL if counts["inside"] else Severity.MAJOR,
                message=f"{code} offline for {minutes} min: {counts['inside']} parcels inside, "
                f"{counts['coming']} on the way, {counts['turned_away']} turned away",
                city_id=city_id,
                details={"bank": code, "bank_id": bank_id, "minutes": minutes, **counts},
            )
        )
    return causes


def _door_opened_at(
    db_session: Session, open_doors: list[tuple[int, str]], now: datetime
) -> dict[tuple[int, str], datetime]:
    since: dict[tuple[int, str], datetime] = {}
    if not open_doors:
        return since
    rows = db_session.execute(
        select(LockerEvent.bank_id, LockerEvent.payload, LockerEvent.received_at)
        .where(
            LockerEvent.bank_id.in_({bank_id for bank_id, _ in open_doors}),
            LockerEvent.type == "door_opened",
            LockerEvent.received_at >= now - timedelta(hours=12),
        )
        .order_by(LockerEvent.id)
    )
    for bank_id, payload, at in rows:
        since[(bank_id, str((payload or {}).get("compartment")))] = at
    return since


def door_jammed(db_session: Session, now: datetime) -> list[Cause]:
    """A door the locker reports jammed, or open for longer than loading takes."""
    states = db_session.execute(
        select(LockerBankState.bank_id, LockerBankState.state).where(
            LockerBankState.online.is_(True)
        )
    ).all()
    doors: dict[tuple[int, str], str] = {}
    for bank_id, state in states:
        for label, report in ((state or {}).get("compartments") or {}).items():
            door = (report or {}).get("door")
            if door in ("jammed", "open"):
                doors[(bank_id, label)] = door
    opened = _door_opened_at(db_session, [k for k, v in doors.items() if v == "open"], now)
    found: list[tuple[int, str, str, int]] = []
    for (bank_id, label), door in doors.items():
        minutes = 0
        if door == "open":
            at = opened.get((bank_id, label))
            if at is None or now - at < DOOR_OPEN_AFTER:
                continue
            minutes = int((now - at).total_seconds() // 60)
        found.append((bank_id, label, door, minutes))
    banks = _banks(db_session, list({bank_id for bank_id, *_ in found}))
    return [
        Cause(
            source=f"bank:{bank_id}:{label}",
            type="door_jammed",
            severity=Severity.MAJOR,
            message=f"{banks[bank_id][0]} door {label} {door}"
            + (f" for {minutes} min" if minutes else ""),
            city_id=banks[bank_id][1],
            details={
                "bank": banks[bank_id][0],
                "bank_id": bank_id,
                "door": label,
                "how": door,
                "minutes": minutes,
            },
        )
        for bank_id, label, door, minutes in found
    ]


@dataclass(frozen=True)
class Lateness:
    """How late a van is at its next stop."""

    route_id: int
    van: str
    city_id: int
    minutes: int


def lateness(
    db_session: Session, now: datetime, window_ids: list[int] | None = None
) -> dict[int, Lateness]:
    """Each published or moving route's delay at its next stop (its ETA, or now once that ETA
    passed while in transit), against the plan; one query."""
    query = (
        select(
            Route.id,
            Route.status,
            Vehicle.code,
            DeliveryWindow.city_id,
            RouteStop.eta,
            RouteStop.planned_arrival,
        )
        .join(RouteStop, RouteStop.route_id == Route.id)
        .join(Vehicle, Vehicle.id == Route.vehicle_id)
        .join(DeliveryWindow, DeliveryWindow.id == Route.window_id)
        .where(
            Route.status.in_((RouteStatus.PUBLISHED, RouteStatus.IN_PROGRESS)),
            RouteStop.status == StopStatus.PENDING,
        )
        .order_by(Route.id, RouteStop.sequence)
    )
    if window_ids is not None:
        query = query.where(Route.window_id.in_(window_ids))
    found: dict[int, Lateness] = {}
    for route_id, status, van, city_id, eta, planned in db_session.execute(query):
        if route_id not in found:  # only the next stop counts
            expected = max(eta, now) if status == RouteStatus.IN_PROGRESS else eta
            late = max(0, int((expected - planned).total_seconds() // 60))
            found[route_id] = Lateness(route_id, van, city_id, late)
    return found


def van_late(db_session: Session, now: datetime) -> list[Cause]:
    """A van behind its plan at its next stop by more than a quarter of an hour."""
    return [
        Cause(
            source=f"route:{late.route_id}",
            type="van_late",
            severity=Severity.MAJOR if late.minutes >= VAN_LATE_MAJOR else Severity.MINOR,
            message=f"Van {late.van} late by {late.minutes} min",
            city_id=late.city_id,
            details={"van": late.van, "route_id": late.route_id, "minutes": late.minutes},
        )
        for late in lateness(db_session, now).values()
        if late.minutes >= VAN_LATE_MINOR
    ]


def route_alarm(db_session: Session, now: datetime) -> list[Cause]:
    """A route that ended with parcels aboard, until those parcels are settled."""
    rows = db_session.execute(
        select(Route.id, Vehicle.code, DeliveryWindow.city_id, func.count(Parcel.id))
        .join(Vehicle, Vehicle.id == Route.vehicle_id)
        .join(DeliveryWindow, DeliveryWindow.id == Route.window_id)
        .join(RouteStop, RouteStop.route_id == Route.id)
        .join(Parcel, Parcel.route_stop_id == RouteStop.id)
        .where(
            Route.status == RouteStatus.COMPLETED_WITH_ALARM,
            Parcel.status == ParcelStatus.UNDELIVERED,
        )
        .group_by(Route.id, Vehicle.code, DeliveryWindow.city_id)
    ).all()
    return [
        Cause(
            source=f"route:{route_id}",
            type="route_alarm",
            severity=Severity.MAJOR,
            message=f"Van {van} finished its route with {parcels} parcels aboard",
            city_id=city_id,
            details={"van": van, "route_id": route_id, "parcels": parcels},
        )
        for route_id, van, city_id, parcels in rows
    ]


def sms_failing(db_session: Session, now: datetime) -> list[Cause]:
    """Many of the last half hour's SMS failed or were not delivered."""
    counts: dict[int | None, dict[str, int]] = defaultdict(lambda: {"failed": 0, "total": 0})
    for city_id, status, count in db_session.execute(
        select(Message.city_id, Message.status, func.count())
        .where(Message.created_at >= now - SMS_WINDOW, Message.status.in_(FINAL_SMS))
        .group_by(Message.city_id, Message.status)
    ):
        counts[city_id]["total"] += count
        if status in FAILED_SMS:
            counts[city_id]["failed"] += count
    causes = []
    for city_id, seen in counts.items():
        rate = seen["failed"] / seen["total"]
        if seen["failed"] < SMS_MIN_FAILURES or rate < SMS_FAILING_RATE:
            continue
        percent = round(rate * 100)
        causes.append(
            Cause(
                source=f"sms:{city_id or 0}",
                type="sms_failing",
                severity=Severity.MAJOR if rate >= SMS_MAJOR_RATE else Severity.MINOR,
                message=f"{seen['failed']} of {seen['total']} SMS failed in 30 min ({percent}%)",
                city_id=city_id,
                details={**seen, "percent": percent},
            )
        )
    return causes


Rule = Callable[[Session, datetime], list[Cause]]
RULES: dict[str, Rule] = {
    "cold_chain": cold_chain,
    "bank_offline": bank_offline,
    "door_jammed": door_jammed,
    "van_late": van_late,
    "route_alarm": route_alarm,
    "sms_failing": sms_failing,
}


@dataclass
class PassReport:
    """What one evaluation did."""

    raised: int = 0
    active: int = 0
    cleared: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def evaluate(
    *, db_session: Session, now: datetime, rules: dict[str, Rule] | None = None
) -> PassReport:
    """Raise, repeat and clear alarms from what the rules find at `now` (caller commits)."""
    report = PassReport()
    causes: dict[tuple[str, str], Cause] = {}
    evaluated: list[str] = []
    for alarm_type, rule in (rules or RULES).items():
        try:
            with db_session.begin_nested():
                found = rule(db_session, now)
        except Exception as exc:
            log.exception("alarm rule %s failed", alarm_type)
            report.errors[alarm_type] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        evaluated.append(alarm_type)
        causes.update((cause.key, cause) for cause in found)
    known: dict[tuple[str, str], Alarm] = {}
    wanted: list[Any] = [Alarm.state.in_(ACTIVE)]
    if causes:
        wanted.append(tuple_(Alarm.source, Alarm.type).in_(list(causes)))
    for alarm in db_session.scalars(select(Alarm).where(or_(*wanted))):
        known[(alarm.source, alarm.type)] = alarm
    for key, cause in causes.items():
        existing = known.get(key)
        was_active = existing is not None and existing.state in ACTIVE
        raise_alarm(db_session=db_session, cause=cause, now=now, existing=existing)
        report.raised += 0 if was_active else 1
        report.active += 1
    for key, alarm in known.items():
        if key not in causes and alarm.state in ACTIVE and alarm.type in evaluated:
            clear_alarm(db_session=db_session, alarm=alarm, now=now)
            report.cleared += 1
    return report
