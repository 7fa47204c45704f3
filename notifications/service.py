"""Outbox messages, opt-outs and per-city settings: plain functions, the session passed in."""

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cities import queries as cities_queries
from app.core.db import utcnow
from app.core.enums import Language
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.settings import get_settings
from app.neighborhoods import queries as neighborhoods_queries
from app.residents import queries as residents_queries
from notifications import message_states, render
from notifications.errors import TemplateUnknown
from notifications.models import (
    FINAL_STATUSES,
    Message,
    MessageStatus,
    NotificationSettings,
    OptOut,
)
from notifications.quiet_hours import QuietHours

RESENDABLE = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED})


class PolicySettingUnknown(InvalidInput):
    """The notification settings have no such setting."""

    case = "policy_setting_unknown"


class MessageNotResendable(Conflict):
    """Only a failed or undelivered message can be resent."""

    case = "message_not_resendable"


class MessageWithoutResident(Conflict):
    """The message has no resident to resend it to."""

    case = "message_without_resident"


class ResidentNotFound(NotFound):
    """The resident no longer exists."""

    case = "resident_not_found"


class ResidentOptedOut(Conflict):
    """The resident opted out of SMS (replied STOP)."""

    case = "resident_opted_out"


class Recipient(Protocol):
    """What a message needs of its resident (`app.residents.queries.ResidentContact`)."""

    @property
    def id(self) -> int: ...

    @property
    def phone(self) -> str: ...

    @property
    def language(self) -> Language: ...

    @property
    def neighborhood_id(self) -> int: ...


@dataclass(frozen=True)
class CityPolicy:
    """A city's notification settings with its time zone (defaults when none are stored)."""

    city_id: int | None
    timezone: str
    quiet_start: time
    quiet_end: time
    reminder_hours_before: int
    nudges_enabled: bool
    nudge_hours_before_cutoff: int
    nudge_max_gap: int

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours(self.quiet_start, self.quiet_end, self.timezone)


def get(*, db_session: Session, message_id: int) -> Message | None:
    """A message by id."""
    return db_session.get(Message, message_id)


def get_by_key(*, db_session: Session, key: str) -> Message | None:
    """A message by its idempotency key."""
    return db_session.scalar(select(Message).where(Message.idempotency_key == key))


def get_by_sid(*, db_session: Session, sid: str) -> Message | None:
    """A message by the provider's id."""
    return db_session.scalar(select(Message).where(Message.provider_sid == sid))


def get_all(
    *,
    db_session: Session,
    city_id: int | None = None,
    statuses: list[MessageStatus] | None = None,
    resident_id: int | None = None,
    template: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Message]:
    """Messages, newest first, filtered by city, status, resident or template."""
    query = select(Message).order_by(Message.id.desc()).limit(limit).offset(offset)
    if city_id is not None:
        query = query.where(Message.city_id == city_id)
    if statuses:
        query = query.where(Message.status.in_(statuses))
    if resident_id is not None:
        query = query.where(Message.resident_id == resident_id)
    if template is not None:
        query = query.where(Message.template == template)
    return list(db_session.scalars(query))


def count_by_status(*, db_session: Session, city_id: int | None = None) -> dict[str, int]:
    """How many messages are in each status."""
    query = select(Message.status, func.count()).group_by(Message.status)
    if city_id is not None:
        query = query.where(Message.city_id == city_id)
    return {str(status): int(n) for status, n in db_session.execute(query)}


def city_id_of_resident(*, db_session: Session, resident: Recipient) -> int | None:
    """The city of a resident's neighborhood."""
    hood_id = resident.neighborhood_id
    return neighborhoods_queries.neighborhood_cities(db_session, [hood_id]).get(hood_id)


def get_policy(*, db_session: Session, city_id: int | None) -> CityPolicy:
    """The city's notification policy, or the defaults (21:00-08:00 quiet, 3 h reminders)."""
    row = (
        db_session.scalar(
            select(NotificationSettings).where(NotificationSettings.city_id == city_id)
        )
        if city_id is not None
        else None
    )
    timezone = cities_queries.city_timezone(db_session, city_id) if city_id is not None else None
    timezone = timezone or get_settings().city_timezone
    return CityPolicy(
        city_id=city_id,
        timezone=timezone,
        quiet_start=row.quiet_start if row else time(21, 0),
        quiet_end=row.quiet_end if row else time(8, 0),
        reminder_hours_before=row.reminder_hours_before if row else 3,
        nudges_enabled=row.nudges_enabled if row else True,
        nudge_hours_before_cutoff=row.nudge_hours_before_cutoff if row else 3,
        nudge_max_gap=row.nudge_max_gap if row else 3,
    )


def update_settings(*, db_session: Session, city_id: int, changes: dict[str, Any]) -> CityPolicy:
    """Create or change the city's notification settings."""
    row = db_session.scalar(
        select(NotificationSettings).where(NotificationSettings.city_id == city_id)
    )
    if row is None:
        row = NotificationSettings(city_id=city_id)
        db_session.add(row)
    for name, value in changes.items():
        if not hasattr(NotificationSettings, name) or name in ("id", "city_id", "updated_at"):
            raise PolicySettingUnknown(f"unknown setting {name}", field=name)
        setattr(row, name, value)
    db_session.flush()
    return get_policy(db_session=db_session, city_id=city_id)


