"""A locker that restarts (the simulated controller itself, not the broker) gets its codes and
parcels back: real bridge, real broker, the simulator's restart with or without its storage."""

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from lockers import banks, codes, intake, resync
from lockers.bridge import Bridge
from lockers.models import CommandStatus, LockerBankState, LockerCommand
from lockers.simulator import Fleet, VirtualBank
from logistics.models import Parcel, ParcelStatus
from tests.lockers.conftest import World, wait_for


def _status(world: World, parcel_id: int) -> ParcelStatus:
    with world.sessions() as db:
        parcel = db.get(Parcel, parcel_id)
        assert parcel is not None
        return parcel.status


def _deposited(world: World, client_for: Callable[[Any], Any], label: str) -> Parcel:
    parcel = world.parcel(label)
    response = client_for(world.driver).post(f"/lockers/parcels/{parcel.id}/deposit")
    assert response.status_code == 202, response.text
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP)
    return parcel


def _reserved_with_code(world: World, label: str) -> Parcel:
    """A parcel on its way: its code already pushed to the locker (as the intake does)."""
    parcel = world.parcel(label)
    with world.sessions() as db:
        assert intake.prepare_parcel(db_session=db, parcel_id=parcel.id)
        db.commit()
    return parcel


def _code(world: World, parcel_id: int) -> str:
    with world.sessions() as db:
        code = codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel_id)
    assert code is not None
    return code


def _resync_commands(world: World) -> list[LockerCommand]:
    with world.sessions() as db:
        return list(
            db.scalars(
                select(LockerCommand)
                .where(
                    LockerCommand.bank_id == world.bank.id,
                    LockerCommand.purpose == resync.PURPOSE,
                )
                .order_by(LockerCommand.created_at, LockerCommand.kind)
            )
        )


def _all_acked(commands: list[LockerCommand]) -> bool:
    return bool(commands) and all(c.status == CommandStatus.ACKED for c in commands)


def _codes_at_locker(bank: VirtualBank) -> list[int]:
    return list(bank.snapshot()["codes"])


