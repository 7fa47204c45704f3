"""Zone temperatures kept for the charts: one sample every few minutes, a day kept."""

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from lockers import temperature_log
from lockers.models import TemperatureSample
from tests.lockers.conftest import build_world


def _count(db: Session, bank_id: int) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(TemperatureSample)
            .where(TemperatureSample.bank_id == bank_id)
        )
        or 0
    )


def test_one_sample_every_few_minutes_and_a_day_kept(db: Session) -> None:
    w = build_world(db, None)  # type: ignore[arg-type]
    start = utcnow() - timedelta(hours=30)
    bank = w.bank.id
    for minutes in range(0, 60, 2):  # a state message every 2 min for an hour
        temperature_log.record(
            db_session=db,
            bank_id=bank,
            zones={"chilled": 3.0 + minutes / 60},
            at=start + timedelta(minutes=minutes),
        )
        db.flush()
    assert _count(db, bank) == 6
    temperature_log.record(db_session=db, bank_id=bank, zones={"chilled": 4.0}, at=utcnow())
    db.flush()
    assert _count(db, bank) == 1  # the old ones are dropped as a new one comes
    assert temperature_log.record(db_session=db, bank_id=bank, zones={}, at=utcnow()) is None


def test_history_per_bank_and_zone(db: Session) -> None:
    w = build_world(db, None)  # type: ignore[arg-type]
    now = utcnow()
    for hours, temp in ((3, 2.5), (2, 3.5), (1, 9.0)):
        temperature_log.record(
            db_session=db,
            bank_id=w.bank.id,
            zones={"chilled": temp, "frozen": -18.0},
            at=now - timedelta(hours=hours),
        )
    db.flush()
    series = temperature_log.history(
        db_session=db, bank_ids=[w.bank.id], since=now - timedelta(hours=6)
    )
    assert [t for _, t in series[(w.bank.id, "chilled")]] == [2.5, 3.5, 9.0]
    assert len(series[(w.bank.id, "frozen")]) == 3
