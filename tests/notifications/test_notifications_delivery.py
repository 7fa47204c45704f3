"""From an outbox event to the request Twilio receives: exactly once, retries, permanent errors,
opt-outs (a worker that dies around the provider call: test_notifications_stale_claims.py)."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from app.core.enums import Language
from lockers import codes
from logistics.models import ParcelStatus
from notifications import delivery, service
from notifications.config import get_config
from notifications.models import Message, MessageStatus, OptOut
from notifications.providers import SmsProvider
from simulation.twilio_server import FakeTwilio
from tests.notifications.conftest import PUBLIC_BASE_URL, Deliver, World, dispatched, reloaded


def test_parcel_ready_reaches_twilio_with_the_live_code_and_is_stored_redacted(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    parcel = world.parcel()
    world.ready_event(parcel)
    (message_id,) = dispatched(db)
    code = codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel.id)
    assert code is not None

    assert deliver(message_id) == "sent"

    (request,) = fake_twilio.creates()
    body = request.form["Body"]
    assert f"order #{parcel.order_id} is ready at Jade Garden Lockers, 88 Huaihai Rd" in body
    assert f"box B07. Code {code}." in body
    assert request.form["StatusCallback"] == (
        f"{PUBLIC_BASE_URL}/notifications/webhooks/twilio/status"
        f"?k=parcel_ready%3A{parcel.id}%3A{parcel.bank_id}%3A{parcel.compartment_id}"
    )
    message = reloaded(db, message_id)
    assert message.status is MessageStatus.SENT
    assert message.provider_sid == fake_twilio.accepted()[0]["sid"]
    assert (message.sid_source, message.attempts, message.segments) == ("send", 1, 1)
    assert message.body_redacted == body.replace(code, "******")
    stored = [str(getattr(message, c.key)) for c in Message.__table__.columns]
    assert not any(code in value for value in stored)  # the code sits in no column


def test_a_message_is_sent_once_however_often_it_is_delivered(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    world.order_event(world.resident())
    (message_id,) = dispatched(db)
    assert [deliver(message_id) for _ in range(3)] == ["sent", "done", "done"]
    assert len(fake_twilio.creates()) == 1


def test_re_running_the_pipeline_sends_nothing_twice(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    resident = world.resident()
    event = world.order_event(resident)
    (message_id,) = dispatched(db)
    deliver(message_id)
    # the same event again (a re-run emits the same dedupe key), and a replay of the consumer
    world.event(event.kind, event.payload, key=event.dedupe_key)
    db.execute(update(Message).values(enqueued_at=None))
    assert dispatched(db) == []
    assert len(fake_twilio.creates()) == 1


def test_a_chinese_speaking_resident_gets_chinese(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    world.order_event(world.resident(language=Language.ZH), refunded_minor=300)
    (message_id,) = dispatched(db)
    deliver(message_id)
    body = fake_twilio.creates()[0].form["Body"]
    assert body.startswith("【Pickup】拼团成功！")
    assert "已扣款¥19.80，退款¥3.00" in body


def test_429_then_201_sends_one_message(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    world.order_event(world.resident())
    (message_id,) = dispatched(db)
    fake_twilio.fail_next(429, 20429, "Too Many Requests")

    assert deliver(message_id) == "retry"
    message = reloaded(db, message_id)
    assert message.status is MessageStatus.QUEUED
    assert message.error_code == 20429 and message.verify_before_send is False
    assert message.not_before is not None and message.not_before > utcnow()
    assert deliver(message_id) == "not_due"  # backoff respected

    db.execute(update(Message).where(Message.id == message_id).values(not_before=utcnow()))
    assert deliver(message_id) == "sent"
    assert [r.status for r in fake_twilio.creates()] == [429, 201]
    assert len(fake_twilio.accepted()) == 1
    assert reloaded(db, message_id).attempts == 2


def test_5xx_retries_but_first_checks_twilio_does_not_have_it(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    world.order_event(world.resident())
    (message_id,) = dispatched(db)
    fake_twilio.fail_next(503, 20503, "Service Unavailable")
    assert deliver(message_id) == "retry"
    assert reloaded(db, message_id).verify_before_send is True
    db.execute(update(Message).where(Message.id == message_id).values(not_before=utcnow()))
    assert deliver(message_id) == "sent"
    lookups = [r for r in fake_twilio.requests if r.method == "GET"]
    assert len(lookups) == 1 and lookups[0].query["To"] == reloaded(db, message_id).to_phone
    assert len(fake_twilio.accepted()) == 1


def test_an_invalid_number_fails_with_21211_and_is_not_retried(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    world.order_event(world.resident(phone="+15005550001"))
    (message_id,) = dispatched(db)
    assert deliver(message_id) == "failed"
    assert deliver(message_id) == "done"
    message = reloaded(db, message_id)
    assert (message.status, message.error_code, message.attempts) == (
        MessageStatus.FAILED,
        21211,
        1,
    )
    assert message.final_at is not None and "21211" in (message.error_message or "")
    assert len(fake_twilio.creates()) == 1


def test_21610_marks_failed_and_records_the_opt_out(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    resident = world.resident()
    fake_twilio.unsubscribed.add(resident.phone)
    world.order_event(resident)
    (message_id,) = dispatched(db)
    assert deliver(message_id) == "failed"
    assert reloaded(db, message_id).error_code == 21610
    assert service.is_opted_out(db_session=db, phone=resident.phone)
    world.order_event(resident)  # the next message is suppressed without asking Twilio
    assert dispatched(db) == []
    assert len(fake_twilio.creates()) == 1


def test_retries_stop_after_max_attempts(
    db: Session,
    world: World,
    fake_twilio: FakeTwilio,
    deliver: Deliver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFICATIONS_MAX_ATTEMPTS", "3")
    get_config.cache_clear()
    world.order_event(world.resident())
    (message_id,) = dispatched(db)
    fake_twilio.fail_next(429, 20429, times=5)
    for expected in ("retry", "retry", "failed"):
        db.execute(update(Message).where(Message.id == message_id).values(not_before=None))
        assert deliver(message_id) == expected
    message = reloaded(db, message_id)
    assert (message.status, message.error_code, message.attempts) == (
        MessageStatus.FAILED,
        20429,
        3,
    )
    assert fake_twilio.accepted() == []


def test_an_opted_out_resident_gets_no_sms_but_keeps_the_code_in_the_app(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    parcel = world.parcel()
    resident_phone = _message_phone(db, parcel.resident_id)
    service.set_opt_out(
        db_session=db, phone=resident_phone, opted_out=True, keyword="STOP", source="inbound"
    )
    world.ready_event(parcel)
    assert dispatched(db) == []
    message = db.scalars(select(Message)).one()
    assert (message.status, message.suppression_reason) == (MessageStatus.SUPPRESSED, "opted_out")
    assert fake_twilio.requests == []
    assert codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel.id)


def test_opting_out_after_the_message_was_queued_still_stops_it(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    resident = world.resident()
    world.order_event(resident)
    (message_id,) = dispatched(db)
    service.set_opt_out(
        db_session=db, phone=resident.phone, opted_out=True, keyword="STOP", source="inbound"
    )
    assert deliver(message_id) == "suppressed"
    assert fake_twilio.requests == []


def test_no_consent_suppresses(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    world.order_event(world.resident(sms_consent=False))
    assert dispatched(db) == []
    assert db.scalars(select(Message.suppression_reason)).one() == "no_consent"


def test_a_collected_parcel_gets_no_reminder(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    parcel = world.parcel()
    resident = db.get(type(world.resident()), parcel.resident_id)
    assert resident is not None
    message, _ = service.create(
        db_session=db,
        key="reminder-test",
        template="pickup_reminder",
        resident=resident,
        params={"parcel_id": parcel.id, "order_id": parcel.order_id},
    )
    db.execute(update(Message).where(Message.id == message.id).values(not_before=None))
    parcel.status = ParcelStatus.COLLECTED
    db.flush()
    assert deliver(message.id) == "suppressed"
    assert reloaded(db, message.id).suppression_reason == "parcel_collected"
    assert fake_twilio.requests == []


def test_an_expired_message_is_suppressed(
    db: Session, world: World, fake_twilio: FakeTwilio, deliver: Deliver
) -> None:
    world.order_event(world.resident())
    (message_id,) = dispatched(db)
    db.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    assert deliver(message_id) == "suppressed"
    assert reloaded(db, message_id).suppression_reason == "expired"


def _message_phone(db: Session, resident_id: int) -> str:
    from app.residents.models import Resident

    resident = db.get(Resident, resident_id)
    assert resident is not None
    return resident.phone


def test_the_opt_out_record_is_per_phone(db: Session) -> None:
    service.set_opt_out(
        db_session=db, phone="+8613800009999", opted_out=True, keyword="STOP", source="inbound"
    )
    service.set_opt_out(
        db_session=db, phone="+8613800009999", opted_out=False, keyword="START", source="inbound"
    )
    row = db.scalars(select(OptOut)).one()
    assert (row.opted_out, row.keyword) == (False, "START")
    assert not service.is_opted_out(db_session=db, phone="+8613800009999")


def test_a_batch_sends_each_message_and_isolates_a_broken_one(
    db: Session,
    world: World,
    fake_twilio: FakeTwilio,
    session_factory: sessionmaker[Session],
    provider: SmsProvider,
) -> None:
    resident = world.resident()
    for _ in range(5):
        world.order_event(resident)
    ids = dispatched(db)
    broken = ids[2]
    message = db.get(Message, broken)
    assert message is not None
    message.params = {"currency": "CNY"}  # no order_id: cannot be rendered
    db.flush()
    fake_twilio.fail_next(400, 21211)  # one of them (sent in parallel) is refused for good

    outcomes = delivery.deliver_batch(
        session_factory=session_factory, message_ids=ids, provider=provider
    )
    assert outcomes[2].action == "failed"
    assert sorted(o.action for o in outcomes) == ["failed", "failed", "sent", "sent", "sent"]
    assert reloaded(db, broken).error_message == "cannot render: KeyError: 'order_id'"
    assert len(fake_twilio.accepted()) == 3
    again = delivery.deliver_batch(
        session_factory=session_factory, message_ids=ids, provider=provider
    )
    assert {o.action for o in again} == {"done"}
    assert len(fake_twilio.creates()) == 4