def test_restarted_locker_gets_its_codes_back_and_the_resident_collects(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    inside = _deposited(world, live_client_for, "A1")
    coming = _reserved_with_code(world, "A2")
    wait_for(lambda: _codes_at_locker(online_bank) == sorted([inside.id, coming.id]))
    mine = live_client_for(world.resident).get("/lockers/my-parcels").json()
    code = next(p["pickup_code"] for p in mine if p["parcel_id"] == inside.id)

    online_bank.restart()  # storage wiped: no code, no idea which parcel A1 holds

    wiped = online_bank.snapshot()
    assert wiped["codes"] == [] and wiped["event_seq"] == 0
    assert wiped["compartments"]["A1"]["parcel_id"] is None
    assert wiped["compartments"]["A1"]["unknown_parcel"] is True
    wait_for(lambda: _codes_at_locker(online_bank) == sorted([inside.id, coming.id]))
    wait_for(lambda: online_bank.snapshot()["compartments"]["A1"]["parcel_id"] == inside.id)

    assert online_bank.enter_code(code) == "opened:A1"
    wait_for(lambda: _status(world, inside.id) == ParcelStatus.COLLECTED)
    sent = wait_for(lambda: (c := _resync_commands(world)) and _all_acked(c) and c)
    assert sorted(c.kind for c in sent) == ["load_codes", "set_contents"]
    contents = next(c for c in sent if c.kind == "set_contents")
    assert contents.payload == {"compartments": [{"compartment": "A1", "parcel_id": inside.id}]}
    assert contents.result is not None and contents.result["result"]["restored"] == 1
    loads = next(c for c in sent if c.kind == "load_codes")
    assert sorted(e["parcel_id"] for e in loads.payload["codes"]) == [inside.id, coming.id]
    assert code not in repr(loads.payload)  # hashed codes only


def test_restart_with_storage_kept_needs_no_resync(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = _deposited(world, live_client_for, "A1")
    connections = online_bank.snapshot()["received"]
    assert connections  # the deposit's commands reached it

    online_bank.restart(keep_storage=True)

    wait_for(lambda: online_bank.connected and online_bank.restarts == 1)

    def _online() -> bool:  # a fresh session each time: one session keeps what it read first
        with world.sessions() as db:
            return banks.is_online(db_session=db, bank_id=world.bank.id)

    wait_for(_online)
    assert online_bank.enter_code(_code(world, parcel.id)) == "opened:A1"
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.COLLECTED)
    time.sleep(0.5)
    assert _resync_commands(world) == []


def test_two_consecutive_resets_resync_once_each_without_duplicates(
    world: World, fleet: Fleet, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    first = _deposited(world, live_client_for, "A1")
    second = _deposited(world, live_client_for, "F1")
    live = sorted([first.id, second.id])

    fleet.restart_bank(world.bank.code)
    wait_for(lambda: len(_resync_commands(world)) == 2 and _all_acked(_resync_commands(world)))
    assert _codes_at_locker(online_bank) == live
    fleet.restart_bank(world.bank.code)
    wait_for(lambda: len(_resync_commands(world)) == 4 and _all_acked(_resync_commands(world)))
    assert _codes_at_locker(online_bank) == live

    time.sleep(0.5)  # heartbeats after the resets must not start another resync
    commands = _resync_commands(world)
    assert [c.kind for c in commands].count("load_codes") == 2
    snap = online_bank.snapshot()
    assert all(snap["executions"].get(c.id) == 1 for c in commands)

    def _codes_loaded() -> object:
        with world.sessions() as db:
            state = db.get(LockerBankState, world.bank.id)
            return state is not None and state.state.get("codes_loaded")

    wait_for(lambda: _codes_loaded() == 2)  # what the locker itself reports holding
    assert online_bank.enter_code(_code(world, second.id)) == "opened:F1"
    wait_for(lambda: _status(world, second.id) == ParcelStatus.COLLECTED)


def test_a_reset_while_a_resync_is_pending_supersedes_it(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = _deposited(world, live_client_for, "A1")
    online_bank.mute()  # the first resync reaches a locker that answers nothing
    online_bank.restart()
    wait_for(lambda: len(_resync_commands(world)) == 2)
    online_bank.restart()
    wait_for(lambda: len(_resync_commands(world)) == 4)
    online_bank.mute(False)

    wait_for(lambda: _all_acked(_resync_commands(world)[2:]))
    old, new = _resync_commands(world)[:2], _resync_commands(world)[2:]
    assert all(c.status == CommandStatus.FAILED and c.error == "superseded" for c in old)
    executed = online_bank.snapshot()["executions"]
    assert [c.id for c in old if c.id in executed] == []
    assert all(executed[c.id] == 1 for c in new)
    assert online_bank.enter_code(_code(world, parcel.id)) == "opened:A1"
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.COLLECTED)


def test_a_locker_can_ask_for_a_resync(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = _deposited(world, live_client_for, "A1")
    with world.sessions() as db:
        assert resync.pending_resync(db_session=db, bank_id=world.bank.id) == []

    online_bank.request_resync()

    sent = wait_for(lambda: (c := _resync_commands(world)) and _all_acked(c) and c)
    assert sorted(c.kind for c in sent) == ["load_codes", "set_contents"]
    assert _codes_at_locker(online_bank) == [parcel.id]


def test_a_counter_jump_is_accepted_after_one_replay(
    world: World,
    online_bank: VirtualBank,
    bridge: Bridge,
    live_client_for: Callable[[Any], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An old copy of the storage comes back after a reset: the locker's counter jumps ahead
    of the server's new epoch with events the server already has. One replay, then the new
    base is accepted (logged once); never a replay request every few seconds."""
    _deposited(world, live_client_for, "A1")
    old_storage = online_bank.storage()
    assert old_storage["event_seq"] >= 2
    online_bank.restart()
    wait_for(lambda: _all_acked(_resync_commands(world)))

    with caplog.at_level(logging.WARNING, logger="lockers.event_seq"):
        online_bank.restart(storage=old_storage)
        wait_for(lambda: online_bank.connected and online_bank.restarts == 2)

        def _settled() -> bool:
            with world.sessions() as db:
                state = db.get(LockerBankState, world.bank.id)
                return (
                    state is not None
                    and state.event_seq_contiguous == old_storage["event_seq"]
                    and state.event_gap_since is None
                )

        wait_for(_settled)
        time.sleep(2.0)  # several gap-grace periods (0.3 s) and ticks (0.1 s)

    with world.sessions() as db:
        replays = list(
            db.scalars(
                select(LockerCommand).where(
                    LockerCommand.bank_id == world.bank.id,
                    LockerCommand.kind == "replay_events",
                )
            )
        )
    assert len(replays) == 1
    assert replays[0].payload["from_seq"] == 1
    jumped = [r for r in caplog.records if r.name == "lockers.event_seq" and "jumped" in r.message]
    assert len(jumped) == 1
    assert bridge.stats["replays_asked"] == 1
