"""A parcel's stay in a locker, end to end over a real broker (API -> outbox -> bridge ->
broker -> virtual bank -> ack/events -> bridge -> database): the driver's deposit, pickup by
code, by QR and while offline, the keypad lockout, the extension, expiry and retrieval."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.core.db import utcnow
from app.neighborhoods.models import Compartment, CompartmentStatus
from app.orders.models import Order, OrderStatus
from lockers import codes, domain_events, expiry
from lockers.models import CommandStatus, LockerBankState, LockerCommand, LockerEvent
from lockers.simulator import VirtualBank
from logistics.models import Parcel, ParcelStatus
from tests.lockers.conftest import World, wait_for
from tests.lockers.live_reads import (
    committed_events,
    current_pickup_code,
    deposit_until_ready,
    fetch,
    parcel_status,
    request_deposit,
)


def test_driver_deposit_makes_the_parcel_ready(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = world.parcel("A2")
    command_id = request_deposit(world, live_client_for, parcel)

    command = wait_for(
        lambda: (c := fetch(world, LockerCommand, command_id)).status == CommandStatus.ACKED and c
    )
    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP)

    assert command.attempts == 1 and command.result["status"] == "ok"
    assert fetch(world, Compartment, world.compartments["A2"].id).status == (
        CompartmentStatus.OCCUPIED
    )
    assert fetch(world, Order, parcel.order_id).status == OrderStatus.READY_FOR_PICKUP
    ready = committed_events(world, domain_events.PARCEL_READY)
    assert [e.payload["parcel_id"] for e in ready] == [parcel.id]
    assert ready[0].payload["compartment_id"] == world.compartments["A2"].id
    # The locker holds the parcel and its hashed code, never the code itself.
    snap = online_bank.snapshot()
    assert snap["compartments"]["A2"]["parcel_id"] == parcel.id
    assert parcel.id in snap["codes"]
    code = codes.pickup_code(parcel_id=parcel.id, nonce=0)
    assert code not in repr(online_bank.codes[parcel.id])
    # The driver polls the command.
    polled = live_client_for(world.driver).get(f"/lockers/commands/{command_id}")
    assert polled.status_code == 200 and polled.json()["status"] == "acked"


def test_resident_pickup_with_code_collects_everything(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = deposit_until_ready(world, live_client_for)
    mine = live_client_for(world.resident).get("/lockers/my-parcels").json()
    code = mine[0]["pickup_code"]
    assert code == current_pickup_code(world, parcel.id)

    assert online_bank.enter_code(code) == "opened:A1"

    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.COLLECTED)
    assert fetch(world, Compartment, world.compartments["A1"].id).status == CompartmentStatus.FREE
    assert fetch(world, Order, parcel.order_id).status == OrderStatus.COLLECTED
    assert current_pickup_code(world, parcel.id) is None  # used codes are not shown again
    assert online_bank.enter_code(code) == "rejected"  # and the locker forgot it


def test_qr_pickup(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = deposit_until_ready(world, live_client_for, "F1")
    qr = live_client_for(world.resident).get("/lockers/my-parcels").json()[0]["qr_text"]
    assert online_bank.scan_qr(qr) == "opened:F1"
    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.COLLECTED)


def test_offline_pickup_is_reported_after_reconnect(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = deposit_until_ready(world, live_client_for)
    code = current_pickup_code(world, parcel.id)
    assert code is not None

    online_bank.drop_link(30)
    state = wait_for(
        lambda: (s := fetch(world, LockerBankState, world.bank.id)) and not s.online and s
    )
    assert state.went_offline_at is not None
    assert committed_events(world, domain_events.LOCKER_OFFLINE)

    # Offline, the locker still checks the code itself and hands the parcel out.
    assert online_bank.enter_code(code) == "opened:A1"
    assert parcel_status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP

    online_bank.restore_link()
    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.COLLECTED)
    assert fetch(world, Order, parcel.order_id).status == OrderStatus.COLLECTED
    wait_for(lambda: fetch(world, LockerBankState, world.bank.id).online)


def test_five_wrong_codes_lock_the_keypad(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = deposit_until_ready(world, live_client_for)
    code = current_pickup_code(world, parcel.id)
    assert code is not None
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    results = [online_bank.enter_code(wrong) for _ in range(5)]
    assert results == ["rejected"] * 4 + ["locked"]
    assert online_bank.enter_code(code) == "locked"  # even the right code, while locked

    state = wait_for(
        lambda: (s := fetch(world, LockerBankState, world.bank.id)).keypad_locked_until and s
    )
    assert state.keypad_failed_attempts == 5 and state.keypad_lockouts == 1
    assert len(committed_events(world, domain_events.LOCKER_KEYPAD_LOCKED)) == 1
    with world.sessions() as db:
        rejected = db.scalar(
            select(func.count(LockerEvent.id)).where(
                LockerEvent.bank_id == world.bank.id, LockerEvent.type == "code_rejected"
            )
        )
    assert rejected == 5
    assert parcel_status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP

    # The lockout (2 s in tests) ends; the right code works again.
    wait_for(lambda: online_bank.enter_code(code) == "opened:A1", timeout=5, interval=0.5)
    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.COLLECTED)


def test_extension_once_pushes_the_new_expiry_to_the_locker(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = deposit_until_ready(world, live_client_for)
    before = fetch(world, Parcel, parcel.id).pickup_deadline
    client = live_client_for(world.resident)

    first = client.post(f"/lockers/parcels/{parcel.id}/extend")
    second = client.post(f"/lockers/parcels/{parcel.id}/extend")

    assert first.status_code == 200, first.text
    assert first.json()["extended"] is True and first.json()["can_extend"] is False
    after = fetch(world, Parcel, parcel.id).pickup_deadline
    assert after - before == timedelta(hours=24)
    assert second.status_code == 409 and "already" in second.json()["detail"][0]["msg"]
    in_ms = after.replace(microsecond=after.microsecond // 1000 * 1000)  # [S-4.1]
    wait_for(lambda: online_bank.codes[parcel.id].expires_at == in_ms)
    assert len(committed_events(world, domain_events.PARCEL_EXTENDED)) == 1


def test_expired_parcel_is_retrieved_and_frees_the_compartment(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = deposit_until_ready(world, live_client_for)
    code = current_pickup_code(world, parcel.id)
    with world.sessions() as db:
        expired = expiry.expire_overdue(db_session=db, now=utcnow() + timedelta(days=2))
    assert expired == [parcel.id]
    assert fetch(world, Order, parcel.order_id).status == OrderStatus.EXPIRED
    assert [
        e.payload["parcel_id"] for e in committed_events(world, domain_events.PARCEL_EXPIRED)
    ] == [parcel.id]
    wait_for(lambda: parcel.id not in online_bank.snapshot()["codes"])  # revoked at the locker
    assert code is not None and online_bank.enter_code(code) == "rejected"
    listing = live_client_for(world.driver).get("/lockers/retrievals").json()
    assert [p["parcel_id"] for p in listing] == [parcel.id]

    response = live_client_for(world.driver).post(f"/lockers/parcels/{parcel.id}/retrieve")
    assert response.status_code == 202, response.text

    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.RETRIEVED)
    assert fetch(world, Compartment, world.compartments["A1"].id).status == CompartmentStatus.FREE
    assert live_client_for(world.driver).get("/lockers/retrievals").json() == []
