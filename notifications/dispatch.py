"""Outbox events from other packages -> messages in our SMS outbox, each event handled once.

Reading is the outbox's one consumer (`app/events/consumer.py`, safe when ids commit out of
order) under the name "notifications", with `event_grace_seconds` as its grace. Handling an
event twice would be harmless anyway: message idempotency keys are unique.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.events import consumer as events_consumer
from app.residents import queries as residents_queries
from logistics import parcels as logistics_parcels
from logistics.parcels import Parcel
from notifications import service
from notifications.config import get_config
from notifications.models import Message, MessageStatus

log = logging.getLogger(__name__)
CONSUMER = "notifications"


class Skip(Exception):
    """The event cannot become a message (its resident or parcel is gone)."""


class Event(Protocol):
    """What the dispatcher reads of an outbox event."""

    @property
    def id(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Draft:
    key: str
    template: str
    resident_id: int
    params: dict[str, Any]
    expires_at: datetime | None = None


@dataclass
class DispatchResult:
    events: int = 0
    created: int = 0
    to_send: list[int] = field(default_factory=list)


def _int(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if value is None:
        raise Skip(f"payload has no {name}")
    return int(value)


def _parcel_resident(db_session: Session, payload: Mapping[str, Any]) -> tuple[Parcel, int]:
    parcel_id = _int(payload, "parcel_id")
    parcel = logistics_parcels.get_parcel(db_session=db_session, parcel_id=parcel_id)
    if parcel is None:
        raise Skip("parcel not found")
    return parcel, int(payload.get("resident_id") or parcel.resident_id)


def _order_confirmed(db_session: Session, event: Event) -> list[Draft]:
    p = event.payload
    order_id = _int(p, "order_id")
    refunded = int(p.get("refunded_minor") or 0)
    params = {
        "order_id": order_id,
        "charged_minor": int(p.get("charged_minor") or 0),
        "refunded_minor": refunded,
        "currency": str(p.get("currency") or "CNY"),
    }
    template = "group_formed_refund" if refunded > 0 else "group_formed"
    return [Draft(f"group_formed:order:{order_id}", template, _int(p, "resident_id"), params)]


def _order_group_failed(db_session: Session, event: Event) -> list[Draft]:
    p = event.payload
    order_id = _int(p, "order_id")
    params = {
        "order_id": order_id,
        "refunded_minor": int(p.get("refunded_minor") or 0),
        "currency": str(p.get("currency") or "CNY"),
    }
    return [Draft(f"group_failed:order:{order_id}", "group_failed", _int(p, "resident_id"), params)]


def _parcel_ready(db_session: Session, event: Event) -> list[Draft]:
    parcel, resident_id = _parcel_resident(db_session, event.payload)
    bank_id = event.payload.get("bank_id") or parcel.bank_id
    compartment_id = event.payload.get("compartment_id") or parcel.compartment_id
    params = {"parcel_id": parcel.id, "order_id": parcel.order_id}
    key = f"parcel_ready:{parcel.id}:{bank_id}:{compartment_id}"
    return [Draft(key, "parcel_ready", resident_id, params)]


def _parcel_overflow(db_session: Session, event: Event) -> list[Draft]:
    parcel, resident_id = _parcel_resident(db_session, event.payload)
    to_bank = _int(event.payload, "to_bank_id")
    params = {
        "parcel_id": parcel.id,
        "order_id": parcel.order_id,
        "from_bank_id": _int(event.payload, "from_bank_id"),
        "to_bank_id": to_bank,
    }
    return [Draft(f"parcel_overflow:{parcel.id}:{to_bank}", "parcel_overflow", resident_id, params)]


def _parcel_expired(db_session: Session, event: Event) -> list[Draft]:
    parcel, resident_id = _parcel_resident(db_session, event.payload)
    params = {
        "parcel_id": parcel.id,
        "order_id": parcel.order_id,
        "bank_id": event.payload.get("bank_id") or parcel.bank_id,
    }
    return [Draft(f"parcel_expired:{parcel.id}", "parcel_expired", resident_id, params)]


def _cold_chain(db_session: Session, event: Event) -> list[Draft]:
    parcel, resident_id = _parcel_resident(db_session, event.payload)
    params = {
        "parcel_id": parcel.id,
        "order_id": parcel.order_id,
        "minutes": int(event.payload.get("minutes_out") or 0),
    }
    return [Draft(f"cold_chain:{parcel.id}", "cold_chain_flag", resident_id, params)]


def _deadline_extended(db_session: Session, event: Event) -> list[Draft]:
    parcel, resident_id = _parcel_resident(db_session, event.payload)
    deadline = event.payload.get("pickup_deadline") or parcel.pickup_deadline.isoformat()
    params = {"parcel_id": parcel.id, "order_id": parcel.order_id}
    key = f"deadline_extended:{parcel.id}:{deadline}"
    return [Draft(key, "deadline_extended", resident_id, params)]


def _parcel_undelivered(db_session: Session, event: Event) -> list[Draft]:
    parcel, resident_id = _parcel_resident(db_session, event.payload)
    params = {"parcel_id": parcel.id, "order_id": parcel.order_id}
    key = f"parcel_undelivered:{parcel.id}:{_int(event.payload, 'route_id')}"
    return [Draft(key, "parcel_undelivered", resident_id, params)]


def _parcel_not_routed(db_session: Session, event: Event) -> list[Draft]:
    parcel, resident_id = _parcel_resident(db_session, event.payload)
    params = {"parcel_id": parcel.id, "order_id": parcel.order_id}
    key = f"parcel_not_routed:{parcel.id}:{_int(event.payload, 'window_id')}"
    return [Draft(key, "parcel_not_routed", resident_id, params)]


def _undelivered_refunded(db_session: Session, event: Event) -> list[Draft]:
    parcel, resident_id = _parcel_resident(db_session, event.payload)
    params = {
        "parcel_id": parcel.id,
        "order_id": parcel.order_id,
        "refunded_minor": int(event.payload.get("refunded_minor") or 0),
        "currency": str(event.payload.get("currency") or "CNY"),
    }
    key = f"undelivered_refund:{parcel.id}"
    return [Draft(key, "undelivered_refund", resident_id, params)]


HANDLERS: dict[str, Callable[[Session, Event], list[Draft]]] = {
    "order.confirmed": _order_confirmed,
    "order.group_failed": _order_group_failed,
    "parcel.ready_for_pickup": _parcel_ready,
    "parcel.overflow": _parcel_overflow,
    "parcel.expired": _parcel_expired,
    "parcel.cold_chain_flag": _cold_chain,
    "parcel.pickup_deadline_extended": _deadline_extended,
    "parcel.undelivered": _parcel_undelivered,
    "parcel.not_routed": _parcel_not_routed,
    "parcel.undelivered_refunded": _undelivered_refunded,
}


def _handle(db_session: Session, event: Event, result: DispatchResult) -> str:
    try:
        drafts = HANDLERS[event.kind](db_session, event)
    except Skip as exc:
        log.warning("event %s (%s) skipped: %s", event.id, event.kind, exc)
        return f"skipped: {exc}"[:120]
    outcomes = []
    for draft in drafts:
        resident = residents_queries.contact(db_session, draft.resident_id)
        if resident is None:
            outcomes.append("skipped: resident not found")
            continue
        message, new = service.create(
            db_session=db_session,
            key=draft.key,
            template=draft.template,
            resident=resident,
            params=draft.params,
            event_id=event.id,
            expires_at=draft.expires_at,
        )
        if new:
            result.created += 1
            if message.status is MessageStatus.QUEUED and message.not_before is None:
                message.enqueued_at = utcnow()
                result.to_send.append(message.id)
        outcomes.append(f"{'created' if new else 'exists'} {message.id}")
    return ", ".join(outcomes)[:120]


def consume(
    *, db_session: Session, limit: int = 500, now: datetime | None = None
) -> DispatchResult:
    """Turn up to `limit` unhandled events into messages; commit, then enqueue `to_send`."""
    result = DispatchResult()
    result.events = events_consumer.consume(
        db_session=db_session,
        consumer=_consumer(),
        handle=lambda session, event: _handle(session, event, result),
        limit=limit,
        now=now,
    )
    return result


def pending_count(*, db_session: Session) -> int:
    """Events of the kinds we handle that are not handled yet."""
    return events_consumer.pending_count(db_session=db_session, consumer=_consumer())


def _consumer() -> events_consumer.Consumer:
    return events_consumer.Consumer(
        name=CONSUMER, kinds=frozenset(HANDLERS), grace_seconds=get_config().event_grace_seconds
    )


def message_ids_for_event(*, db_session: Session, event_id: int) -> list[int]:
    """The messages an event produced."""
    return list(db_session.scalars(select(Message.id).where(Message.event_id == event_id)))
