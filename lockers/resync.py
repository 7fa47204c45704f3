"""Resync: a locker that lost what it was told gets every live code and parcel again.

A locker reports a reset (its counters went back: storage lost or an old copy restored) or
asks for a resync (`resync_requested` event). The server then queues, through the durable
outbox with fresh command ids, `set_contents` (the parcel inside each occupied compartment),
`set_out_of_service` (each compartment taken out of service) and `load_codes` (the hashed
code of every reserved, loaded or deposited parcel). One reset
queues one resync: a resync still pending for the bank answers a request, and a new reset
supersedes it (what it carries may be stale by then).

These functions run inside the bridge's transaction and do not commit.
"""

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import CompartmentStatus
from lockers import banks, codes, command_queue, command_states, locker_parcels, protocol
from lockers.config import get_locker_settings
from lockers.models import CodeStatus, CommandStatus, LockerCommand
from logistics import parcels as logistics_parcels
from logistics.parcels import Parcel, ParcelStatus

log = logging.getLogger(__name__)

PURPOSE = "resync"
CODES_PER_COMMAND = 100  # keeps a load_codes message well under the 64 KiB limit
_INSIDE = (ParcelStatus.READY_FOR_PICKUP, ParcelStatus.EXPIRED)
_MIN_CODE_TTL_S = 60.0


def pending_resync(*, db_session: Session, bank_id: int) -> list[LockerCommand]:
    """The bank's resync commands not yet acknowledged."""
    return list(
        db_session.scalars(
            select(LockerCommand).where(
                LockerCommand.bank_id == bank_id,
                LockerCommand.purpose == PURPOSE,
                LockerCommand.status.in_(command_states.PENDING),
            )
        )
    )


def resync_bank(
    *,
    db_session: Session,
    bank_id: int,
    reason: str,
    supersede: bool,
    now: datetime | None = None,
) -> list[LockerCommand]:
    """Queue the commands that give the bank back its live parcels and codes; the commands.

    With a resync still pending, `supersede` replaces it (a new reset: the locker forgot the
    pending one's effects too, and it may be stale); otherwise the pending one stands and
    nothing is queued.
    """
    now = now or utcnow()
    pending = pending_resync(db_session=db_session, bank_id=bank_id)
    if pending and not supersede:
        log.info("bank %s: resync (%s) already pending", bank_id, reason)
        return []
    for command in pending:
        command_states.transition(command, CommandStatus.FAILED)
        command.error = "superseded"
        command.finished_at = now
    contents: list[dict[str, Any]] = []
    entries: list[tuple[dict[str, Any], datetime]] = []
    for parcel in parcels_held_for_bank(db_session=db_session, bank_id=bank_id):
        assert parcel.compartment_id is not None  # selected so
        if parcel.status in _INSIDE:
            compartment = banks.get_compartment(
                db_session=db_session, compartment_id=parcel.compartment_id
            )
            contents.append(
                protocol.ContentEntry(
                    compartment=compartment.label, parcel_id=parcel.id
                ).model_dump()
            )
        row = codes.get_pickup_code(db_session=db_session, parcel_id=parcel.id)
        if row is None or row.status != CodeStatus.ACTIVE or row.bank_id != bank_id:
            continue  # not issued yet: the intake or the deposit pushes it when it is
        entry = codes.code_entry(db_session=db_session, parcel=parcel, row=row)
        entries.append((entry, row.expires_at))
    queued: list[LockerCommand] = []
    if contents:
        queued.append(
            command_queue.queue_command(
                db_session=db_session,
                bank_id=bank_id,
                kind=protocol.CommandType.SET_CONTENTS,
                args={"compartments": contents},
                ttl_seconds=get_locker_settings().config_command_ttl_seconds,
                purpose=PURPOSE,
                now=now,
            )
        )
    for label in _out_of_service_labels(db_session=db_session, bank_id=bank_id):
        queued.append(
            command_queue.queue_command(
                db_session=db_session,
                bank_id=bank_id,
                kind=protocol.CommandType.SET_OUT_OF_SERVICE,
                args={"compartment": label, "out_of_service": True},
                ttl_seconds=get_locker_settings().config_command_ttl_seconds,
                purpose=PURPOSE,
                now=now,
            )
        )
    for start in range(0, len(entries), CODES_PER_COMMAND):
        chunk = entries[start : start + CODES_PER_COMMAND]
        last_expiry = max(expires_at for _, expires_at in chunk)
        queued.append(
            command_queue.queue_command(
                db_session=db_session,
                bank_id=bank_id,
                kind=protocol.CommandType.LOAD_CODES,
                args={"codes": [entry for entry, _ in chunk]},
                ttl_seconds=max((last_expiry - now).total_seconds(), _MIN_CODE_TTL_S),
                purpose=PURPOSE,
                now=now,
            )
        )
    log.warning(
        "bank %s: resync (%s): %d parcel(s) inside and %d code(s) re-sent in %d command(s)",
        bank_id,
        reason,
        len(contents),
        len(entries),
        len(queued),
    )
    return queued


def _out_of_service_labels(*, db_session: Session, bank_id: int) -> list[str]:
    return neighborhood_queries.compartment_labels_in_status(
        db_session=db_session, bank_id=bank_id, status=CompartmentStatus.OUT_OF_SERVICE
    )


def replay_answered_without_effect(
    *, db_session: Session, bank_id: int, from_seq: int, gap_since: datetime
) -> bool:
    """Whether the bank answered a replay from `from_seq` asked during this gap (at
    `gap_since`, a gap-grace ago), yet the gap is still there: the events it numbers are not
    ones we miss (its counter jumped, e.g. an old copy of its storage came back)."""
    last = db_session.scalar(
        select(LockerCommand)
        .where(
            LockerCommand.bank_id == bank_id,
            LockerCommand.kind == protocol.CommandType.REPLAY_EVENTS.value,
        )
        .order_by(LockerCommand.created_at.desc())
        .limit(1)
    )
    return (
        last is not None
        and last.status == CommandStatus.ACKED
        and last.payload.get("from_seq") == from_seq
        and last.created_at >= gap_since
    )


def parcels_held_for_bank(*, db_session: Session, bank_id: int) -> list[Parcel]:
    """The bank's parcels a locker must know of: reserved or loaded (awaiting deposit), ready
    for pickup or expired (inside a compartment), each with its compartment; by id."""
    return logistics_parcels.parcels_in_compartments_of_bank(
        db_session=db_session,
        bank_id=bank_id,
        statuses=(*locker_parcels.AWAITING_DEPOSIT, *locker_parcels.LIVE_PARCEL),
    )
