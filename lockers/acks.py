"""What the bridge does with a locker's ack (the only proof a command was delivered), and how a
command that failed or expired is reported. Runs in the caller's transaction; never commits."""

import logging
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.neighborhoods.queries import LockerBankView
from lockers import (
    command_states,
    deposit,
    domain_events,
    event_seq,
    ingest,
    locker_parcels,
    protocol,
)
from lockers.models import CommandStatus, LockerCommand

log = logging.getLogger(__name__)


def handle_ack(
    *, db_session: Session, bank: LockerBankView, payload: bytes, received_at: datetime
) -> tuple[str, LockerCommand | None]:
    """A locker's answer to a command: the only proof a command was delivered."""
    try:
        message = protocol.AckMessage.model_validate_json(payload)
    except ValidationError as exc:
        log.warning("bank %s sent an invalid ack: %s", bank.code, exc.errors()[:1])
        return "invalid", None
    locked = message.command_id in db_session.info.get(ingest.LOCKED_COMMANDS, ())
    command = db_session.get(LockerCommand, message.command_id, with_for_update=not locked)
    if command is None:
        return "ignored:unknown_command", None
    if command.bank_id != bank.id:
        log.warning("bank %s acked command %s of another bank", bank.code, command.id)
        return "ignored:other_bank", None
    result = message.model_dump(mode="json", exclude_none=True)
    if command.status == CommandStatus.EXPIRED:
        if command.late_ack_at is None:
            command.late_ack_at = received_at
            command.result = result
            log.warning("late ack for expired command %s (%s)", command.id, message.status)
        return "late", command
    if command.status not in command_states.PENDING:
        return "duplicate", command
    command.result = result
    command.finished_at = received_at
    if message.status == protocol.AckStatus.OK:
        command_states.transition(command, CommandStatus.ACKED)
        if command.kind == protocol.CommandType.REPLAY_EVENTS.value:
            event_seq.skip_unavailable(
                db_session=db_session, bank=bank, result=message.result or {}
            )
        command_states.notify_finished(db_session=db_session, command=command)
        return "acked", command
    command_states.transition(command, CommandStatus.FAILED)
    command.error = (message.error or "error")[:80]
    report_failure(db_session=db_session, command=command, reason=command.error)
    command_states.notify_finished(db_session=db_session, command=command)
    return "failed", command


def report_failure(*, db_session: Session, command: LockerCommand, reason: str) -> None:
    """Tell operators a command failed or expired; a failed deposit opening re-plans the parcel."""
    domain_events.emit(
        db_session=db_session,
        kind=domain_events.LOCKER_COMMAND_FAILED,
        dedupe_key=f"{domain_events.LOCKER_COMMAND_FAILED}:{command.id}",
        payload={
            "command_id": command.id,
            "bank_id": command.bank_id,
            "kind": command.kind,
            "purpose": command.purpose,
            "parcel_id": command.parcel_id,
            "compartment_id": command.compartment_id,
            "reason": reason,
        },
    )
    if command.purpose == protocol.OpenPurpose.DEPOSIT.value and command.parcel_id is not None:
        parcel = locker_parcels.get_parcel(db_session=db_session, parcel_id=command.parcel_id)
        if parcel.status in locker_parcels.AWAITING_DEPOSIT:
            deposit.flag_for_replan(
                db_session=db_session, parcel=parcel, reason=f"open_failed:{reason}"
            )
