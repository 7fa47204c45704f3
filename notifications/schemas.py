"""API shapes of the SMS outbox, its settings and inbound messages (bodies always redacted)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.limits import LocalTime
from notifications.models import MessageStatus


class MessageRead(BaseModel):
    """One SMS in the outbox; the body is the stored redacted copy (codes masked)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 41,
                    "idempotency_key": "parcel_ready:17:3:12",
                    "template": "parcel_ready",
                    "resident_id": 8,
                    "to_phone": "+8613800000008",
                    "language": "en",
                    "body_redacted": "Pickup: order #17 is ready at Locker 3, 1 Garden Rd, box "
                    "A4. Code ******. Collect by Fri 14 Mar 18:00.",
                    "segments": 1,
                    "encoding": "gsm7",
                    "provider": "twilio",
                    "status": "delivered",
                    "provider_status": "delivered",
                    "provider_sid": "SM0123456789abcdef0123456789abcdef",
                    "sid_source": "send",
                    "error_code": None,
                    "error_message": None,
                    "suppression_reason": None,
                    "attempts": 1,
                    "not_before": None,
                    "created_at": "2026-03-14T02:00:00Z",
                    "sent_at": "2026-03-14T02:00:01Z",
                    "final_at": "2026-03-14T02:00:05Z",
                    "resent_from_id": None,
                }
            ]
        },
    )

    id: int
    idempotency_key: str
    template: str
    resident_id: int | None
    to_phone: str
    language: str
    body_redacted: str | None
    segments: int | None
    encoding: str | None
    provider: str | None
    status: MessageStatus
    provider_status: str | None
    provider_sid: str | None
    sid_source: str | None
    error_code: int | None
    error_message: str | None
    suppression_reason: str | None
    attempts: int
    not_before: datetime | None
    created_at: datetime
    sent_at: datetime | None
    final_at: datetime | None
    resent_from_id: int | None


class MessageSummary(BaseModel):
    """How many messages are in each status, and the latest failures' error codes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "by_status": {"delivered": 120, "sent": 3, "failed": 1},
                    "failed_by_error_code": {"21211": 1},
                }
            ]
        }
    )

    by_status: dict[str, int]
    failed_by_error_code: dict[str, int]


class InboundRead(BaseModel):
    """An SMS a resident sent us (redacted)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    from_phone: str
    body_redacted: str
    keyword: str | None
    resident_id: int | None
    received_at: datetime


class NotificationSettingsRead(BaseModel):
    """The city's notification policy (quiet hours are local wall-clock times)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "city_id": 1,
                    "timezone": "Asia/Shanghai",
                    "quiet_start": "21:00",
                    "quiet_end": "08:00",
                    "reminder_hours_before": 3,
                    "nudges_enabled": True,
                    "nudge_hours_before_cutoff": 3,
                    "nudge_max_gap": 3,
                }
            ]
        },
    )

    city_id: int | None
    timezone: str
    quiet_start: LocalTime
    quiet_end: LocalTime
    reminder_hours_before: int
    nudges_enabled: bool
    nudge_hours_before_cutoff: int
    nudge_max_gap: int


class NotificationSettingsUpdate(BaseModel):
    """Change some of the city's notification settings (fields left out stay as they are)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"quiet_start": "22:00", "quiet_end": "07:30"}]},
    )

    quiet_start: LocalTime | None = Field(None, description="Local time reminders stop")
    quiet_end: LocalTime | None = Field(None, description="Local time reminders may start again")
    reminder_hours_before: int | None = Field(None, ge=1, le=24)
    nudges_enabled: bool | None = None
    nudge_hours_before_cutoff: int | None = Field(None, ge=1, le=24)
    nudge_max_gap: int | None = Field(None, ge=1, le=50)

    @model_validator(mode="after")
    def _no_nulls(self) -> "NotificationSettingsUpdate":
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may be left out but not set to null")
        return self

    def changes(self) -> dict[str, object]:
        """The fields the caller sent."""
        return self.model_dump(exclude_unset=True)
