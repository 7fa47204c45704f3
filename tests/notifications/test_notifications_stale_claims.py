"""A worker that dies around the provider call: a live claim is left alone; a stale one is looked
up at Twilio first, its SID recovered without resending, or sent once when Twilio never had it."""

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from notifications import claiming, delivery
from notifications.config import get_config
from notifications.models import Message, MessageStatus
from notifications.providers import SmsProvider
from simulation.twilio_server import FakeTwilio
from tests.notifications.conftest import Deliver, World, dispatched, reloaded


def _claim_as_a_worker_that_dies(
    session_factory: sessionmaker[Session], message_id: int, provider: SmsProvider
) -> claiming.Claim:
    with session_factory() as db_session, db_session.begin():
        claim = claiming.claim(db_session, message_id, provider, get_config())
    assert isinstance(claim, claiming.Claim)
    return claim


def _age_claim(db: Session, message_id: int) -> None:
    stale = timedelta(seconds=get_config().stale_sending_seconds + 1)
    db.execute(update(Message).where(Message.id == message_id).values(claimed_at=utcnow() - stale))


def test_a_live_claim_is_left_alone(
    db: Session,
    world: World,
    fake_twilio: FakeTwilio,
    deliver: Deliver,
    session_factory: sessionmaker[Session],
    provider: SmsProvider,
) -> None:
    world.order_event(world.resident())
    (message_id,) = dispatched(db)
    _claim_as_a_worker_that_dies(session_factory, message_id, provider)
    assert deliver(message_id) == "in_flight"
    assert fake_twilio.requests == []


def test_worker_died_after_twilio_accepted_recovers_the_sid_without_resending(
    db: Session,
    world: World,
    fake_twilio: FakeTwilio,
    deliver: Deliver,
    session_factory: sessionmaker[Session],
    provider: SmsProvider,
) -> None:
    world.order_event(world.resident())
    (message_id,) = dispatched(db)
    claim = _claim_as_a_worker_that_dies(session_factory, message_id, provider)
    accepted = provider.send(  # Twilio takes it ... and the worker dies before recording
        to=claim.to,
        body=claim.rendered.body,
        status_callback=delivery.status_callback_url(claim.key),
    )
    _age_claim(db, message_id)

    assert deliver(message_id) == "recovered"
    message = reloaded(db, message_id)
    assert (message.status, message.provider_sid, message.sid_source) == (
        MessageStatus.SENT,
        accepted.sid,
        "lookup",
    )
    assert len(fake_twilio.creates()) == 1
    assert deliver(message_id) == "done"


def test_worker_died_before_twilio_had_it_sends_it_once(
    db: Session,
    world: World,
    fake_twilio: FakeTwilio,
    deliver: Deliver,
    session_factory: sessionmaker[Session],
    provider: SmsProvider,
) -> None:
    resident = world.resident()
    world.order_event(resident)
    (message_id,) = dispatched(db)
    # another message to the same phone is at Twilio: it must not be taken for ours
    provider.send(to=resident.phone, body="something else", status_callback=None)
    _claim_as_a_worker_that_dies(session_factory, message_id, provider)
    _age_claim(db, message_id)

    assert deliver(message_id) == "sent"
    message = reloaded(db, message_id)
    assert (message.sid_source, message.attempts) == ("send", 2)
    assert len(fake_twilio.creates()) == 2  # "something else" and ours, once
    assert message.provider_sid == fake_twilio.accepted()[1]["sid"]


def test_an_unanswered_send_is_looked_up_not_resent(
    db: Session,
    world: World,
    fake_twilio: FakeTwilio,
    deliver: Deliver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFICATIONS_PROVIDER_TIMEOUT_SECONDS", "0.3")
    monkeypatch.setenv("NOTIFICATIONS_STALE_SENDING_SECONDS", "0.5")
    get_config.cache_clear()
    from notifications import providers

    world.order_event(world.resident())
    (message_id,) = dispatched(db)
    fake_twilio.hold_after_accepting(1)
    try:
        result = delivery.deliver(
            session_factory=sessionmaker(
                bind=db.connection(), join_transaction_mode="create_savepoint"
            ),
            message_id=message_id,
            provider=providers.get_provider(),
        )
    finally:
        fake_twilio.release.set()
    assert result.action == "ambiguous" and result.retry_in is not None
    assert reloaded(db, message_id).status is MessageStatus.SENDING
    _age_claim(db, message_id)
    assert deliver(message_id) == "recovered"
    assert len(fake_twilio.creates()) == 1
