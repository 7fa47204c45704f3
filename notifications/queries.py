"""Reading SMS messages for other packages: plain values, never the models."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications.models import Message


@dataclass(frozen=True)
class MessageSummary:
    """An SMS as a timeline shows it (`status` as its string value; the phone whole)."""

    id: int
    template: str
    params: dict[str, Any]
    status: str
    to_phone: str
    provider_status: str | None
    final_at: datetime | None
    error_code: int | None
    error_message: str | None
    suppression_reason: str | None
    created_at: datetime


def messages_of_resident(db_session: Session, resident_id: int) -> list[MessageSummary]:
    """Every SMS to the resident, in id order."""
    messages = db_session.scalars(
        select(Message).where(Message.resident_id == resident_id).order_by(Message.id)
    )
    return [
        MessageSummary(
            id=m.id,
            template=m.template,
            params=dict(m.params or {}),
            status=str(m.status.value),
            to_phone=m.to_phone,
            provider_status=m.provider_status,
            final_at=m.final_at,
            error_code=m.error_code,
            error_message=m.error_message,
            suppression_reason=m.suppression_reason,
            created_at=m.created_at,
        )
        for m in messages
    ]
