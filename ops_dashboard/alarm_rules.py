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

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from app.neighborhoods.queries import bank_codes_and_cities
from lockers import queries as locker_queries
from logistics import route_queries
from logistics.parcels import ParcelStatus
from logistics.queries import parcel_counts_by_bank_and_status, undelivered_parcel_times_at_banks
from logistics.route_queries import RouteStatus
from notifications.queries import MessageStatus, message_status_counts_by_city
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


def cold_chain(db_session: Session, now: datetime) -> list[Cause]:
    """A zone too warm for longer than the lockers' own alarm threshold (parcels flagged)."""
    excursions = locker_queries.open_alarmed_excursions(db_session)
    if not excursions:
        return []
    banks = bank_codes_and_cities(db_session, {e.bank_id for e in excursions})
    causes = []
    for excursion in excursions:
        bank = banks[excursion.bank_id]
        parcels = excursion.flagged_parcels
        zone = excursion.zone
        causes.append(
            Cause(
                source=f"bank:{excursion.bank_id}:{zone}",
                type="cold_chain",
                severity=Severity.CRITICAL if parcels else Severity.MAJOR,
                message=f"{bank.code} {zone} at {excursion.max_temp_c:.1f}°C, limit "
                f"{excursion.limit_c:.1f}°C ({parcels} parcels flagged)",
                city_id=bank.city_id,
                details={
                    "bank": bank.code,
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
        for bank_id, since in locker_queries.offline_banks_since(db_session).items()
        if since is not None and now - since >= BANK_OFFLINE_AFTER
    }
    if not offline:
        return []
    parcels: dict[int, dict[str, int]] = defaultdict(
        lambda: {"inside": 0, "coming": 0, "turned_away": 0}
    )
    for bank_id, status, count in parcel_counts_by_bank_and_status(
        db_session, list(offline), (*INSIDE, *ON_THE_WAY)
    ):
        parcels[bank_id]["inside" if status in INSIDE else "coming"] += count
    for bank_id, updated_at in undelivered_parcel_times_at_banks(
        db_session, list(offline), TURNED_AWAY_REASON
    ):
        # Turned away at the door while it is offline: back in a van, the bank still the cause.
        if updated_at is not None and updated_at >= offline[bank_id]:
            parcels[bank_id]["turned_away"] += 1
    banks = bank_codes_and_cities(db_session, list(parcels))
    causes = []
    for bank_id, counts in parcels.items():
        bank = banks[bank_id]
        minutes = int((now - offline[bank_id]).total_seconds() // 60)
        causes.append(
            Cause(
                source=f"bank:{bank_id}",
                type="bank_offline",
                severity=Severity.CRITICAL if counts["inside"] else Severity.MAJOR,
                message=f"{bank.code} offline for {minutes} min: {counts['inside']} parcels "
                f"inside, {counts['coming']} on the way, {counts['turned_away']} turned away",
                city_id=bank.city_id,
                details={"bank": bank.code, "bank_id": bank_id, "minutes": minutes, **counts},
            )
        )
    return causes


def _door_opened_at(
    db_session: Session, open_doors: list[tuple[int, str]], now: datetime
) -> dict[tuple[int, str], datetime]:
    since: dict[tuple[int, str], datetime] = {}
    if not open_doors:
        return since
    events = locker_queries.bank_events_of_type_since(
        db_session,
        {bank_id for bank_id, _ in open_doors},
        "door_opened",
        now - timedelta(hours=12),
    )
    for event in events:
        since[(event.bank_id, str(event.payload.get("compartment")))] = event.received_at
    return since


def door_jammed(db_session: Session, now: datetime) -> list[Cause]:
    """A door the locker reports jammed, or open for longer than loading takes."""
    doors: dict[tuple[int, str], str] = {}
    for bank_id, state in locker_queries.online_bank_reports(db_session):
        for label, report in (state.get("compartments") or {}).items():
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
    banks = bank_codes_and_cities(db_session, {bank_id for bank_id, *_ in found})
    return [
        Cause(
            source=f"bank:{bank_id}:{label}",
            type="door_jammed",
            severity=Severity.MAJOR,
            message=f"{banks[bank_id].code} door {label} {door}"
            + (f" for {minutes} min" if minutes else ""),
            city_id=banks[bank_id].city_id,
            details={
                "bank": banks[bank_id].code,
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
    window_id: int


def lateness(
    db_session: Session, now: datetime, window_ids: list[int] | None = None
) -> dict[int, Lateness]:
    """Each published or moving route's delay at its next stop (its ETA, or now once that ETA
    passed while in transit), against the plan; one query."""
    found: dict[int, Lateness] = {}
    for stop in route_queries.pending_stops_of_live_routes(db_session, window_ids):
        if stop.route_id not in found:  # only the next stop counts
            in_transit = stop.route_status == RouteStatus.IN_PROGRESS
            expected = max(stop.eta, now) if in_transit else stop.eta
            late = max(0, int((expected - stop.planned_arrival).total_seconds() // 60))
            found[stop.route_id] = Lateness(
                stop.route_id, stop.van_code, stop.city_id, late, stop.window_id
            )
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
    return [
        Cause(
            source=f"route:{route.route_id}",
            type="route_alarm",
            severity=Severity.MAJOR,
            message=f"Van {route.van_code} finished its route with {route.parcels} parcels aboard",
            city_id=route.city_id,
            details={"van": route.van_code, "route_id": route.route_id, "parcels": route.parcels},
        )
        for route in route_queries.routes_ended_with_parcels_aboard(db_session)
    ]


def sms_failing(db_session: Session, now: datetime) -> list[Cause]:
    """Many of the last half hour's SMS failed or were not delivered."""
    counts: dict[int | None, dict[str, int]] = defaultdict(lambda: {"failed": 0, "total": 0})
    for city_id, status, count in message_status_counts_by_city(
        db_session, now - SMS_WINDOW, FINAL_SMS
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
