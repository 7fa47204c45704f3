"""The van's side of the cold chain: chilled and frozen parcels handed over at a stop reached
longer after the van left the depot (loaded) than the cold-chain limit are flagged.

The planner keeps cold stops within the limit, but a van running late can pass it. Each such
parcel keeps its minutes over the limit (`van_minutes_over_limit`) and a
"parcel.cold_chain_flag" event is emitted once per parcel through the one emitter of that kind
(`app/events/cold_chain.py`, shared with the lockers), so the resident gets the usual
cold-chain SMS.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.enums import TemperatureClass
from app.events import cold_chain
from logistics import lifecycle
from logistics.models import Parcel, Route, RouteStop

COLD_CHAIN_FLAG_EVENT = cold_chain.PARCEL_COLD_CHAIN_FLAG
COLD = (TemperatureClass.CHILLED, TemperatureClass.FROZEN)


def minutes_over(*, started_at: datetime, arrived_at: datetime, limit_minutes: int) -> int | None:
    """Whole minutes (rounded up) the van time passed the limit; None within it."""
    over = (arrived_at - started_at) - timedelta(minutes=limit_minutes)
    if over <= timedelta(0):
        return None
    return max(1, math.ceil(over.total_seconds() / 60))


def flag_at_stop(
    *, db_session: Session, route: Route, stop: RouteStop, limit_minutes: int
) -> list[int]:
    """Flag the stop's chilled and frozen parcels still aboard when the van reached it past
    the limit (idempotent: a flagged parcel is left as it is); the ids flagged now."""
    if route.started_at is None or stop.arrived_at is None:
        return []
    over = minutes_over(
        started_at=route.started_at, arrived_at=stop.arrived_at, limit_minutes=limit_minutes
    )
    if over is None:
        return []
    parcels = list(
        db_session.scalars(
            select(Parcel)
            .where(
                Parcel.route_stop_id == stop.id,
                Parcel.temperature_class.in_(COLD),
                Parcel.status.in_(lifecycle.ABOARD),
                Parcel.van_minutes_over_limit.is_(None),
            )
            .order_by(Parcel.id)
        )
    )
    van_minutes = math.ceil((stop.arrived_at - route.started_at).total_seconds() / 60)
    for parcel in parcels:
        parcel.van_minutes_over_limit = over
        cold_chain.flag_parcel(
            db_session=db_session,
            parcel=parcel,
            occasion="van",
            zone=TemperatureClass(parcel.temperature_class).value,
            minutes_out=over,
            source="van",
            route_id=route.id,
            van_minutes=van_minutes,
            limit_minutes=limit_minutes,
        )
    db_session.flush()
    return [p.id for p in parcels]
