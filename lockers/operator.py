"""Operator actions on a locker bank: remote open (audited, with a reason), out of service and
back, and the bank's live picture. The action flows commit."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import CompartmentStatus, CompartmentView, LockerBankView
from lockers import (
    audit_log,
    banks,
    coldchain,
    command_queue,
    domain_events,
    locker_parcels,
    protocol,
)
from lockers.config import get_locker_settings
from lockers.deposit import BankOffline, flag_for_replan
from lockers.errors import CompartmentNotFound
from lockers.models import ColdChainExcursion, LockerBankState, LockerCommand
from logistics.parcels import Parcel, ParcelStatus


def _compartment_of(*, db_session: Session, bank_id: int, compartment_id: int) -> CompartmentView:
    compartment = neighborhood_queries.compartment(
        db_session=db_session, compartment_id=compartment_id
    )
    if compartment is None or compartment.bank_id != bank_id:
        raise CompartmentNotFound(
            f"no compartment {compartment_id} in bank {bank_id}", field="compartment_id"
        )
    return compartment


def remote_open(
    *, db_session: Session, bank_id: int, compartment_id: int, reason: str, operator_id: int
) -> LockerCommand:
    """Flow: open a compartment from afar, audited with the operator and the reason."""
    bank = banks.get_bank(db_session=db_session, bank_id=bank_id)
    compartment = _compartment_of(
        db_session=db_session, bank_id=bank_id, compartment_id=compartment_id
    )
    if not banks.is_online(db_session=db_session, bank_id=bank.id):
        raise BankOffline(
            f"locker bank {bank.code} is offline", field="bank_id", bank_code=bank.code
        )
    parcel = locker_parcels.parcel_in_compartment(
        db_session=db_session, compartment_id=compartment.id
    )
    command = command_queue.queue_command(
        db_session=db_session,
        bank_id=bank.id,
        kind=protocol.CommandType.OPEN_COMPARTMENT,
        args={
            "compartment": compartment.label,
            "purpose": protocol.OpenPurpose.OPERATOR.value,
            "parcel_id": parcel.id if parcel is not None else None,
        },
        ttl_seconds=get_locker_settings().open_command_ttl_seconds,
        purpose=protocol.OpenPurpose.OPERATOR.value,
        parcel_id=parcel.id if parcel is not None else None,
        compartment_id=compartment.id,
        requested_by_id=operator_id,
    )
    audit_log.audit(
        db_session=db_session,
        actor_id=operator_id,
        action="remote_open",
        bank_id=bank.id,
        compartment_id=compartment.id,
        parcel_id=parcel.id if parcel is not None else None,
        command_id=command.id,
        reason=reason,
    )
    db_session.commit()
    return command


def set_out_of_service(
    *,
    db_session: Session,
    bank_id: int,
    compartment_id: int,
    out_of_service: bool,
    reason: str,
    operator_id: int | None,
) -> CompartmentView:
    """Flow: take a compartment out of service (or back), audited; the locker is told too."""
    bank = banks.get_bank(db_session=db_session, bank_id=bank_id)
    compartment = _compartment_of(
        db_session=db_session, bank_id=bank_id, compartment_id=compartment_id
    )
    mark_out_of_service(
        db_session=db_session,
        bank=bank,
        compartment=compartment,
        out_of_service=out_of_service,
        reason=reason,
        actor_id=operator_id,
        tell_locker=True,
    )
    db_session.commit()
    return banks.get_compartment(db_session=db_session, compartment_id=compartment.id)


def mark_out_of_service(
    *,
    db_session: Session,
    bank: LockerBankView,
    compartment: CompartmentView,
    out_of_service: bool,
    reason: str,
    actor_id: int | None,
    tell_locker: bool,
) -> None:
    """Move a compartment out of service or back (no commit); parcels awaiting it are re-planned."""
    parcel = locker_parcels.parcel_in_compartment(
        db_session=db_session, compartment_id=compartment.id
    )
    if out_of_service:
        if compartment.status == CompartmentStatus.OUT_OF_SERVICE:
            return
        compartment_lifecycle.move_by_id(
            db_session=db_session,
            compartment_id=compartment.id,
            to=CompartmentStatus.OUT_OF_SERVICE,
        )
        if parcel is not None and parcel.status in locker_parcels.AWAITING_DEPOSIT:
            flag_for_replan(
                db_session=db_session, parcel=parcel, reason="compartment_out_of_service"
            )
        domain_events.emit(
            db_session=db_session,
            kind=domain_events.LOCKER_COMPARTMENT_OUT_OF_SERVICE,
            dedupe_key=f"{domain_events.LOCKER_COMPARTMENT_OUT_OF_SERVICE}:{compartment.id}:"
            f"{utcnow().isoformat()}",
            payload={
                "bank_id": bank.id,
                "bank_code": bank.code,
                "compartment_id": compartment.id,
                "label": compartment.label,
                "reason": reason,
            },
        )
    else:
        if compartment.status != CompartmentStatus.OUT_OF_SERVICE:
            return
        compartment_lifecycle.move_by_id(
            db_session=db_session, compartment_id=compartment.id, to=_status_from_parcel(parcel)
        )
    command_id = None
    if tell_locker:
        command = command_queue.queue_command(
            db_session=db_session,
            bank_id=bank.id,
            kind=protocol.CommandType.SET_OUT_OF_SERVICE,
            args={"compartment": compartment.label, "out_of_service": out_of_service},
            ttl_seconds=get_locker_settings().config_command_ttl_seconds,
            compartment_id=compartment.id,
            requested_by_id=actor_id,
        )
        command_id = command.id
    audit_log.audit(
        db_session=db_session,
        actor_id=actor_id,
        action="out_of_service" if out_of_service else "back_in_service",
        bank_id=bank.id,
        compartment_id=compartment.id,
        command_id=command_id,
        reason=reason,
    )


def _status_from_parcel(parcel: Parcel | None) -> CompartmentStatus:
    if parcel is None:
        return CompartmentStatus.FREE
    if parcel.status in locker_parcels.AWAITING_DEPOSIT:
        return CompartmentStatus.RESERVED
    if parcel.status in (ParcelStatus.READY_FOR_PICKUP, ParcelStatus.EXPIRED):
        return CompartmentStatus.OCCUPIED
    return CompartmentStatus.FREE


@dataclass(frozen=True)
class BankPicture:
    """A bank's live state as the operator sees it."""

    bank: LockerBankView
    state: LockerBankState | None
    online: bool
    compartments: list[tuple[CompartmentView, Parcel | None]]
    pending_commands: list[LockerCommand]
    open_excursions: list[ColdChainExcursion]
    now: datetime


def bank_picture(*, db_session: Session, bank_id: int) -> BankPicture:
    """Everything an operator needs to see about one bank now."""
    bank = banks.get_bank(db_session=db_session, bank_id=bank_id)
    compartments = neighborhood_queries.compartments_of_banks(
        db_session=db_session, bank_ids=[bank.id]
    )[bank.id]
    return BankPicture(
        bank=bank,
        state=banks.get_state(db_session=db_session, bank_id=bank.id),
        online=banks.is_online(db_session=db_session, bank_id=bank.id),
        compartments=[
            (c, locker_parcels.parcel_in_compartment(db_session=db_session, compartment_id=c.id))
            for c in compartments
        ],
        pending_commands=command_queue.get_commands(
            db_session=db_session, bank_id=bank.id, pending_only=True
        ),
        open_excursions=coldchain.open_excursions(db_session=db_session, bank_id=bank.id),
        now=utcnow(),
    )
