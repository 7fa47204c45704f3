"""Cold chain, end to end over a real broker: an alarm flags the parcels inside the warm zone;
a short excursion raises none."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from lockers import domain_events
from lockers.models import ParcelColdChainFlag
from lockers.simulator import VirtualBank
from tests.lockers.conftest import World, wait_for
from tests.lockers.live_reads import committed_events, deposit_until_ready


def test_cold_chain_alarm_flags_parcels_inside(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    inside = deposit_until_ready(world, live_client_for, "A1")
    frozen = deposit_until_ready(world, live_client_for, "F1")

    online_bank.heat_zone("chilled", 9.5)

    alarm = wait_for(lambda: committed_events(world, domain_events.LOCKER_COLD_CHAIN_ALARM))[0]
    assert alarm.payload["zone"] == "chilled" and alarm.payload["parcel_ids"] == [inside.id]
    flags = committed_events(world, domain_events.PARCEL_COLD_CHAIN_FLAG)
    assert [f.payload["parcel_id"] for f in flags] == [inside.id]
    assert flags[0].payload["minutes_out"] >= 1
    with world.sessions() as db:
        assert (
            db.scalar(
                select(func.count(ParcelColdChainFlag.id)).where(
                    ParcelColdChainFlag.parcel_id == frozen.id
                )
            )
            == 0
        )
    mine = live_client_for(world.resident).get("/lockers/my-parcels").json()
    by_id = {p["parcel_id"]: p for p in mine}
    assert by_id[inside.id]["cold_chain_minutes_out"] >= 1
    assert by_id[frozen.id]["cold_chain_minutes_out"] is None
    state = live_client_for(world.operator).get(f"/lockers/banks/{world.bank.id}/state").json()
    chilled = next(z for z in state["zones"] if z["zone"] == "chilled")
    assert (
        chilled["temp_c"] == 9.5 and chilled["alarm_at"] is not None and state["open_alarms"] == 1
    )

    online_bank.heat_zone("chilled", None)
    wait_for(
        lambda: (
            live_client_for(world.operator)
            .get(f"/lockers/banks/{world.bank.id}/state")
            .json()["open_alarms"]
            == 0
        )
    )


def test_short_excursion_raises_no_alarm(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any], monkeypatch: Any
) -> None:
    monkeypatch.setenv("LOCKERS_COLD_CHAIN_ALARM_SECONDS", "60")
    from lockers.config import get_locker_settings

    get_locker_settings.cache_clear()
    deposit_until_ready(world, live_client_for, "A1")
    online_bank.heat_zone("chilled", 7.0)
    client = live_client_for(world.operator)

    def chilled() -> dict[str, Any]:
        zones = client.get(f"/lockers/banks/{world.bank.id}/state").json()["zones"]
        return next(z for z in zones if z["zone"] == "chilled")  # type: ignore[no-any-return]

    wait_for(lambda: chilled()["excursion_since"])
    online_bank.heat_zone("chilled", None)
    wait_for(lambda: chilled()["excursion_since"] is None)
    assert committed_events(world, domain_events.LOCKER_COLD_CHAIN_ALARM) == []
