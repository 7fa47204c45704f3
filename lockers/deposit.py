"""Driver deposit: open the reserved compartment, then the locker's door-closed report makes
the parcel ready for pickup. Retrieval of expired parcels closes the same way (empty door).

`request_*` functions are flows: they commit. `apply_*` functions run inside the bridge's
event transaction and do not commit.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import Conflict
from app.neighborhoods.queries import CompartmentStatus, CompartmentView, LockerBankView
from lockers import banks, codes, command_queue, domain_events, intake, locker_parcels, protocol
from lockers.config import get_locker_settings
from lockers.models import CodeStatus, CommandStatus, LockerCommand
from logistics import handover
from logistics import parcels as logistics_parcels
from logistics.parcels import Parcel, ParcelStatus


class BankOffline(Conflict):
    """The parcel's locker bank is not reachable now."""

    code = "locker_offline"


class CompartmentUnavailable(Conflict):
    """The reserved compartment cannot be opened (out of service)."""

    code = "compartment_unavailable"


class ParcelNotAwaitingDeposit(Conflict):
    """The parcel is not reserved or loaded: nothing to deposit."""

    case = "parcel_not_awaiting_deposit"


class ParcelNotExpired(Conflict):
    """Only an expired parcel is retrieved from its locker."""

    case = "parcel_not_expired"


class ParcelWithoutCompartment(Conflict):
    """The parcel has no compartment reserved (or is in none)."""

    case = "parcel_without_compartment"


def request_deposit(*, db_session: Session, parcel_id: int, driver_id: int) -> LockerCommand:
    """Flow: queue the command opening the parcel's reserved compartment (commits).

    A bank that is offline (or a compartment out of service) refuses the deposit with 409
    and flags the parcel for re-planning. Asking again while an open command is pending
    returns that command instead of opening twice.
    """
    parcel = locker_parcels.get_parcel(db_session=db_session, parcel_id=parcel_id, for_update=True)
    if parcel.status not in locker_parcels.AWAITING_DEPOSIT:
        raise ParcelNotAwaitingDeposit(
            f"parcel {parcel.id} is {parcel.status.value}, not awaiting deposit",
            field="parcel_id",
        )
    if parcel.bank_id is None or parcel.compartment_id is None:
        raise ParcelWithoutCompartment(
            f"parcel {parcel.id} has no reserved compartment", field="parcel_id"
        )
    handover.ensure_at_stop(db_session=db_session, parcel=parcel, driver_id=driver_id)
    bank = banks.get_bank(db_session=db_session, bank_id=parcel.bank_id)
    compartment = banks.get_compartment(db_session=db_session, compartment_id=parcel.compartment_id)
    pending = _pending_open(db_session=db_session, parcel_id=parcel.id, purpose="deposit")
    if pending is not None:
        return pending
    if compartment.status == CompartmentStatus.OUT_OF_SERVICE:
        flag_for_replan(db_session=db_session, parcel=parcel, reason="compartment_out_of_service")
        db_session.commit()
        raise CompartmentUnavailable(
            f"compartment {compartment.label} of locker bank {bank.code} is out of service; "
            "the parcel is flagged for re-planning",
            field="parcel_id",
            bank_code=bank.code,
            compartment=compartment.label,
        )
    if not banks.is_online(db_session=db_session, bank_id=bank.id):
        flag_for_replan(db_session=db_session, parcel=parcel, reason="locker_offline")
        db_session.commit()
        raise BankOffline(
            f"locker bank {bank.code} is offline; the parcel is flagged for re-planning",
            field="parcel_id",
            bank_code=bank.code,
        )
    intake.prepare_parcel(db_session=db_session, parcel_id=parcel.id)
    command = _open(
        db_session=db_session,
        parcel=parcel,
        bank=bank,
        compartment=compartment,
        purpose=protocol.OpenPurpose.DEPOSIT,
        actor_id=driver_id,
    )
    db_session.commit()
    return command


def request_retrieval(*, db_session: Session, parcel_id: int, driver_id: int) -> LockerCommand:
    """Flow: queue the command opening an expired parcel's compartment for the driver."""
    parcel = locker_parcels.get_parcel(db_session=db_session, parcel_id=parcel_id, for_update=True)
    if parcel.status != ParcelStatus.EXPIRED:
        raise ParcelNotExpired(
            f"parcel {parcel.id} is {parcel.status.value}; only expired parcels are retrieved",
            field="parcel_id",
        )
    if parcel.bank_id is None or parcel.compartment_id is None:
        raise ParcelWithoutCompartment(
            f"parcel {parcel.id} is in no compartment", field="parcel_id"
        )
    bank = banks.get_bank(db_session=db_session, bank_id=parcel.bank_id)
    compartment = banks.get_compartment(db_session=db_session, compartment_id=parcel.compartment_id)
    pending = _pending_open(db_session=db_session, parcel_id=parcel.id, purpose="retrieve")
    if pending is not None:
        return pending
    if not banks.is_online(db_session=db_session, bank_id=bank.id):
        raise BankOffline(
            f"locker bank {bank.code} is offline", field="parcel_id", bank_code=bank.code
        )
    command = _open(
        db_session=db_session,
        parcel=parcel,
        bank=bank,
        compartment=compartment,
        purpose=protocol.OpenPurpose.RETRIEVE,
        actor_id=driver_id,
    )
    db_session.commit()
    return command


