"""The messages' reads the operators' pages and alarms use: counts, reasons, the outbox page,
resends and opt-outs, as plain values."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.residents.models import Resident
from app.residents.queries import resident_phones_in_city
from notifications import queries as notification_queries
from notifications import service
from notifications.queries import MessageStatus
from tests.factories import Factory


def _message(db: Session, resident: Resident, key: str, status: MessageStatus) -> int:
    message, _ = service.create(
        db_session=db, key=key, template="parcel_ready", resident=resident, params={"parcel_id": 7}
    )
    message.status = status
    if status == MessageStatus.FAILED:
        message.error_code, message.error_message = 30006, "Landline"
    db.flush()
    return message.id


def test_messages_counted_listed_and_resent(db: Session, make: Factory) -> None:
    city = make.city()
    resident = make.resident(make.neighborhood(city))
    since = utcnow() - timedelta(minutes=5)
    delivered = _message(db, resident, "owner-a", MessageStatus.DELIVERED)
    failed = _message(db, resident, "owner-b", MessageStatus.FAILED)
    counts = notification_queries.message_counts_of_city_since(db, city.id, since)
    assert counts == {"delivered": 1, "failed": 1}
    by_city = notification_queries.message_status_counts_by_city(
        db, since, [MessageStatus.FAILED, MessageStatus.DELIVERED]
    )
    assert sorted((s, n) for c, s, n in by_city if c == city.id) == [
        (MessageStatus.DELIVERED, 1),
        (MessageStatus.FAILED, 1),
    ]
    reasons = notification_queries.message_error_counts_of_city(
        db, city.id, since, [MessageStatus.FAILED], limit=10
    )
    assert reasons == [(30006, "Landline", 1)]
    page, total = notification_queries.outbox_page_of_city(db, city.id, limit=1)
    assert total == 2 and [m.id for m in page] == [failed]
    page, total = notification_queries.outbox_page_of_city(
        db, city.id, statuses=[MessageStatus.DELIVERED], limit=10
    )
    assert total == 1 and page[0].id == delivered and page[0].params == {"parcel_id": 7}
    original = service.get(db_session=db, message_id=failed)
    assert original is not None
    service.resend(db_session=db, message=original)
    db.flush()
    keys = notification_queries.idempotency_keys_of_resends(db, [failed])
    assert [key.rpartition("#resend-of-")[2] for key in keys] == [str(failed)]


def test_opt_outs_among_a_citys_residents(db: Session, make: Factory) -> None:
    city = make.city()
    quitter = make.resident(make.neighborhood(city))
    stranger = make.resident(make.neighborhood(make.city()))
    for phone in (quitter.phone, stranger.phone):
        service.set_opt_out(
            db_session=db, phone=phone, opted_out=True, keyword="STOP", source="sms"
        )
    db.flush()
    total, latest = notification_queries.opt_outs_of_phones(
        db, resident_phones_in_city(city.id), limit=5
    )
    assert total == 1 and [(o.phone, o.opted_out) for o in latest] == [(quitter.phone, True)]
