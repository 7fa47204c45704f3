"""Redis restarted under a real Celery worker sending SMS: none lost, none sent twice (scenario
in tests/faults/redis_restart.py; the local Twilio-speaking server of the notifications tests)."""

import os

import pytest
from sqlalchemy.orm import Session, sessionmaker

from simulation.twilio_server import FakeTwilioServer
from tests.faults import redis_restart
from tests.notifications.conftest import twilio_server  # noqa: F401 - the fixture

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        not os.path.exists(redis_restart.RedisProcess.binary()), reason="redis-server absent"
    ),
]


def test_no_sms_lost_or_doubled_when_redis_restarts_under_the_worker(
    committed: sessionmaker[Session],
    database_url: str,
    twilio_server: FakeTwilioServer,  # noqa: F811
) -> None:
    result = redis_restart.run(committed, database_url, twilio_server, messages=120)
    print(result.row())

    assert result.accepted_before_restart < result.messages  # the restart hit the batch
    assert result.sent == result.messages == 120, result.statuses
    assert (result.lost, result.duplicated) == (0, 0)
    assert result.provider_creates == result.messages  # not even a refused second attempt
