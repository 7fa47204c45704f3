"""Reading queries of the messages view: today's counts, failures by reason, one page of the
outbox, opt-outs. Set-based: a query per block, never one per row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.residents.queries import resident_phones_in_city
from notifications import queries as notification_queries
from notifications.queries import MessageStatus
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
    return notification_queries.message_counts_of_city_since(db_session, city_id, since)


def failure_reasons(db_session: Session, city_id: int, since: datetime) -> list[tuple[str, int]]:
    """Today's failed and undelivered messages per error (code and text), most frequent first."""
    rows = notification_queries.message_error_counts_of_city(
        db_session, city_id, since, SHOWS["failed"], limit=10
    )
    return [(_reason(code, text) or "no reason given", n) for code, text, n in rows]


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
    found, total = notification_queries.outbox_page_of_city(
        db_session,
        city_id,
        statuses=SHOWS[show],
        template=template,
        message_id=message_id,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    rows = [
        MessageRow(
            id=m.id,
            created_at=m.created_at,
            template=m.template,
            phone=m.to_phone,
            status=str(m.status),
            provider_status=m.provider_status,
            reason=_reason(m.error_code, m.error_message) or m.suppression_reason,
            parcel_id=m.params.get("parcel_id"),
            order_id=m.params.get("order_id"),
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
    keys = notification_queries.idempotency_keys_of_resends(db_session, roots)
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
    total, latest = notification_queries.opt_outs_of_phones(
        db_session, resident_phones_in_city(city_id), limit
    )
    return total, [
        OptOutRow(o.phone, o.opted_out, o.keyword, o.source, o.updated_at) for o in latest
    ]
