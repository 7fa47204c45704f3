"""A locker offline for a day's events (pickups, wrong codes, a keypad lockout), reconnecting
and replaying them all once more: every event stored and applied once (scenario in
tests/faults/locker_replay.py)."""

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lockers.broker import MqttTarget
from tests.faults import locker_replay
from tests.lockers.conftest import mqtt_target  # noqa: F401 - the fixture

pytestmark = pytest.mark.faults


def test_a_day_of_buffered_locker_events_is_applied_once(
    committed: sessionmaker[Session],
    mqtt_target: MqttTarget,  # noqa: F811
) -> None:
    result = locker_replay.run(committed, mqtt_target, parcels=20)
    print(result.row())

    assert result.events_offline >= 3 * 20  # opened, collected, closed per pickup, and more
    assert result.collected == 20
    assert result.events_stored == result.events_offline
    assert result.contiguous
    assert (result.lost, result.duplicated) == (0, 0)
