"""API shapes of the locker endpoints."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_EXAMPLE_TIME = "2026-11-24T11:00:00+08:00"


class CommandRead(BaseModel):
    """A locker command and where it stands (delivered only when `status` is `acked`)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0f8c2c1e-8a55-4f1f-9d0e-3f1c2b7d9a10",
                    "bank_id": 3,
                    "kind": "open_compartment",
                    "purpose": "deposit",
                    "status": "acked",
                    "attempts": 1,
                    "parcel_id": 41,
                    "compartment_id": 12,
                    "created_at": "2026-11-24T02:58:01Z",
                    "expires_at": "2026-11-24T03:00:01Z",
                    "first_sent_at": "2026-11-24T02:58:01Z",
                    "finished_at": "2026-11-24T02:58:01Z",
                    "error": None,
                }
            ]
        },
    )

    id: str
    bank_id: int
    kind: str
    purpose: str | None
    status: str
    attempts: int
    parcel_id: int | None
    compartment_id: int | None
    created_at: datetime
    expires_at: datetime
    first_sent_at: datetime | None
    finished_at: datetime | None
    error: str | None


class MyParcelRead(BaseModel):
    """A resident's parcel with where to pick it up and its code (while it is in the locker)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "parcel_id": 41,
                    "order_id": 17,
                    "status": "ready_for_pickup",
                    "temperature_class": "chilled",
                    "bank_id": 3,
                    "bank_name": "Riverside Gate 2",
                    "address": "12 Riverside Rd",
                    "compartment": "A4",
                    "pickup_code": "482913",
                    "qr_text": "PKP1:bank-3:41:482913",
                    "pickup_deadline": _EXAMPLE_TIME,
                    "timezone": "Asia/Shanghai",
                    "extended": False,
                    "can_extend": True,
                    "cold_chain_minutes_out": None,
                }
            ]
        }
    )

    parcel_id: int
    order_id: int
    status: str
    temperature_class: str
    bank_id: int | None
    bank_name: str | None
    address: str | None
    compartment: str | None
    pickup_code: str | None = Field(description="Shown only while the parcel waits in the locker")
    qr_text: str | None = Field(description="Text of the pickup QR code (same secret as the code)")
    pickup_deadline: datetime = Field(description="In the city's time zone")
    timezone: str
    extended: bool
    can_extend: bool
    cold_chain_minutes_out: int | None


class RemoteOpenRequest(BaseModel):
    """Why an operator opens a compartment from afar (kept in the audit log)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "resident lost phone, ID checked on call"}]}
    )

    reason: str = Field(min_length=5, max_length=500)


class OutOfServiceRequest(BaseModel):
    """Take a compartment out of service (or back), with the reason."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"out_of_service": True, "reason": "door hinge broken"}]}
    )

    out_of_service: bool
    reason: str = Field(min_length=5, max_length=500)


class CompartmentState(BaseModel):
    """A compartment as the server and the locker see it."""

    id: int
    label: str
    size: str
    zone: str
    status: str
    parcel_id: int | None
    parcel_status: str | None
    door: str | None = Field(description="As last reported by the locker")
    reported_occupied: bool | None
    reported_out_of_service: bool | None


class ZoneState(BaseModel):
    zone: str
    temp_c: float | None
    limit_c: float | None
    excursion_since: datetime | None
    alarm_at: datetime | None


class BankSummary(BaseModel):
    """A bank in the operator's list."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "code": "bank-3",
                    "name": "Riverside Gate 2",
                    "address": "12 Riverside Rd",
                    "online": True,
                    "last_seen_at": "2026-11-24T02:58:01Z",
                    "keypad_locked_until": None,
                    "open_alarms": 0,
                }
            ]
        }
    )

    id: int
    code: str
    name: str
    address: str
    online: bool
    last_seen_at: datetime | None
    keypad_locked_until: datetime | None
    open_alarms: int


class BankLiveState(BankSummary):
    """Everything about one bank now: connection, temperatures, doors, pending commands."""

    firmware: str | None
    state_at: datetime | None
    clock_skew_seconds: float | None
    went_offline_at: datetime | None
    keypad_failed_attempts: int
    zones: list[ZoneState]
    compartments: list[CompartmentState]
    pending_commands: list[CommandRead]


class RetrievalRead(BaseModel):
    """An expired parcel the next route must take out of a locker."""

    parcel_id: int
    bank_id: int | None
    bank_code: str | None
    compartment: str | None
    pickup_deadline: datetime


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    actor_id: int | None
    action: str
    bank_id: int
    compartment_id: int | None
    parcel_id: int | None
    command_id: str | None
    reason: str
    details: dict[str, Any]


class LockerEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: str
    type: str
    seq: int
    locker_ts: datetime
    received_at: datetime
    payload: dict[str, Any]
    outcome: str