def flag_for_replan(*, db_session: Session, parcel: Parcel, reason: str) -> None:
    """Tell logistics (outbox) that this parcel needs another compartment or bank."""
    now = utcnow()
    domain_events.emit(
        db_session=db_session,
        kind=domain_events.PARCEL_REPLAN_NEEDED,
        dedupe_key=f"{domain_events.PARCEL_REPLAN_NEEDED}:{parcel.id}:{now.isoformat()}",
        payload=domain_events.parcel_payload(parcel, reason=reason),
    )


def _pending_open(*, db_session: Session, parcel_id: int, purpose: str) -> LockerCommand | None:
    now = utcnow()
    return db_session.scalar(
        select(LockerCommand).where(
            LockerCommand.parcel_id == parcel_id,
            LockerCommand.kind == protocol.CommandType.OPEN_COMPARTMENT.value,
            LockerCommand.purpose == purpose,
            LockerCommand.status.in_((CommandStatus.QUEUED, CommandStatus.SENT)),
            LockerCommand.expires_at > now,
        )
    )


def _open(
    *,
    db_session: Session,
    parcel: Parcel,
    bank: LockerBankView,
    compartment: CompartmentView,
    purpose: protocol.OpenPurpose,
    actor_id: int,
) -> LockerCommand:
    return command_queue.queue_command(
        db_session=db_session,
        bank_id=bank.id,
        kind=protocol.CommandType.OPEN_COMPARTMENT,
        args={"compartment": compartment.label, "purpose": purpose.value, "parcel_id": parcel.id},
        ttl_seconds=get_locker_settings().open_command_ttl_seconds,
        purpose=purpose.value,
        parcel_id=parcel.id,
        compartment_id=compartment.id,
        requested_by_id=actor_id,
    )


def apply_door_closed(
    *, db_session: Session, bank: LockerBankView, event: protocol.EventMessage
) -> str:
    """A door closed: with the awaited parcel in, it is deposited; empty after a retrieval or
    staff opening, the parcel left the locker. Returns the outcome recorded with the event."""
    if event.compartment is None:
        return "ignored:no_compartment"
    compartment = banks.get_compartment_by_label(
        db_session=db_session, bank_id=bank.id, label=event.compartment
    )
    if compartment is None:
        return "ignored:unknown_compartment"
    parcel: Parcel | None = None
    if event.parcel_id is not None:
        parcel = logistics_parcels.get_parcel(
            db_session=db_session, parcel_id=event.parcel_id, for_update=True
        )
    if parcel is None:
        parcel = locker_parcels.parcel_in_compartment(
            db_session=db_session, compartment_id=compartment.id
        )
    if parcel is None or parcel.compartment_id != compartment.id:
        return "ignored:no_parcel"
    present = bool(event.data.get("parcel_present"))
    if present:
        return _deposited(db_session=db_session, parcel=parcel, compartment=compartment)
    return _emptied(db_session=db_session, parcel=parcel, compartment=compartment, event=event)


def _deposited(*, db_session: Session, parcel: Parcel, compartment: CompartmentView) -> str:
    if parcel.status not in locker_parcels.AWAITING_DEPOSIT:
        return f"ignored:parcel_{parcel.status.value}"
    logistics_parcels.mark_deposited(parcel)
    locker_parcels.set_compartment_status(
        db_session=db_session, compartment_id=compartment.id, status=CompartmentStatus.OCCUPIED
    )
    codes.ensure_pickup_code(db_session=db_session, parcel=parcel)
    locker_parcels.sync_order(db_session=db_session, order_id=parcel.order_id)
    domain_events.emit(
        db_session=db_session,
        kind=domain_events.PARCEL_READY,
        dedupe_key=f"{domain_events.PARCEL_READY}:{parcel.id}",
        payload=domain_events.parcel_payload(parcel),
    )
    return "applied:deposited"


def _emptied(
    *,
    db_session: Session,
    parcel: Parcel,
    compartment: CompartmentView,
    event: protocol.EventMessage,
) -> str:
    purpose = None
    if event.command_id is not None:
        command = db_session.get(LockerCommand, event.command_id)
        purpose = command.purpose if command is not None else None
    if purpose not in ("retrieve", "operator"):
        return "ignored:empty_close"
    if parcel.status not in locker_parcels.LIVE_PARCEL:
        return f"ignored:parcel_{parcel.status.value}"
    logistics_parcels.mark_retrieved(parcel)
    codes.retire_code(
        db_session=db_session,
        parcel_id=parcel.id,
        status=CodeStatus.REVOKED,
        revoke_at_locker=True,
    )
    locker_parcels.set_compartment_status(
        db_session=db_session, compartment_id=compartment.id, status=CompartmentStatus.FREE
    )
    locker_parcels.sync_order(db_session=db_session, order_id=parcel.order_id)
    domain_events.emit(
        db_session=db_session,
        kind=domain_events.PARCEL_RETRIEVED,
        dedupe_key=f"{domain_events.PARCEL_RETRIEVED}:{parcel.id}",
        payload=domain_events.parcel_payload(parcel, by=purpose),
    )
    return "applied:retrieved"
