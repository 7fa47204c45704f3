"""Cold chain: a zone above its limit (chilled over 5 C, frozen over -15 C by default) for
longer than a set time raises an alarm; parcels inside are flagged with their minutes out of
temperature, and operators and residents' notifications are told through the outbox.

These functions do not commit: the bridge calls them inside its own transactions.
"""

import math
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.enums import TemperatureClass
from app.events import cold_chain
from lockers import banks, domain_events, locker_parcels
from lockers.config import get_locker_settings
from lockers.models import ColdChainExcursion, ParcelColdChainFlag

_OPEN = "lockers_open_excursions"


def limit_for(zone: str) -> float | None:
    """The highest allowed temperature of a zone (None: ambient, not watched)."""
    settings = get_locker_settings()
    if zone == TemperatureClass.CHILLED:
        return settings.chilled_max_c
    if zone == TemperatureClass.FROZEN:
        return settings.frozen_max_c
    return None


def open_excursions(*, db_session: Session, bank_id: int | None = None) -> list[ColdChainExcursion]:
    """Excursions not ended yet, optionally of one bank."""
    query = select(ColdChainExcursion).where(ColdChainExcursion.ended_at.is_(None))
    if bank_id is not None:
        query = query.where(ColdChainExcursion.bank_id == bank_id)
    return list(db_session.scalars(query.order_by(ColdChainExcursion.id)))


def observe(
    *, db_session: Session, bank_id: int, zone: str, temp_c: float, at: datetime
) -> ColdChainExcursion | None:
    """Take one temperature reading of a zone; the excursion it opens, extends or ends."""
    return observe_zones(db_session=db_session, bank_id=bank_id, zones={zone: temp_c}, at=at).get(
        zone
    )


def observe_zones(
    *, db_session: Session, bank_id: int, zones: dict[str, float], at: datetime
) -> dict[str, ColdChainExcursion]:
    """Take one reading per zone (a state message) with a single look-up of open excursions;
    the excursions opened, extended or ended, by zone."""
    touched: dict[str, ColdChainExcursion] = {}
    watched = {z: t for z, t in zones.items() if limit_for(z) is not None}
    if not watched:
        return touched
    known: dict[int, dict[str, ColdChainExcursion]] | None = db_session.info.get(_OPEN)
    if known is not None and bank_id in known:
        current = known[bank_id]
    else:
        current = {e.zone.value: e for e in open_excursions(db_session=db_session, bank_id=bank_id)}
    for zone, temp_c in watched.items():
        limit = limit_for(zone)
        if limit is None or (temp_c <= limit and zone not in current):
            continue
        excursion = _observe(
            db_session=db_session,
            bank_id=bank_id,
            zone=zone,
            temp_c=temp_c,
            at=at,
            limit=limit,
            current=current.get(zone),
        )
        if excursion is None:
            continue
        touched[zone] = excursion
        if excursion.ended_at is None:
            current[zone] = excursion
        else:
            current.pop(zone, None)
    return touched


def prefetch_open(*, db_session: Session, bank_ids: set[int]) -> None:
    """Load the open excursions of many banks at once (for a batch of state messages)."""
    known: dict[int, dict[str, ColdChainExcursion]] = {bank_id: {} for bank_id in bank_ids}
    rows = db_session.scalars(
        select(ColdChainExcursion).where(
            ColdChainExcursion.bank_id.in_(bank_ids), ColdChainExcursion.ended_at.is_(None)
        )
    )
    for excursion in rows:
        known[excursion.bank_id][excursion.zone.value] = excursion
    db_session.info[_OPEN] = known


