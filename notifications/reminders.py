"""Pickup reminders a few hours before the deadline, outside the city's quiet hours.

A reminder falls due `reminder_hours_before` the deadline; if that moment is in quiet hours it
moves earlier, to just before they begin (a reminder at 08:00 for an 08:00 deadline helps no
one). One reminder per parcel and deadline: an extended deadline earns a new one.
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.residents.models import Resident
from logistics.models import Parcel, ParcelStatus
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
    """Create the reminders that are due; return the ids to enqueue after commit."""
    now = now or utcnow()
    parcels = db_session.scalars(
        select(Parcel)
        .where(
            Parcel.status == ParcelStatus.READY_FOR_PICKUP,
            Parcel.pickup_deadline > now + LAST_USEFUL,
            Parcel.pickup_deadline <= now + HORIZON,
        )
        .order_by(Parcel.id)
    ).all()
    policies: dict[int | None, service.CityPolicy] = {}
    to_send: list[int] = []
    for parcel in parcels:
        key = f"pickup_reminder:{parcel.id}:{int(parcel.pickup_deadline.timestamp())}"
        if service.get_by_key(db_session=db_session, key=key) is not None:
            continue
        resident = db_session.get(Resident, parcel.resident_id)
        if resident is None:
            continue
        city_id = service.city_id_of_resident(db_session=db_session, resident=resident)
        if city_id not in policies:
            policies[city_id] = service.get_policy(db_session=db_session, city_id=city_id)
        policy = policies[city_id]
        if now < reminder_due_at(deadline=parcel.pickup_deadline, policy=policy):
            continue
        if policy.quiet_hours.is_quiet(now) or _just_told(db_session, parcel, now):
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


def _just_told(db_session: Session, parcel: Parcel, now: datetime) -> bool:
    recent = db_session.scalar(
        select(Message.id)
        .where(
            Message.idempotency_key.startswith(f"parcel_ready:{parcel.id}:", autoescape=True),
            Message.created_at > now - AFTER_READY,
        )
        .limit(1)
    )
    return recent is not None
