"""The zones' temperatures over the last hours, for the operators' charts.

Each state message carries a bank's zone temperatures; one in every few minutes (by the
bank's own clock of received messages) is kept as a sample, and samples older than a day are
dropped as new ones come, so the table stays small on a city of hundreds of banks.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lockers.models import TemperatureSample

SAMPLE_EVERY = timedelta(minutes=10)
KEEP = timedelta(hours=26)

Series = dict[tuple[int, str], list[tuple[datetime, float]]]


def record(
    *, db_session: Session, bank_id: int, zones: dict[str, float], at: datetime
) -> TemperatureSample | None:
    """Keep these readings if the bank's last sample is old enough; the sample kept, if any."""
    if not zones:
        return None
    last = db_session.scalar(
        select(func.max(TemperatureSample.at)).where(TemperatureSample.bank_id == bank_id)
    )
    if last is not None and at - last < SAMPLE_EVERY:
        return None
    if last is not None and at - last > KEEP:
        db_session.execute(
            delete(TemperatureSample).where(
                TemperatureSample.bank_id == bank_id, TemperatureSample.at < at - KEEP
            )
        )
    sample = TemperatureSample(bank_id=bank_id, at=at, zones=dict(zones))
    db_session.add(sample)
    return sample


def history(*, db_session: Session, bank_ids: Sequence[int], since: datetime) -> Series:
    """Readings per (bank, zone) since a moment, oldest first."""
    found: Series = defaultdict(list)
    if not bank_ids:
        return found
    rows = db_session.execute(
        select(TemperatureSample.bank_id, TemperatureSample.at, TemperatureSample.zones)
        .where(TemperatureSample.bank_id.in_(list(bank_ids)), TemperatureSample.at >= since)
        .order_by(TemperatureSample.at)
    )
    for bank_id, at, zones in rows:
        for zone, temp in (zones or {}).items():
            if isinstance(temp, int | float):
                found[(bank_id, zone)].append((at, float(temp)))
    return found
