"""Resident pickup at the locker: the locker checks the code itself (offline too) and reports
the collection, possibly much later; the keypad lockout is the locker's, recorded here.

These functions run inside the bridge's event transaction and do not commit.
"""

from datetime import datetime

from sqlalchemy.orm import Session

from app.neighborhoods.queries import CompartmentStatus, LockerBankView
from lockers import banks, codes, domain_events, locker_parcels, protocol
from lockers.models import CodeStatus
from logistics import parcels as logistics_parcels
from logistics.parcels import ParcelStatus

_COLLECTABLE = (
    ParcelStatus.READY_FOR_PICKUP,
    ParcelStatus.EXPIRED,
    # Out of order: the collection arrived before the door-closed report of the deposit.
    ParcelStatus.RESERVED,
    ParcelStatus.LOADED,
)


def apply_collected(
    *, db_session: Session, bank: LockerBankView, event: protocol.EventMessage
) -> str:
    """The resident took the parcel: parcel collected, compartment free, order collected."""
    if event.parcel_id is None:
        return "ignored:no_parcel"
    parcel = logistics_parcels.get_parcel(
        db_session=db_session, parcel_id=event.parcel_id, for_update=True
    )
    if parcel is None or parcel.bank_id != bank.id:
        return "ignored:unknown_parcel"
    if parcel.status not in _COLLECTABLE:
        return f"ignored:parcel_{parcel.status.value}"
    logistics_parcels.mark_collected(parcel)
    codes.retire_code(
        db_session=db_session, parcel_id=parcel.id, status=CodeStatus.USED, revoke_at_locker=False
    )
    if parcel.compartment_id is not None:
        compartment = banks.get_compartment(
            db_session=db_session, compartment_id=parcel.compartment_id
        )
        locker_parcels.set_compartment_status(
            db_session=db_session, compartment_id=compartment.id, status=CompartmentStatus.FREE
        )
    locker_parcels.sync_order(db_session=db_session, order_id=parcel.order_id)
    domain_events.emit(
        db_session=db_session,
        kind=domain_events.PARCEL_COLLECTED,
        dedupe_key=f"{domain_events.PARCEL_COLLECTED}:{parcel.id}",
        payload=domain_events.parcel_payload(
            parcel, collected_at=event.ts, method=event.data.get("method", "keypad")
        ),
    )
    return "applied:collected"


def apply_code_rejected(
    *, db_session: Session, bank: LockerBankView, event: protocol.EventMessage
) -> str:
    """A wrong code was typed: keep the locker's count of failed tries."""
    state = banks.get_or_create_state(db_session=db_session, bank_id=bank.id)
    state.keypad_failed_attempts = int(event.data.get("failed_attempts", 0))
    return "applied:code_rejected"


def apply_keypad_locked(
    *, db_session: Session, bank: LockerBankView, event: protocol.EventMessage
) -> str:
    """Too many wrong codes: the locker locked its keypad until a time; operators are told."""
    state = banks.get_or_create_state(db_session=db_session, bank_id=bank.id)
    until = _parse_time(event.data.get("until"))
    if until is not None and (
        state.keypad_locked_until is None or until > state.keypad_locked_until
    ):
        state.keypad_locked_until = until
    state.keypad_failed_attempts = int(event.data.get("failed_attempts", 0))
    state.keypad_lockouts += 1
    domain_events.emit(
        db_session=db_session,
        kind=domain_events.LOCKER_KEYPAD_LOCKED,
        dedupe_key=f"{domain_events.LOCKER_KEYPAD_LOCKED}:{bank.id}:{event.event_id}",
        payload={
            "bank_id": bank.id,
            "bank_code": bank.code,
            "until": until,
            "failed_attempts": state.keypad_failed_attempts,
        },
    )
    return "applied:keypad_locked"


def apply_keypad_unlocked(
    *, db_session: Session, bank: LockerBankView, event: protocol.EventMessage
) -> str:
    """The lockout ended at the locker."""
    state = banks.get_or_create_state(db_session=db_session, bank_id=bank.id)
    if state.keypad_locked_until is not None and state.keypad_locked_until <= event.ts:
        state.keypad_locked_until = None
    state.keypad_failed_attempts = 0
    return "applied:keypad_unlocked"


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
