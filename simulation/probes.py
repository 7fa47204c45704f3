"""What the played day looks at while it runs: figures for the live summary, expired parcels
waiting for a driver, and compartments caught holding two parcels."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from simulation.stack import Stack
from simulation.world import LockerFleet


def expired_waiting(now: datetime) -> bool:
    from app.core.db import get_sessionmaker
    from logistics.models import Parcel, ParcelStatus

    with get_sessionmaker()() as db:
        return bool(
            db.scalar(select(func.count(Parcel.id)).where(Parcel.status == ParcelStatus.EXPIRED))
        )


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
    from app.groupbuys.models import GroupBuy
    from logistics.models import Parcel, Route

    ids = [w.id for w in windows]
    with get_sessionmaker()() as db:
        groups = dict(
            db.execute(
                select(GroupBuy.status, func.count(GroupBuy.id))
                .where(GroupBuy.window_id.in_(ids), GroupBuy.ordered_quantity > 0)
                .group_by(GroupBuy.status)
            ).all()
        )
        parcels = dict(
            db.execute(
                select(Parcel.status, func.count(Parcel.id))
                .where(Parcel.window_id.in_(ids))
                .group_by(Parcel.status)
            ).all()
        )
        routes = dict(
            db.execute(
                select(Route.status, func.count(Route.id))
                .where(Route.window_id.in_(ids))
                .group_by(Route.status)
            ).all()
        )
    return {
        "orders": crowd.stats["orders_placed"],
        "cancelled": crowd.stats["cancelled"],
        "groups": {str(getattr(k, "value", k)): v for k, v in groups.items()},
        "parcels": {str(getattr(k, "value", k)): v for k, v in parcels.items()},
        "routes": {str(getattr(k, "value", k)): v for k, v in routes.items()},
        "lockers_online": lockers.online(),
        "lockers": len(lockers.codes),
        "sms": phones.sent_count(),
        "collected": crowd.stats["collected"],
        "deliveries": crew.stats["departures"],
        "errors": crowd.stats["errors"] + crew.stats["errors"],
    }
