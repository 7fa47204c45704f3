"""The cut-off pipeline SIGKILLed between steps and inside one, then run again: the same outcome
as an uninterrupted run (no charge, refund, parcel, booking or event lost or doubled). Scenario
in tests/faults/cutoff_kill.py; on PostgreSQL when DATABASE_URL points at one."""

import os

import pytest

from tests.faults import cutoff_kill

pytestmark = pytest.mark.faults


def test_cutoff_killed_between_steps_and_resumed_matches_an_uninterrupted_run() -> None:
    result = cutoff_kill.run(
        kill_points=["after:close", "during:reserve", "after:route"],
        hoods=3,
        orders_per_hood=4,
        server_url=os.environ.get("DATABASE_URL"),
    )
    print(result.row())

    assert result.kills == 3, result.row()
    assert result.differences == {}
    assert (result.lost, result.duplicated) == (0, 0)
    reference = result.reference
    assert sum(reference["refunds"].values()) > 0 and sum(reference["parcels"].values()) > 0
    assert reference["runs"] == {"succeeded": 1}
