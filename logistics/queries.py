"""What other packages read of the logistics tables, as plain values."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from logistics.models import RouteStop


@dataclass(frozen=True)
class StopTimes:
    """A route stop's current ETA and when the van arrived (None until it has)."""

    eta: datetime
    arrived_at: datetime | None


def stop_times(*, db_session: Session, stop_ids: Collection[int]) -> dict[int, StopTimes]:
    """The ETA and arrival of each listed route stop that exists, by stop id."""
    if not stop_ids:
        return {}
    rows = db_session.execute(
        select(RouteStop.id, RouteStop.eta, RouteStop.arrived_at).where(
            RouteStop.id.in_(list(stop_ids))
        )
    )
    return {row.id: StopTimes(row.eta, row.arrived_at) for row in rows}
