"""Reservation intake: when logistics publishes a plan ("parcel.reserved" outbox events), issue
each parcel's pickup code and push its hash to the locker ahead of the van.

Reads the shared outbox as the consumer "lockers.reservations" (`app/events/consumer.py`: each
event once, none skipped when ids commit out of order); issuing is idempotent as well.
"""

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.events import consumer as events_consumer
from lockers import codes, locker_parcels, protocol
from lockers.models import CodeStatus, CommandStatus, LockerCommand
from logistics import parcels as logistics_parcels

log = logging.getLogger(__name__)

KIND = "parcel.reserved"
CONSUMER = events_consumer.Consumer(name="lockers.reservations", kinds=frozenset({KIND}))


def consume_reservations(*, db_session: Session, batch: int = 500) -> int:
    """Flow: process new "parcel.reserved" events (commits per batch); how many."""
    done = 0
    while True:
        handled = events_consumer.consume(
            db_session=db_session, consumer=CONSUMER, handle=_reserved, limit=batch
        )
        db_session.commit()
        if not handled:
            return done
        done += handled


class _Event(Protocol):
    """What the intake reads of an outbox event."""

    @property
    def payload(self) -> Mapping[str, Any]: ...


def _reserved(db_session: Session, event: _Event) -> str:
    parcel_id = event.payload.get("parcel_id")
    if not isinstance(parcel_id, int):
        return "skipped: no parcel_id"
    sent = prepare_parcel(db_session=db_session, parcel_id=parcel_id)
    return "code pushed" if sent else "nothing to push"


def prepare_parcel(*, db_session: Session, parcel_id: int) -> bool:
    """Issue (or move) the parcel's code and push it to its bank; whether anything was sent."""
    parcel = logistics_parcels.get_parcel(db_session=db_session, parcel_id=parcel_id)
    if parcel is None or parcel.status not in locker_parcels.AWAITING_DEPOSIT:
        return False
    if parcel.bank_id is None or parcel.compartment_id is None:
        return False
    before = codes.get_pickup_code(db_session=db_session, parcel_id=parcel.id)
    old_bank = before.bank_id if before is not None else None
    old_status = before.status if before is not None else None
    if before is not None and old_bank != parcel.bank_id and old_status == CodeStatus.ACTIVE:
        codes.retire_code(
            db_session=db_session,
            parcel_id=parcel.id,
            status=CodeStatus.REVOKED,
            revoke_at_locker=True,
        )
    row = codes.ensure_pickup_code(db_session=db_session, parcel=parcel)
    entry = codes.code_entry(db_session=db_session, parcel=parcel, row=row)
    if _already_pushed(db_session=db_session, parcel_id=parcel.id, entry=entry):
        return False
    codes.push_code(db_session=db_session, parcel=parcel, row=row)
    return True


def _already_pushed(*, db_session: Session, parcel_id: int, entry: dict[str, object]) -> bool:
    """Whether the newest code push for the parcel carries this very entry and is not lost."""
    last = db_session.scalar(
        select(LockerCommand)
        .where(
            LockerCommand.parcel_id == parcel_id,
            LockerCommand.kind == protocol.CommandType.LOAD_CODES.value,
        )
        .order_by(LockerCommand.created_at.desc())
        .limit(1)
    )
    if last is None or last.status in (CommandStatus.FAILED, CommandStatus.EXPIRED):
        return False
    return bool(last.payload.get("codes") == [entry])
