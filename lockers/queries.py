"""Reading the lockers' records for other packages: plain values, never the models."""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.events.consumer import Mark, follow
from lockers.models import (
    ColdChainExcursion,
    LockerBankState,
    LockerCommand,
    LockerEvent,
    ParcelColdChainFlag,
)
from lockers.models import CommandStatus as CommandStatus


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


@dataclass(frozen=True)
class AlarmedExcursion:
    """A zone's too-warm spell still open and past its alarm, with the parcels it flagged."""

    id: int
    bank_id: int
    zone: str
    max_temp_c: float
    limit_c: float
    flagged_parcels: int


def open_alarmed_excursions(db_session: Session) -> list[AlarmedExcursion]:
    """The excursions not ended whose alarm time passed, each with its flagged parcel count."""
    excursions = list(
        db_session.scalars(
            select(ColdChainExcursion).where(
                ColdChainExcursion.ended_at.is_(None), ColdChainExcursion.alarm_at.is_not(None)
            )
        )
    )
    if not excursions:
        return []
    flagged = dict(
        db_session.execute(
            select(ParcelColdChainFlag.excursion_id, func.count())
            .where(ParcelColdChainFlag.excursion_id.in_([e.id for e in excursions]))
            .group_by(ParcelColdChainFlag.excursion_id)
        ).all()
    )
    return [
        AlarmedExcursion(
            id=e.id,
            bank_id=e.bank_id,
            zone=str(e.zone.value),
            max_temp_c=e.max_temp_c,
            limit_c=e.limit_c,
            flagged_parcels=int(flagged.get(e.id, 0)),
        )
        for e in excursions
    ]


def open_excursion_zones(db_session: Session, bank_ids: Collection[int]) -> set[tuple[int, str]]:
    """(bank id, zone) of every excursion of these banks not ended yet."""
    if not bank_ids:
        return set()
    rows = db_session.execute(
        select(ColdChainExcursion.bank_id, ColdChainExcursion.zone).where(
            ColdChainExcursion.bank_id.in_(list(bank_ids)), ColdChainExcursion.ended_at.is_(None)
        )
    )
    return {(bank_id, str(getattr(zone, "value", zone))) for bank_id, zone in rows}


def offline_banks_since(db_session: Session) -> dict[int, datetime | None]:
    """When each bank off the network went offline (or was last seen), by bank id."""
    rows = db_session.execute(
        select(
            LockerBankState.bank_id,
            func.coalesce(LockerBankState.went_offline_at, LockerBankState.last_seen_at),
        ).where(LockerBankState.online.is_(False))
    )
    return {bank_id: since for bank_id, since in rows}


def online_bank_reports(db_session: Session) -> list[tuple[int, dict[str, Any]]]:
    """(bank id, last reported state) of every bank on the network."""
    rows = db_session.execute(
        select(LockerBankState.bank_id, LockerBankState.state).where(
            LockerBankState.online.is_(True)
        )
    )
    return [(bank_id, dict(state or {})) for bank_id, state in rows]


@dataclass(frozen=True)
class BankLink:
    """Whether a bank is on the network, since when seen, and what it last reported."""

    bank_id: int
    online: bool
    last_seen_at: datetime | None
    state: dict[str, Any]


def bank_links(db_session: Session, bank_ids: Collection[int]) -> dict[int, BankLink]:
    """The network state of these banks (those that ever reported), by bank id."""
    if not bank_ids:
        return {}
    rows = db_session.execute(
        select(
            LockerBankState.bank_id,
            LockerBankState.online,
            LockerBankState.last_seen_at,
            LockerBankState.state,
        ).where(LockerBankState.bank_id.in_(list(bank_ids)))
    )
    return {
        bank_id: BankLink(bank_id, bool(online), seen, dict(state or {}))
        for bank_id, online, seen, state in rows
    }


@dataclass(frozen=True)
class ReceivedLockerEvent:
    """An event a locker reported, with when it arrived."""

    id: int
    bank_id: int
    type: str
    payload: dict[str, Any]
    received_at: datetime
    outcome: str


def _received(event: LockerEvent) -> ReceivedLockerEvent:
    return ReceivedLockerEvent(
        event.id,
        event.bank_id,
        event.type,
        dict(event.payload or {}),
        event.received_at,
        event.outcome,
    )


def newest_bank_events(db_session: Session, bank_id: int, limit: int) -> list[ReceivedLockerEvent]:
    """The bank's newest `limit` events, newest first."""
    events = db_session.scalars(
        select(LockerEvent)
        .where(LockerEvent.bank_id == bank_id)
        .order_by(LockerEvent.id.desc())
        .limit(limit)
    )
    return [_received(event) for event in events]


def bank_events_of_type_since(
    db_session: Session, bank_ids: Collection[int], event_type: str, since: datetime
) -> list[ReceivedLockerEvent]:
    """The events of one type these banks reported, received at or after `since`, by id."""
    if not bank_ids:
        return []
    events = db_session.scalars(
        select(LockerEvent)
        .where(
            LockerEvent.bank_id.in_(list(bank_ids)),
            LockerEvent.type == event_type,
            LockerEvent.received_at >= since,
        )
        .order_by(LockerEvent.id)
    )
    return [_received(event) for event in events]


@dataclass(frozen=True)
class BankCommandView:
    """A command sent to a bank, as an operator follows it."""

    id: str
    bank_id: int
    payload: dict[str, Any]
    status: CommandStatus
    error: str | None
    created_at: datetime


def bank_command(db_session: Session, command_id: str) -> BankCommandView | None:
    """The locker command with this id, or None."""
    command = db_session.get(LockerCommand, command_id)
    if command is None:
        return None
    return BankCommandView(
        command.id,
        command.bank_id,
        dict(command.payload or {}),
        CommandStatus(command.status),
        command.error,
        command.created_at,
    )
