"""The periodic safety nets: lost tasks re-queued, dead claims recovered, lost callbacks settled
by asking Twilio."""

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from notifications import claiming, dispatch, reconcile
from notifications.config import get_config
from notifications.models import Message, MessageStatus
from notifications.providers import SmsProvider
from simulation.twilio_server import FakeTwilio
from tests.notifications.conftest import World

Deliver = Callable[[int], str]


def _sent(db: Session, world: World, deliver: Deliver, count: int) -> list[int]:
    resident = world.resident()
    for _ in range(count):
        world.order_event(resident)
    ids = dispatch.consume(db_session=db).to_send
    for message_id in ids:
        assert deliver(message_id) == "sent"
    return ids


def _at(db: Session, ids: list[int], **values: object) -> None:
    db.execute(update(Message).where(Message.id.in_(ids)).values(**values))


def _reload(db: Session, message_id: int) -> Message:
    db.expire_all()
    message = db.get(Message, message_id)
    assert message is not None
    return message


def test_lost_callbacks_are_settled_by_asking_twilio(
    db: Session,
    world: World,
    fake_twilio: FakeTwilio,
    deliver: Deliver,
    session_factory: sessionmaker[Session],
    provider: SmsProvider,
) -> None:
    old, delivered_old, recent, silent = _sent(db, world, deliver, 4)
    long_ago = utcnow() - timedelta(hours=1)
    _at(db, [old, delivered_old, silent], sent_at=long_ago)
    sids = {m: _reload(db, m).provider_sid for m in (old, delivered_old, recent)}
    fake_twilio.set_status(str(sids[old]), "undelivered", error_code=30003)
    fake_twilio.set_status(str(sids[delivered_old]), "delivered")
    fake_twilio.set_status(str(sids[recent]), "delivered")

    settled = reconcile.poll_statuses(session_factory=session_factory, provider=provider)
    assert settled == 2
    first, second, third = (_reload(db, m) for m in (old, delivered_old, recent))
    assert (first.status, first.error_code) == (MessageStatus.UNDELIVERED, 30003)
    assert second.status is MessageStatus.DELIVERED
    assert third.status is MessageStatus.SENT  # its callback may still come: not asked yet
    assert _reload(db, silent).last_checked_at is not None
    fetched = [r.path.rsplit("/", 1)[1] for r in fake_twilio.requests if r.method == "GET"]
    asked = (old, delivered_old, silent)
    assert sorted(fetched) == sorted(f"{_reload(db, m).provider_sid}.json" for m in asked)
    # once per period: the message Twilio still calls "accepted" is not asked again at once
    assert reconcile.poll_statuses(session_factory=session_factory, provider=provider) == 0
    assert len([r for r in fake_twilio.requests if r.method == "GET"]) == 3


def test_queued_messages_whose_task_was_lost_are_enqueued_again(db: Session, world: World) -> None:
    resident = world.resident()
    for _ in range(3):
        world.order_event(resident)
    fresh, lost, later = dispatch.consume(db_session=db).to_send
    _at(db, [lost], enqueued_at=utcnow() - timedelta(hours=1))
    _at(db, [later], enqueued_at=None, not_before=utcnow() + timedelta(hours=1))
    assert reconcile.due_for_enqueue(db_session=db) == [lost]
    assert reconcile.due_for_enqueue(db_session=db) == []  # marked enqueued just now
    assert reconcile.due_for_enqueue(db_session=db, now=utcnow() + timedelta(hours=2)) == sorted(
        [fresh, lost, later]
    )


def test_claims_of_dead_workers_are_picked_up(
    db: Session,
    world: World,
    fake_twilio: FakeTwilio,
    deliver: Deliver,
    session_factory: sessionmaker[Session],
    provider: SmsProvider,
) -> None:
    world.order_event(world.resident())
    (message_id,) = dispatch.consume(db_session=db).to_send
    with session_factory() as db_session, db_session.begin():
        claim = claiming.claim(db_session, message_id, provider, get_config())
    assert isinstance(claim, claiming.Claim)
    assert reconcile.due_for_enqueue(db_session=db) == []  # a live claim: leave it
    stale = timedelta(seconds=get_config().stale_sending_seconds + 1)
    _at(db, [message_id], enqueued_at=utcnow() - 2 * stale, claimed_at=utcnow() - stale)
    assert reconcile.due_for_enqueue(db_session=db) == [message_id]
    assert deliver(message_id) == "sent"
    assert _reload(db, message_id).attempts == 2
    assert len(fake_twilio.creates()) == 1
