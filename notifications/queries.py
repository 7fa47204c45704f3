"""Reading SMS messages and opt-outs for other packages: plain values, never the models.

`MessageStatus` is re-exported as a value."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from notifications.models import Message, OptOut
from notifications.models import MessageStatus as MessageStatus


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


def message_status_counts_by_city(
    db_session: Session, since: datetime, statuses: Collection[MessageStatus]
) -> list[tuple[int | None, MessageStatus, int]]:
    """(city id, status, messages) over the messages created since `since` in one of
    `statuses`."""
    rows = db_session.execute(
        select(Message.city_id, Message.status, func.count())
        .where(Message.created_at >= since, Message.status.in_(list(statuses)))
        .group_by(Message.city_id, Message.status)
    )
    return [(city_id, MessageStatus(status), int(n)) for city_id, status, n in rows]


def message_counts_of_city_since(
    db_session: Session, city_id: int, since: datetime
) -> dict[str, int]:
    """The city's messages created since `since`, per status value."""
    rows = db_session.execute(
        select(Message.status, func.count())
        .where(Message.city_id == city_id, Message.created_at >= since)
        .group_by(Message.status)
    )
    return {str(status): int(n) for status, n in rows}


def message_error_counts_of_city(
    db_session: Session,
    city_id: int,
    since: datetime,
    statuses: Collection[MessageStatus],
    limit: int,
) -> list[tuple[int | None, str | None, int]]:
    """(error code, error text, messages) over the city's messages created since `since` in
    one of `statuses`, the `limit` most frequent first."""
    rows = db_session.execute(
        select(Message.error_code, Message.error_message, func.count())
        .where(
            Message.city_id == city_id,
            Message.created_at >= since,
            Message.status.in_(list(statuses)),
        )
        .group_by(Message.error_code, Message.error_message)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return [(code, text, int(n)) for code, text, n in rows]


@dataclass(frozen=True)
class OutboxMessage:
    """An SMS as the operators' outbox lists it."""

    id: int
    created_at: datetime
    template: str
    to_phone: str
    status: MessageStatus
    provider_status: str | None
    error_code: int | None
    error_message: str | None
    suppression_reason: str | None
    params: dict[str, Any]
    resent_from_id: int | None
    resident_id: int | None


def outbox_page_of_city(
    db_session: Session,
    city_id: int,
    *,
    statuses: Collection[MessageStatus] = (),
    template: str | None = None,
    message_id: int | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[list[OutboxMessage], int]:
    """One page of the city's messages matching every filter given (any status when none),
    newest first, and how many match."""
    where = [Message.city_id == city_id]
    if statuses:
        where.append(Message.status.in_(list(statuses)))
    if template:
        where.append(Message.template == template)
    if message_id is not None:
        where.append(Message.id == message_id)
    total = int(db_session.scalar(select(func.count()).select_from(Message).where(*where)) or 0)
    found = db_session.scalars(
        select(Message).where(*where).order_by(Message.id.desc()).limit(limit).offset(offset)
    )
    return [
        OutboxMessage(
            id=m.id,
            created_at=m.created_at,
            template=m.template,
            to_phone=m.to_phone,
            status=MessageStatus(m.status),
            provider_status=m.provider_status,
            error_code=m.error_code,
            error_message=m.error_message,
            suppression_reason=m.suppression_reason,
            params=dict(m.params or {}),
            resent_from_id=m.resent_from_id,
            resident_id=m.resident_id,
        )
        for m in found
    ], total


def idempotency_keys_of_resends(db_session: Session, original_ids: Collection[int]) -> list[str]:
    """The idempotency keys of the messages resent from these originals."""
    if not original_ids:
        return []
    return list(
        db_session.scalars(
            select(Message.idempotency_key).where(Message.resent_from_id.in_(list(original_ids)))
        )
    )


@dataclass(frozen=True)
class OptOutView:
    """A phone that replied STOP (or START again)."""

    phone: str
    opted_out: bool
    keyword: str
    source: str
    updated_at: datetime


def opt_outs_of_phones(
    db_session: Session, phones: Select[str], limit: int
) -> tuple[int, list[OptOutView]]:
    """How many of these phones (a subquery) are opted out now, and their latest `limit`
    changes, newest first."""
    among = OptOut.phone.in_(phones)
    total = int(
        db_session.scalar(
            select(func.count()).select_from(OptOut).where(among, OptOut.opted_out.is_(True))
        )
        or 0
    )
    latest = db_session.scalars(
        select(OptOut).where(among).order_by(OptOut.updated_at.desc()).limit(limit)
    )
    return total, [
        OptOutView(o.phone, o.opted_out, o.keyword, o.source, o.updated_at) for o in latest
    ]