def is_opted_out(*, db_session: Session, phone: str) -> bool:
    """Whether the phone number replied STOP (and not START since)."""
    return bool(
        db_session.scalar(
            select(OptOut.opted_out).where(OptOut.phone == phone, OptOut.opted_out.is_(True))
        )
    )


def set_opt_out(
    *, db_session: Session, phone: str, opted_out: bool, keyword: str, source: str
) -> OptOut:
    """Record that a phone opted out (STOP) or back in (START)."""
    row = db_session.scalar(select(OptOut).where(OptOut.phone == phone))
    if row is None:
        row = OptOut(phone=phone, opted_out=opted_out, keyword=keyword, source=source)
        db_session.add(row)
    else:
        row.opted_out, row.keyword, row.source, row.updated_at = (
            opted_out,
            keyword,
            source,
            utcnow(),
        )
    db_session.flush()
    return row


def suppression_reasons(
    *, db_session: Session, recipients: list[tuple[str, int | None]]
) -> dict[tuple[str, int | None], str]:
    """Why no SMS may go to each (phone, resident) now: opted out or no consent (two queries)."""
    phones = {phone for phone, _ in recipients}
    resident_ids = {rid for _, rid in recipients if rid is not None}
    opted_out = set(
        db_session.scalars(
            select(OptOut.phone).where(OptOut.phone.in_(phones), OptOut.opted_out.is_(True))
        )
    )
    refused = residents_queries.ids_without_sms_consent(db_session, resident_ids)
    reasons: dict[tuple[str, int | None], str] = {}
    for phone, resident_id in recipients:
        if phone in opted_out:
            reasons[(phone, resident_id)] = "opted_out"
        elif resident_id in refused:
            reasons[(phone, resident_id)] = "no_consent"
    return reasons


def suppression_reason(*, db_session: Session, phone: str, resident_id: int | None) -> str | None:
    """Why no SMS may go to this phone now (opted out, no consent), or None."""
    reasons = suppression_reasons(db_session=db_session, recipients=[(phone, resident_id)])
    return reasons.get((phone, resident_id))


def create(
    *,
    db_session: Session,
    key: str,
    template: str,
    resident: Recipient,
    params: dict[str, Any],
    event_id: int | None = None,
    not_before: datetime | None = None,
    expires_at: datetime | None = None,
    resent_from_id: int | None = None,
    now: datetime | None = None,
) -> tuple[Message, bool]:
    """Put a message in the outbox once per key; return it and whether it is new.

    A resident who opted out gets the row too, already suppressed (the key stays spent). A
    quiet-hours template created in the city's quiet hours waits for their end.
    """
    existing = get_by_key(db_session=db_session, key=key)
    if existing is not None:
        return existing, False
    if template not in render.SPECS:
        raise TemplateUnknown(f"unknown template {template}", field="template")
    now = now or utcnow()
    city_id = city_id_of_resident(db_session=db_session, resident=resident)
    if render.SPECS[template].quiet_hours:
        policy = get_policy(db_session=db_session, city_id=city_id)
        not_before = policy.quiet_hours.next_allowed(max(not_before or now, now))
    message = Message(
        idempotency_key=key,
        template=template,
        event_id=event_id,
        resident_id=resident.id,
        city_id=city_id,
        to_phone=resident.phone,
        language=render.language_of(str(resident.language.value)),
        params=params,
        not_before=not_before if not_before and not_before > now else None,
        expires_at=expires_at,
        resent_from_id=resent_from_id,
        status=MessageStatus.QUEUED,
        created_at=now,
    )
    reason = suppression_reason(
        db_session=db_session, phone=resident.phone, resident_id=resident.id
    )
    if reason is not None:
        suppress(message, reason=reason, now=now)
    try:
        with db_session.begin_nested():
            db_session.add(message)
            db_session.flush()
    except IntegrityError:
        raced = get_by_key(db_session=db_session, key=key)
        if raced is None:
            raise
        return raced, False
    return message, True


def suppress(message: Message, *, reason: str, now: datetime | None = None) -> None:
    """Mark a message as never to be sent, and why."""
    now = now or utcnow()
    message_states.move(message, MessageStatus.SUPPRESSED, now=now)
    message.suppression_reason = reason
    message.final_at = now


def resend(*, db_session: Session, message: Message) -> Message:
    """A new outbox message with the same content as a failed one (idempotent per failure)."""
    if message.status not in RESENDABLE:
        raise MessageNotResendable(
            f"only failed or undelivered messages can be resent; this one is {message.status}",
            field="message_id",
        )
    if message.resident_id is None:
        raise MessageWithoutResident("the message has no resident to resend to", field="message_id")
    resident = residents_queries.contact(db_session, message.resident_id)
    if resident is None:
        raise ResidentNotFound("the resident no longer exists", field="message_id")
    if is_opted_out(db_session=db_session, phone=resident.phone):
        raise ResidentOptedOut("the resident opted out of SMS (replied STOP)", field="message_id")
    root_id = message.resent_from_id or message.id
    root = db_session.get(Message, root_id)
    root_key = root.idempotency_key if root is not None else message.idempotency_key
    key = f"{root_key}#resend-of-{message.id}"
    copy, _ = create(
        db_session=db_session,
        key=key,
        template=message.template,
        resident=resident,
        params=dict(message.params),
        event_id=message.event_id,
        resent_from_id=root_id,
    )
    return copy


def is_final(message: Message) -> bool:
    """Whether the message's status can no longer change."""
    return message.status in FINAL_STATUSES
