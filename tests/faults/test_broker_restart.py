"""Mosquitto restarted mid-deposits (SIGTERM and SIGKILL): every deposit's door opens once, no
open command lost or doubled (scenario in tests/faults/broker_restart.py)."""

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.faults import broker_restart
from tests.support import mosquitto

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not mosquitto.available(), reason="mosquitto not installed"),
]


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
def test_every_deposit_opens_its_door_once_through_a_broker_restart(
    committed: sessionmaker[Session], kill: bool
) -> None:
    result = broker_restart.run(committed, banks=6, kill=kill)
    print(result.row())

    assert result.problems == [], result.row()
    assert result.bridge_reconnects >= 1, "the restart did not reach the bridge"
    assert result.ready == result.acked == result.door_openings == result.deposits == 30
    assert (result.lost, result.duplicated) == (0, 0)
