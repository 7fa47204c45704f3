"""Cold chain without a broker: an alarm only after the set time out of range, the frozen
limit, ambient compartments unwatched."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from lockers import coldchain, domain_events
from lockers.models import ColdChainExcursion, ParcelColdChainFlag
from logistics.models import ParcelStatus
from tests.lockers.bank_messages import outbox_events
from tests.lockers.conftest import World


def test_cold_chain_alarm_only_after_the_set_time(w: World, db: Session) -> None:
    parcel = w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    t0 = utcnow()
    coldchain.observe(db_session=db, bank_id=w.bank.id, zone="chilled", temp_c=4.9, at=t0)
    assert coldchain.open_excursions(db_session=db, bank_id=w.bank.id) == []
    excursion = coldchain.observe(
        db_session=db, bank_id=w.bank.id, zone="chilled", temp_c=6.0, at=t0
    )
    assert excursion is not None and excursion.alarm_at is None  # threshold 0.5 s in tests
    coldchain.observe(
        db_session=db,
        bank_id=w.bank.id,
        zone="chilled",
        temp_c=8.0,
        at=t0 + timedelta(minutes=3, seconds=10),
    )
    assert excursion.alarm_at is not None and excursion.max_temp_c == 8.0
    flag = db.scalar(select(ParcelColdChainFlag).where(ParcelColdChainFlag.parcel_id == parcel.id))
    assert flag is not None and flag.minutes_out == 4
    # An older reading arriving late changes nothing; a reading back in range ends it.
    coldchain.observe(
        db_session=db, bank_id=w.bank.id, zone="chilled", temp_c=3.0, at=t0 + timedelta(minutes=1)
    )
    assert excursion.ended_at is None
    coldchain.observe(
        db_session=db, bank_id=w.bank.id, zone="chilled", temp_c=3.0, at=t0 + timedelta(minutes=10)
    )
    assert excursion.ended_at is not None and flag.minutes_out == 10
    assert len(outbox_events(db, domain_events.PARCEL_COLD_CHAIN_FLAG, parcel_id=parcel.id)) == 1
    assert len(outbox_events(db, domain_events.LOCKER_COLD_CHAIN_ALARM, bank_id=w.bank.id)) == 1


def test_frozen_limit_and_ambient_unwatched(w: World, db: Session) -> None:
    t0 = utcnow()
    assert (
        coldchain.observe(db_session=db, bank_id=w.bank.id, zone="frozen", temp_c=-15.0, at=t0)
        is None
    )
    assert (
        coldchain.observe(db_session=db, bank_id=w.bank.id, zone="frozen", temp_c=-14.5, at=t0)
        is not None
    )
    assert (
        coldchain.observe(db_session=db, bank_id=w.bank.id, zone="ambient", temp_c=40.0, at=t0)
        is None
    )
    zones = {
        e.zone
        for e in db.scalars(
            select(ColdChainExcursion).where(ColdChainExcursion.bank_id == w.bank.id)
        )
    }
    assert zones == {"frozen"}
