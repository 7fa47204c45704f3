"""What the packages above lockers read of the lockers' tables, as plain values."""

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.models import CommandStatus, LockerCommand

DOOR_PENDING = (CommandStatus.QUEUED, CommandStatus.SENT, CommandStatus.ACKED)


def parcels_waiting_for_deposit_door(
    *, db_session: Session, parcel_ids: Collection[int]
) -> set[int]:
    """The parcels among `parcel_ids` whose deposit opening is queued, sent or acked."""
    return set(
        db_session.scalars(
            select(LockerCommand.parcel_id).where(
                LockerCommand.parcel_id.in_(list(parcel_ids)),
                LockerCommand.purpose == "deposit",
                LockerCommand.status.in_(DOOR_PENDING),
            )
        )
    )
