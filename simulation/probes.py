"""What the played day looks at while it runs: figures for the live summary, expired parcels
waiting for a driver, and compartments caught holding two parcels."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from simulation.invariants import status_counts
from simulation.stack import Stack
from simulation.world import LockerFleet


def expired_waiting(now: datetime) -> bool:
    from app.core.db import get_sessionmaker
    from logistics.models import Parcel, ParcelStatus

    with get_sessionmaker()() as db:
        return bool(
            db.scalar(select(func.count(Parcel.id)).where(Parcel.status == ParcelStatus.EXPIRED))
        )


def latest_waiting_deadline(window_ids: list[int]) -> datetime | None:
    """The latest pickup deadline of the windows' parcels still in a locker (an extension
    moves it past the windows' own deadlines)."""
    from app.core.db import get_sessionmaker
    from logistics.models import Parcel, ParcelStatus

    with get_sessionmaker()() as db:
        latest: datetime | None = db.scalar(
            select(func.max(Parcel.pickup_deadline)).where(
                Parcel.window_id.in_(window_ids),
                Parcel.status.in_((ParcelStatus.READY_FOR_PICKUP, ParcelStatus.EXPIRED)),
            )
        )
    return latest


def compartment_clashes() -> list[str]:
    from app.core.db import get_sessionmaker
    from logistics.models import Parcel, ParcelStatus

    with get_sessionmaker()() as db:
        rows = db.execute(
            select(Parcel.compartment_id, func.count(Parcel.id))
            .where(
                Parcel.status.in_((ParcelStatus.READY_FOR_PICKUP, ParcelStatus.EXPIRED)),
                Parcel.compartment_id.is_not(None),
            )
            .group_by(Parcel.compartment_id)
            .having(func.count(Parcel.id) > 1)
        ).all()
    return [f"compartment {cid} held {n} parcels at once" for cid, n in rows]


def figures(
    stack: Stack, phones: Any, lockers: LockerFleet, crowd: Any, crew: Any, windows: list[Any]
) -> dict[str, Any]:
    from app.core.db import get_sessionmaker

    with get_sessionmaker()() as db:
        counts = status_counts(db, [w.id for w in windows])
    return {
        "orders": crowd.stats["orders_placed"],
        "cancelled": crowd.stats["cancelled"],
        "groups": counts["groups"],
        "parcels": counts["parcels"],
        "routes": counts["routes"],
        "lockers_online": lockers.online(),
        "lockers": len(lockers.codes),
        "sms": phones.sent_count(),
        "collected": crowd.stats["collected"],
        "deliveries": crew.stats["departures"],
        "errors": crowd.stats["errors"] + crew.stats["errors"],
    }
