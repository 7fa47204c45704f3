"""The played day waits until nothing moves. A send left in doubt (the worker lost its answer
from Twilio) must be picked up again by the day's own passes, as the clockwork's sweep does in
production; before, the demo waited on it for good, 60 s per step."""

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.core.celery_app import celery_app
from app.core.db import utcnow
from notifications import claiming, dispatch
from notifications.config import get_config
from notifications.models import Message, MessageStatus
from notifications.providers import get_provider
from simulation.stack import Stack, StackConfig
from simulation.twilio_server import FakeTwilioServer
from tests.factories import Factory
from tests.notifications.conftest import World


def test_a_send_left_in_doubt_is_sent_once_while_the_day_settles(
    committed: sessionmaker[Session],
    twilio_server: FakeTwilioServer,
) -> None:
    celery_app.conf.task_always_eager = True  # as on the embedded stack (the env fixture resets it)
    with committed() as db_session:
        world = World(db_session, Factory(db_session))
        world.order_event(world.resident())
        db_session.commit()
    with committed() as db_session:
        (message_id,) = dispatch.consume(db_session=db_session).to_send
        db_session.commit()
    with committed() as db_session:  # a worker claims it and never hears back
        claim = claiming.claim(db_session, message_id, get_provider(), get_config())
        assert isinstance(claim, claiming.Claim)
        long_ago = utcnow() - timedelta(seconds=get_config().stale_sending_seconds + 1)
        db_session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(enqueued_at=long_ago, claimed_at=long_ago)
        )
        db_session.commit()

    left = Stack(StackConfig()).settle(utcnow(), timeout=20)

    assert left["sms"] == 0
    with committed() as db_session:
        message = db_session.get(Message, message_id)
        assert message is not None
        assert message.status is MessageStatus.SENT
    assert len(twilio_server.fake.creates()) == 1