def _observe(
    *,
    db_session: Session,
    bank_id: int,
    zone: str,
    temp_c: float,
    at: datetime,
    limit: float,
    current: ColdChainExcursion | None,
) -> ColdChainExcursion | None:
    if current is not None and at < current.last_reading_at:
        return current  # an older reading arriving late changes nothing
    if temp_c > limit:
        if current is None:
            current = ColdChainExcursion(
                bank_id=bank_id,
                zone=TemperatureClass(zone),
                limit_c=limit,
                started_at=at,
                last_reading_at=at,
                max_temp_c=temp_c,
            )
            db_session.add(current)
            db_session.flush()
        else:
            current.last_reading_at = at
            current.max_temp_c = max(current.max_temp_c, temp_c)
        check(db_session=db_session, excursion=current, now=at)
        return current
    if current is not None:
        current.last_reading_at = at
        current.ended_at = at
        if current.alarm_at is not None:
            _flag_parcels(db_session=db_session, excursion=current, until=at)
    return current


def check(*, db_session: Session, excursion: ColdChainExcursion, now: datetime) -> None:
    """Raise the alarm once the excursion lasted long enough; keep minutes out up to date."""
    if excursion.ended_at is not None:
        return
    duration = now - excursion.started_at
    threshold = timedelta(seconds=get_locker_settings().cold_chain_alarm_seconds)
    if excursion.alarm_at is None:
        if duration < threshold:
            return
        excursion.alarm_at = now
        parcels = _flag_parcels(db_session=db_session, excursion=excursion, until=now)
        bank = banks.get_bank(db_session=db_session, bank_id=excursion.bank_id)
        domain_events.emit(
            db_session=db_session,
            kind=domain_events.LOCKER_COLD_CHAIN_ALARM,
            dedupe_key=f"{domain_events.LOCKER_COLD_CHAIN_ALARM}:{excursion.id}",
            payload={
                "bank_id": bank.id,
                "bank_code": bank.code,
                "zone": excursion.zone.value,
                "limit_c": excursion.limit_c,
                "max_temp_c": excursion.max_temp_c,
                "started_at": excursion.started_at,
                "excursion_id": excursion.id,
                "parcel_ids": parcels,
            },
        )
        return
    _flag_parcels(db_session=db_session, excursion=excursion, until=now)


def check_all(*, db_session: Session, now: datetime | None = None) -> int:
    """Re-check every open excursion (a hot zone alarms even without new readings); count."""
    now = now or utcnow()
    excursions = open_excursions(db_session=db_session)
    for excursion in excursions:
        online = banks.is_online(db_session=db_session, bank_id=excursion.bank_id, now=now)
        check(
            db_session=db_session,
            excursion=excursion,
            now=now if online else excursion.last_reading_at,
        )
    return len(excursions)


def _flag_parcels(
    *, db_session: Session, excursion: ColdChainExcursion, until: datetime
) -> list[int]:
    """Flag (or update) every parcel in the zone with its minutes out; emit once per parcel."""
    parcels = locker_parcels.parcels_in_zone(
        db_session=db_session, bank_id=excursion.bank_id, zone=excursion.zone
    )
    minutes = max(1, math.ceil((until - excursion.started_at).total_seconds() / 60))
    flagged: list[int] = []
    for parcel in parcels:
        flag = db_session.scalar(
            select(ParcelColdChainFlag).where(
                ParcelColdChainFlag.parcel_id == parcel.id,
                ParcelColdChainFlag.excursion_id == excursion.id,
            )
        )
        if flag is None:
            flag = ParcelColdChainFlag(
                parcel_id=parcel.id, excursion_id=excursion.id, minutes_out=minutes
            )
            db_session.add(flag)
            cold_chain.flag_parcel(
                db_session=db_session,
                parcel=parcel,
                occasion=str(excursion.id),
                zone=excursion.zone.value,
                minutes_out=minutes,
                excursion_id=excursion.id,
                max_temp_c=excursion.max_temp_c,
            )
        elif minutes > flag.minutes_out:
            flag.minutes_out = minutes
            flag.updated_at = utcnow()
        flagged.append(parcel.id)
    db_session.flush()
    return flagged


def flags_for_parcel(*, db_session: Session, parcel_id: int) -> list[ParcelColdChainFlag]:
    """A parcel's cold-chain flags, oldest first."""
    return list(
        db_session.scalars(
            select(ParcelColdChainFlag)
            .where(ParcelColdChainFlag.parcel_id == parcel_id)
            .order_by(ParcelColdChainFlag.id)
        )
    )
