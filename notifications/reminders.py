"""Pickup reminders a few hours before the deadline, outside the city's quiet hours.

A reminder falls due `reminder_hours_before` the deadline; if that moment is in quiet hours it
moves earlier, to just before they begin (a reminder at 08:00 for an 08:00 deadline helps no
one). One reminder per parcel and deadline: an extended deadline earns a new one.
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.residents import queries as residents_queries
from logistics import parcels as logistics_parcels
from logistics.parcels import Parcel
from notifications import service
from notifications.models import Message, MessageStatus

LAST_USEFUL = timedelta(minutes=30)  # no reminder this close to the deadline
AFTER_READY = timedelta(hours=1)  # nor this soon after the ready notice
HORIZON = timedelta(hours=48)


def reminder_due_at(*, deadline: datetime, policy: service.CityPolicy) -> datetime:
    """When the reminder for a deadline should go out, quiet hours considered."""
    due = deadline - timedelta(hours=policy.reminder_hours_before)
    return policy.quiet_hours.latest_allowed_before(due)


def scan(*, db_session: Session, now: datetime | None = None) -> list[int]:
    """Create the reminders that are due; return the ids to enqueue after commit.

    Set-based: one query finds the waiting parcels with their city, the due ones are picked in
    memory, and one query each finds the reminders already made and the ready notices just
    sent; only the parcels left cost a row each."""
    now = now or utcnow()
    rows = logistics_parcels.ready_parcels_due_between(
        db_session=db_session, after=now + LAST_USEFUL, until=now + HORIZON
    )
    policies: dict[int | None, service.CityPolicy] = {}
    due: list[tuple[Parcel, str]] = []
    for parcel, city_id in rows:
        if city_id not in policies:
            policies[city_id] = service.get_policy(db_session=db_session, city_id=city_id)
        policy = policies[city_id]
        if now < reminder_due_at(deadline=parcel.pickup_deadline, policy=policy):
            continue
        if policy.quiet_hours.is_quiet(now):
            continue
        due.append(
            (parcel, f"pickup_reminder:{parcel.id}:{int(parcel.pickup_deadline.timestamp())}")
        )
    made = _existing_keys(db_session, [key for _, key in due])
    just_told = _told_ready_since(db_session, now - AFTER_READY)
    left = [(parcel, key) for parcel, key in due if key not in made and parcel.id not in just_told]
    residents = residents_queries.contacts(db_session, {parcel.resident_id for parcel, _ in left})
    to_send: list[int] = []
    for parcel, key in left:
        resident = residents.get(parcel.resident_id)
        if resident is None:
            continue
        message, new = service.create(
            db_session=db_session,
            key=key,
            template="pickup_reminder",
            resident=resident,
            params={"parcel_id": parcel.id, "order_id": parcel.order_id},
            expires_at=parcel.pickup_deadline - LAST_USEFUL,
            now=now,
        )
        if new and message.status is MessageStatus.QUEUED and message.not_before is None:
            message.enqueued_at = now
            to_send.append(message.id)
    db_session.flush()
    return to_send


def _existing_keys(db_session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(
            db_session.scalars(
                select(Message.idempotency_key).where(Message.idempotency_key.in_(chunk))
            )
        )
    return found


def _told_ready_since(db_session: Session, since: datetime) -> set[int]:
    """Parcels whose ready notice was created after `since` (keys `parcel_ready:<id>:...`)."""
    keys = db_session.scalars(
        select(Message.idempotency_key).where(
            Message.template == "parcel_ready", Message.created_at > since
        )
    )
    told: set[int] = set()
    for key in keys:
        parts = key.split(":")
        if len(parts) > 1 and parts[1].isdigit():
            told.add(int(parts[1]))
    return told
