"""Celery tasks of the locker side. When they run is the clockwork's schedule
(`app.clockwork.schedule`): `consume_reservations` as a fast pass; expiry and cold-chain checks
inside the clockwork tick, at the time of the day the clock reads. The bridge also runs this
work in its housekeeping; every one of them is idempotent, so running twice does no harm."""

from app.core.celery_app import celery_app
from app.core.db import get_sessionmaker
from lockers import coldchain, expiry, intake


@celery_app.task(name="lockers.expire_overdue")  # type: ignore[untyped-decorator]
def expire_overdue() -> int:
    """Expire parcels past their pickup deadline; how many."""
    with get_sessionmaker()() as db_session:
        return len(expiry.expire_overdue(db_session=db_session))


@celery_app.task(name="lockers.consume_reservations")  # type: ignore[untyped-decorator]
def consume_reservations() -> int:
    """Issue and push pickup codes for newly reserved parcels; how many events were read."""
    with get_sessionmaker()() as db_session:
        return intake.consume_reservations(db_session=db_session)


@celery_app.task(name="lockers.check_cold_chain")  # type: ignore[untyped-decorator]
def check_cold_chain() -> int:
    """Re-check open cold-chain excursions (alarms raise even without new readings)."""
    with get_sessionmaker()() as db_session:
        count = coldchain.check_all(db_session=db_session)
        db_session.commit()
        return count
