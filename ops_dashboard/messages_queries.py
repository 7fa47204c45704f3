"""Reading queries of the messages view: today's counts, failures by reason, one page of the
outbox, opt-outs. Set-based: a query per block, never one per row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.neighborhoods.models import Neighborhood
from app.residents.models import Resident
from notifications.models import Message, MessageStatus, OptOut
from notifications.service import RESENDABLE
from ops_dashboard.parcels_queries import PAGE_SIZE, Paged

SHOWS: dict[str, tuple[MessageStatus, ...]] = {
    "all": (),
    "failed": (MessageStatus.FAILED, MessageStatus.UNDELIVERED),
    "delivered": (MessageStatus.DELIVERED,),
    "sent": (MessageStatus.SENT, MessageStatus.SENDING),
    "queued": (MessageStatus.QUEUED,),
    "suppressed": (MessageStatus.SUPPRESSED,),
}
STATUS_KIND = {
    "queued": "unassigned",
    "sending": "assigned",
    "sent": "transit",
    "delivered": "done",
    "undelivered": "failed",
    "failed": "failed",
    "suppressed": "stale",
}


def message_kind(status: str) -> str:
    """The one colour (macro kind) of a message status."""
    return STATUS_KIND.get(str(status), "unassigned")


@dataclass
class MessageRow:
    """A message in the list: status with its reason, what it was about, whether resent."""

    id: int
    created_at: datetime
    template: str
    phone: str
    status: str
    provider_status: str | None
    reason: str | None
    parcel_id: int | None
    order_id: int | None
    resent_from_id: int | None
    resendable: bool
    resent: bool = False


def start_of_local_day(now: datetime, zone: str) -> datetime:
    """Midnight of today in the city's zone, as a UTC-aware time."""
    local = now.astimezone(ZoneInfo(zone))
    return datetime.combine(local.date(), time(0), tzinfo=ZoneInfo(zone))


def today_counts(db_session: Session, city_id: int, since: datetime) -> dict[str, int]:
    """Messages created since `since` per status."""
    rows = db_session.execute(
        select(Message.status, func.count())
        .where(Message.city_id == city_id, Message.created_at >= since)
        .group_by(Message.status)
    )
    return {str(status): int(n) for status, n in rows}


def failure_reasons(db_session: Session, city_id: int, since: datetime) -> list[tuple[str, int]]:
    """Today's failed and undelivered messages per error (code and text), most frequent first."""
    rows = db_session.execute(
        select(Message.error_code, Message.error_message, func.count())
        .where(
            Message.city_id == city_id,
            Message.created_at >= since,
            Message.status.in_(SHOWS["failed"]),
        )
        .group_by(Message.error_code, Message.error_message)
        .order_by(func.count().desc())
        .limit(10)
    )
    return [(_reason(code, text) or "no reason given", int(n)) for code, text, n in rows]


def _reason(code: int | None, text: str | None) -> str | None:
    if code is None and not text:
        return None
    return " ".join(part for part in (str(code) if code is not None else "", text or "") if part)


def messages(
    db_session: Session,
    city_id: int,
    show: str,
    page: int,
    template: str | None = None,
    message_id: int | None = None,
) -> Paged:
    """One page of the city's messages, newest first, filtered."""
    where = [Message.city_id == city_id]
    if SHOWS[show]:
        where.append(Message.status.in_(SHOWS[show]))
    if template:
        where.append(Message.template == template)
    if message_id is not None:
        where.append(Message.id == message_id)
    total = int(db_session.scalar(select(func.count()).select_from(Message).where(*where)) or 0)
    found = db_session.scalars(
        select(Message)
        .where(*where)
        .order_by(Message.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    rows = [
        MessageRow(
            id=m.id,
            created_at=m.created_at,
            template=m.template,
            phone=m.to_phone,
            status=str(m.status),
            provider_status=m.provider_status,
            reason=_reason(m.error_code, m.error_message) or m.suppression_reason,
            parcel_id=(m.params or {}).get("parcel_id"),
            order_id=(m.params or {}).get("order_id"),
            resent_from_id=m.resent_from_id,
            resendable=m.status in RESENDABLE and m.resident_id is not None,
        )
        for m in found
    ]
    _mark_resent(db_session, rows)
    return Paged(rows, total, page)


def _mark_resent(db_session: Session, rows: list[MessageRow]) -> None:
    failed = {r.id: r for r in rows if r.resendable}
    if not failed:
        return
    roots = {r.resent_from_id or r.id for r in failed.values()}
    keys = db_session.scalars(
        select(Message.idempotency_key).where(Message.resent_from_id.in_(roots))
    )
    for key in keys:
        _, _, of = key.rpartition("#resend-of-")
        if of.isdigit() and int(of) in failed:
            failed[int(of)].resent = True


@dataclass
class OptOutRow:
    """A phone that replied STOP (or START again)."""

    phone: str
    opted_out: bool
    keyword: str
    source: str
    updated_at: datetime


def opt_outs(db_session: Session, city_id: int, limit: int = 20) -> tuple[int, list[OptOutRow]]:
    """How many of the city's residents opted out, and the latest changes."""
    of_city = exists(
        select(Resident.id)
        .join(Neighborhood, Neighborhood.id == Resident.neighborhood_id)
        .where(Resident.phone == OptOut.phone, Neighborhood.city_id == city_id)
    )
    base = select(OptOut).where(of_city)
    total = int(
        db_session.scalar(
            select(func.count()).select_from(OptOut).where(of_city, OptOut.opted_out.is_(True))
        )
        or 0
    )
    latest = db_session.scalars(base.order_by(OptOut.updated_at.desc()).limit(limit))
    return total, [
        OptOutRow(o.phone, o.opted_out, o.keyword, o.source, o.updated_at) for o in latest
    ]
