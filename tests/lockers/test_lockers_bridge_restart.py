"""The bridge survives a broker restart: commands in flight are re-sent and acked once,
events a locker buffered while the broker was down arrive and apply once. The broker is a
Mosquitto of the test's own (killed and restarted), with per-locker passwords and the ACL,
so this also proves the deployed ACL admits the real protocol (last will included)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.events.models import OutboxEvent
from lockers import codes, deposit, domain_events
from lockers.credentials import locker_password
from lockers.models import CommandStatus, LockerBankState, LockerCommand
from lockers.simulator import Fleet
from logistics.models import Parcel, ParcelStatus
from tests.lockers.conftest import World, build_world, start_bridge, wait_for
from tests.support import mosquitto

pytestmark = pytest.mark.skipif(
    not mosquitto.available(), reason="mosquitto / mosquitto_passwd not installed"
)


@pytest.fixture
def restart_world(committed: sessionmaker[Session]) -> Iterator[World]:
    with committed() as db:
        yield build_world(db, committed)


def test_bridge_and_lockers_survive_a_broker_restart(
    restart_world: World, committed: sessionmaker[Session], tmp_path: Path
) -> None:
    world = restart_world
    code = world.bank.code
    broker = mosquitto.MosquittoProcess(
        tmp_path / "mosq",
        users=[("pickup-bridge", "bridge-secret"), (code, locker_password(code))],
        acl=mosquitto.acl_text("lockers"),
    ).start()
    target = broker.target
    bridge_target = type(target)(
        host=target.host, port=target.port, username="pickup-bridge", password="bridge-secret"
    )
    bridge = start_bridge(bridge_target, committed, "lockers")
    fleet = Fleet(
        target,
        prefix="lockers",
        heartbeat_s=0.5,
        keepalive_s=5,
        auto_close_s=0.05,
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
    )
    spec = world.spec()
    spec.password = locker_password(code)
    bank = fleet.add_bank(spec)
    fleet.start()
    try:
        wait_for(lambda: _online(world))
        first = world.parcel("A1")
        _request(world, first.id)
        wait_for(lambda: _status(world, first.id) == ParcelStatus.READY_FOR_PICKUP)
        pickup_code = _code(world, first.id)

        # Two deposits in flight, then the broker dies (SIGKILL) and comes back.
        in_flight = [world.parcel("A2"), world.parcel("F1")]
        command_ids = [_request(world, p.id) for p in in_flight]
        broker.stop(kill=True)
        wait_for(lambda: not bridge.connected and not bank.connected)
        # While the broker is down the resident collects the first parcel: the locker
        # checks the code itself and keeps the report until it can send it.
        assert bank.enter_code(pickup_code) == "opened:A1"
        broker.start()

        wait_for(lambda: bridge.connected and bank.connected, timeout=15)
        for command_id in command_ids:
            wait_for(
                lambda cid=command_id: _command(world, cid).status == CommandStatus.ACKED,
                timeout=15,
            )
        for parcel in in_flight:
            wait_for(lambda pid=parcel.id: _status(world, pid) == ParcelStatus.READY_FOR_PICKUP)
        wait_for(lambda: _status(world, first.id) == ParcelStatus.COLLECTED, timeout=15)

        executions = bank.snapshot()["executions"]
        assert all(executions[cid] == 1 for cid in command_ids)  # none applied twice
        assert _count(world, domain_events.PARCEL_READY) == 3
        assert _count(world, domain_events.PARCEL_COLLECTED) == 1
        assert bridge.stats["disconnects"] >= 1 and bridge.stats["connects"] >= 2
        assert "not authorised" not in broker.log().lower()
    finally:
        fleet.stop()
        bridge.stop(purge_session=True)
        broker.stop()


def _online(world: World) -> bool:
    with world.sessions() as db:
        state = db.get(LockerBankState, world.bank.id)
        return bool(state and state.online)


def _request(world: World, parcel_id: int) -> str:
    with world.sessions() as db:
        return deposit.request_deposit(
            db_session=db, parcel_id=parcel_id, driver_id=world.driver.id
        ).id


def _status(world: World, parcel_id: int) -> ParcelStatus:
    with world.sessions() as db:
        parcel = db.get(Parcel, parcel_id)
        assert parcel is not None
        return parcel.status


def _code(world: World, parcel_id: int) -> str:
    with world.sessions() as db:
        code = codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel_id)
    assert code is not None
    return code


def _command(world: World, command_id: str) -> Any:
    with world.sessions() as db:
        return db.get(LockerCommand, command_id)


def _count(world: World, kind: str) -> int:
    with world.sessions() as db:
        return int(
            db.scalar(select(func.count(OutboxEvent.id)).where(OutboxEvent.kind == kind)) or 0
        )
