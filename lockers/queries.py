"""Reading the lockers' records for other packages: plain values, never the models."""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.events.consumer import Mark, follow
from lockers.models import CommandStatus, LockerCommand, LockerEvent, ParcelColdChainFlag


def new_locker_event_types(db_session: Session, mark: Mark | None) -> tuple[list[str], Mark]:
    """The types of locker events recorded since `mark` (late commits included), and the next
    mark; with no mark yet, only where the table ends."""
    rows, next_mark = follow(db_session, LockerEvent.id, (LockerEvent.type,), mark)
    return [str(kind) for _, kind in rows], next_mark


def cold_flagged_parcel_ids() -> Select[int]:
    """The ids of parcels a locker zone kept too warm, for use inside another query."""
    return select(ParcelColdChainFlag.parcel_id)


def max_minutes_out_by_parcel(db_session: Session, parcel_ids: Collection[int]) -> dict[int, int]:
    """The most minutes out of temperature flagged for each of these parcels (flagged ones only)."""
    if not parcel_ids:
        return {}
    rows = db_session.execute(
        select(ParcelColdChainFlag.parcel_id, func.max(ParcelColdChainFlag.minutes_out))
        .where(ParcelColdChainFlag.parcel_id.in_(parcel_ids))
        .group_by(ParcelColdChainFlag.parcel_id)
    )
    return {parcel_id: int(minutes) for parcel_id, minutes in rows}


@dataclass(frozen=True)
class ColdChainFlagView:
    """A locker zone's too-warm spell as it touched one parcel."""

    parcel_id: int
    flagged_at: datetime
    minutes_out: int


def cold_chain_flags_of_parcels(
    db_session: Session, parcel_ids: Collection[int]
) -> dict[int, list[ColdChainFlagView]]:
    """The cold-chain flags of these parcels, by parcel id, in id order."""
    found: dict[int, list[ColdChainFlagView]] = defaultdict(list)
    if not parcel_ids:
        return found
    for flag in db_session.scalars(
        select(ParcelColdChainFlag)
        .where(ParcelColdChainFlag.parcel_id.in_(parcel_ids))
        .order_by(ParcelColdChainFlag.id)
    ):
        found[flag.parcel_id].append(
            ColdChainFlagView(flag.parcel_id, flag.flagged_at, flag.minutes_out)
        )
    return found


@dataclass(frozen=True)
class CommandView:
    """A locker command as a timeline shows it (`status` as its string value)."""

    id: str
    parcel_id: int | None
    kind: str
    status: str
    attempts: int
    purpose: str | None
    created_at: datetime
    finished_at: datetime | None
    error: str | None


def commands_of_parcels(
    db_session: Session, parcel_ids: Collection[int]
) -> dict[int, list[CommandView]]:
    """The locker commands about these parcels, by parcel id, oldest first."""
    found: dict[int, list[CommandView]] = defaultdict(list)
    if not parcel_ids:
        return found
    for command in db_session.scalars(
        select(LockerCommand)
        .where(LockerCommand.parcel_id.in_(parcel_ids))
        .order_by(LockerCommand.created_at)
    ):
        assert command.parcel_id is not None
        found[command.parcel_id].append(
            CommandView(
                id=command.id,
                parcel_id=command.parcel_id,
                kind=command.kind,
                status=str(command.status.value),
                attempts=command.attempts,
                purpose=command.purpose,
                created_at=command.created_at,
                finished_at=command.finished_at,
                error=command.error,
            )
        )
    return found


@dataclass(frozen=True)
class LockerEventView:
    """An event a locker reported, as a timeline shows it."""

    type: str
    payload: dict[str, Any]
    locker_ts: datetime
    outcome: str


def bank_events_between(
    db_session: Session,
    bank_id: int,
    types: Collection[str],
    since: datetime,
    until: datetime,
    limit: int,
) -> list[LockerEventView]:
    """Up to `limit` events of these types a bank reported, received in [since, until], by id."""
    events = db_session.scalars(
        select(LockerEvent)
        .where(
            LockerEvent.bank_id == bank_id,
            LockerEvent.type.in_(types),
            LockerEvent.received_at >= since,
            LockerEvent.received_at <= until,
        )
        .order_by(LockerEvent.id)
        .limit(limit)
    )
    return [LockerEventView(e.type, dict(e.payload or {}), e.locker_ts, e.outcome) for e in events]


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
