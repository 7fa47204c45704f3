"""Expiry: parcels not collected by their deadline become expired (code revoked at the locker)
and are listed for retrieval on the next route; the compartment frees when the driver takes
them out (see deposit.apply_door_closed)."""

from datetime import datetime

from sqlalchemy.orm import Session

from app.core.db import utcnow
from lockers import codes, domain_events, locker_parcels
from lockers.models import CodeStatus
from logistics import parcels as logistics_parcels
from logistics.parcels import Parcel


def expire_overdue(
    *, db_session: Session, now: datetime | None = None, batch: int = 200
) -> list[int]:
    """Flow: expire every parcel past its pickup deadline, committing per batch; the ids."""
    now = now or utcnow()
    expired: list[int] = []
    while True:
        parcels = logistics_parcels.overdue_ready_parcels(
            db_session=db_session, now=now, limit=batch
        )
        if not parcels:
            return expired
        for parcel in parcels:
            expire_one(db_session=db_session, parcel=parcel)
            expired.append(parcel.id)
        db_session.commit()


def expire_one(*, db_session: Session, parcel: Parcel) -> None:
    """Mark one overdue parcel expired, revoke its code, tell the resident and the planners."""
    logistics_parcels.mark_expired(parcel)
    codes.retire_code(
        db_session=db_session,
        parcel_id=parcel.id,
        status=CodeStatus.EXPIRED,
        revoke_at_locker=True,
    )
    locker_parcels.sync_order(db_session=db_session, order_id=parcel.order_id)
    domain_events.emit(
        db_session=db_session,
        kind=domain_events.PARCEL_EXPIRED,
        dedupe_key=f"{domain_events.PARCEL_EXPIRED}:{parcel.id}",
        payload=domain_events.parcel_payload(parcel),
    )
