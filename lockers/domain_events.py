"""The outbox events the locker side emits (consumed by notifications, logistics, operators).

Payloads carry ids, never codes; consumers load what they need (the notifications package
derives the pickup code with `lockers.codes.pickup_code_for_parcel` when it renders an SMS).
"""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.events import cold_chain
from app.events import service as event_service
from lockers import protocol
from logistics.parcels import Parcel

PARCEL_READY = "parcel.ready_for_pickup"
PARCEL_COLLECTED = "parcel.collected"
PARCEL_EXPIRED = "parcel.expired"
PARCEL_RETRIEVED = "parcel.retrieved"
PARCEL_EXTENDED = "parcel.pickup_deadline_extended"
PARCEL_COLD_CHAIN_FLAG = cold_chain.PARCEL_COLD_CHAIN_FLAG  # emitted by app/events/cold_chain.py
PARCEL_REPLAN_NEEDED = "parcel.replan_needed"
LOCKER_OFFLINE = "locker.offline"
LOCKER_ONLINE = "locker.online"
LOCKER_COLD_CHAIN_ALARM = "locker.cold_chain_alarm"
LOCKER_KEYPAD_LOCKED = "locker.keypad_locked"
LOCKER_COMPARTMENT_OUT_OF_SERVICE = "locker.compartment_out_of_service"
LOCKER_COMMAND_FAILED = "locker.command_failed"


def parcel_payload(parcel: Parcel, **extra: Any) -> dict[str, Any]:
    """The ids every parcel event carries, plus `extra`."""
    payload: dict[str, Any] = {
        "parcel_id": parcel.id,
        "order_id": parcel.order_id,
        "resident_id": parcel.resident_id,
        "bank_id": parcel.bank_id,
        "compartment_id": parcel.compartment_id,
        "pickup_deadline": protocol.utc_iso(parcel.pickup_deadline),
    }
    payload.update({k: _jsonable(v) for k, v in extra.items()})
    return payload


def emit(*, db_session: Session, kind: str, dedupe_key: str, payload: dict[str, Any]) -> None:
    """Emit an outbox event once per dedupe key (datetimes become ISO strings)."""
    data = {k: _jsonable(v) for k, v in payload.items()}
    event_service.emit(db_session=db_session, kind=kind, dedupe_key=dedupe_key, payload=data)


def _jsonable(value: Any) -> Any:
    return protocol.utc_iso(value) if isinstance(value, datetime) else value
