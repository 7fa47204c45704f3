"""Commands to a bank, end to end over a real broker: refused while the bank is offline, resent
with the same id until acked, expired and reported, failed by a jammed door; the operator's
remote open (audited) and out of service."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from app.neighborhoods.models import Compartment, CompartmentStatus
from lockers import domain_events
from lockers.bridge import Bridge
from lockers.models import AuditLog, CommandStatus, LockerBankState, LockerCommand
from lockers.simulator import Fleet, VirtualBank
from logistics.models import ParcelStatus
from tests.lockers.conftest import World, wait_for
from tests.lockers.live_reads import committed_events, fetch, parcel_status, request_deposit


def test_deposit_refused_when_the_bank_is_offline(
    world: World, fleet: Fleet, bridge: Bridge, live_client_for: Callable[[Any], Any]
) -> None:
    bank = fleet.add_bank(world.spec())
    fleet.start()
    wait_for(
        lambda: (
            fetch(world, LockerBankState, world.bank.id) is not None
            and fetch(world, LockerBankState, world.bank.id).online
        )
    )
    bank.drop_link(60)
    wait_for(lambda: not fetch(world, LockerBankState, world.bank.id).online)
    parcel = world.parcel("A1")

    response = live_client_for(world.driver).post(f"/lockers/parcels/{parcel.id}/deposit")

    assert response.status_code == 409
    detail = response.json()["detail"][0]
    assert world.bank.code in detail["msg"] and detail["type"] == "locker_offline"
    assert detail["ctx"]["bank_code"] == world.bank.code
    replans = committed_events(world, domain_events.PARCEL_REPLAN_NEEDED)
    assert [e.payload["parcel_id"] for e in replans] == [parcel.id]
    assert replans[0].payload["reason"] == "locker_offline"
    with world.sessions() as db:
        assert (
            db.scalar(
                select(func.count(LockerCommand.id)).where(LockerCommand.parcel_id == parcel.id)
            )
            == 0
        )
    assert parcel_status(world, parcel.id) == ParcelStatus.RESERVED


def test_commands_are_resent_with_the_same_id_until_acked(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    online_bank.ignore_next_commands(4)  # code push + open, twice each, vanish
    parcel = world.parcel("A1")
    command_id = request_deposit(world, live_client_for, parcel)

    command = wait_for(
        lambda: (c := fetch(world, LockerCommand, command_id)).status == CommandStatus.ACKED and c
    )
    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP)
    snap = online_bank.snapshot()
    assert command.attempts >= 3
    assert snap["received"][command_id] >= 3  # the same id, again and again
    assert snap["executions"][command_id] == 1  # executed once
    assert len(committed_events(world, domain_events.PARCEL_READY)) == 1


def test_unacked_command_expires_and_is_reported(
    world: World,
    online_bank: VirtualBank,
    live_client_for: Callable[[Any], Any],
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("LOCKERS_OPEN_COMMAND_TTL_SECONDS", "1")
    from lockers.config import get_locker_settings

    get_locker_settings.cache_clear()
    online_bank.mute()
    parcel = world.parcel("A1")
    command_id = request_deposit(world, live_client_for, parcel)

    command = wait_for(
        lambda: (c := fetch(world, LockerCommand, command_id)).status == CommandStatus.EXPIRED and c
    )
    assert command.attempts >= 2 and command.error == "expired"
    failed = committed_events(world, domain_events.LOCKER_COMMAND_FAILED)
    assert any(e.payload["command_id"] == command_id for e in failed)
    replans = committed_events(world, domain_events.PARCEL_REPLAN_NEEDED)
    assert [e.payload["parcel_id"] for e in replans] == [parcel.id]
    assert online_bank.snapshot()["executions"].get(command_id) is None


def test_jammed_door_fails_the_command_and_takes_the_compartment_out(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    online_bank.jam_door("A2")
    parcel = world.parcel("A2")
    command_id = request_deposit(world, live_client_for, parcel)

    command = wait_for(
        lambda: (c := fetch(world, LockerCommand, command_id)).status == CommandStatus.FAILED and c
    )
    assert command.error == "door_jammed"
    wait_for(
        lambda: (
            fetch(world, Compartment, world.compartments["A2"].id).status
            == CompartmentStatus.OUT_OF_SERVICE
        )
    )
    assert any(
        e.payload["parcel_id"] == parcel.id
        for e in committed_events(world, domain_events.PARCEL_REPLAN_NEEDED)
    )


def test_operator_remote_open_is_audited_and_out_of_service_reaches_the_locker(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    client = live_client_for(world.operator)
    a3 = world.compartments["A3"]

    opened = client.post(
        f"/lockers/banks/{world.bank.id}/compartments/{a3.id}/open",
        json={"reason": "cleaning after a spill"},
    )
    assert opened.status_code == 202, opened.text
    wait_for(lambda: fetch(world, LockerCommand, opened.json()["id"]).status == CommandStatus.ACKED)

    oos = client.post(
        f"/lockers/banks/{world.bank.id}/compartments/{a3.id}/out-of-service",
        json={"out_of_service": True, "reason": "hinge broken"},
    )
    assert oos.status_code == 200 and oos.json()["status"] == "out_of_service"
    wait_for(lambda: online_bank.snapshot()["compartments"]["A3"]["out_of_service"])

    with world.sessions() as db:
        audit = list(
            db.scalars(
                select(AuditLog).where(AuditLog.bank_id == world.bank.id).order_by(AuditLog.id)
            )
        )
    assert [(a.action, a.actor_id, a.reason) for a in audit] == [
        ("remote_open", world.operator.id, "cleaning after a spill"),
        ("out_of_service", world.operator.id, "hinge broken"),
    ]
    state = client.get(f"/lockers/banks/{world.bank.id}/state").json()
    assert state["online"] is True and state["firmware"] == "sim-1.0"
    a3_state = next(c for c in state["compartments"] if c["label"] == "A3")
    assert a3_state["status"] == "out_of_service"
    wait_for(
        lambda: (
            next(
                c
                for c in client.get(f"/lockers/banks/{world.bank.id}/state").json()["compartments"]
                if c["label"] == "A3"
            )["reported_out_of_service"]
            is True
        )
    )

    back = client.post(
        f"/lockers/banks/{world.bank.id}/compartments/{a3.id}/out-of-service",
        json={"out_of_service": False, "reason": "hinge replaced"},
    )
    assert back.json()["status"] == "free"
