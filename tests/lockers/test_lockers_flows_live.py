"""Each locker flow end to end over a real broker: API -> outbox -> bridge -> broker ->
virtual bank -> ack/events -> bridge -> database."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.core.db import utcnow
from app.events.models import OutboxEvent
from app.neighborhoods.models import Compartment, CompartmentStatus
from app.orders.models import Order, OrderStatus
from lockers import codes, domain_events, expiry, protocol
from lockers.bridge import Bridge
from lockers.models import (
    AuditLog,
    CommandStatus,
    LockerBankState,
    LockerCommand,
    LockerEvent,
    ParcelColdChainFlag,
)
from lockers.simulator import Fleet, VirtualBank
from logistics.models import Parcel, ParcelStatus
from tests.lockers.conftest import World, wait_for


def _get(world: World, model: Any, key: Any) -> Any:
    with world.sessions() as db:
        return db.get(model, key)


def _events(world: World, kind: str) -> list[OutboxEvent]:
    with world.sessions() as db:
        return list(db.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)))


def _status(world: World, parcel_id: int) -> ParcelStatus:
    return _get(world, Parcel, parcel_id).status  # type: ignore[no-any-return]


def _deposit(world: World, client_for: Callable[[Any], Any], parcel: Parcel) -> str:
    response = client_for(world.driver).post(f"/lockers/parcels/{parcel.id}/deposit")
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _deposited(world: World, client_for: Callable[[Any], Any], label: str = "A1") -> Parcel:
    parcel = world.parcel(label)
    _deposit(world, client_for, parcel)
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP)
    return parcel


def test_driver_deposit_makes_the_parcel_ready(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = world.parcel("A2")
    command_id = _deposit(world, live_client_for, parcel)

    command = wait_for(
        lambda: (c := _get(world, LockerCommand, command_id)).status == CommandStatus.ACKED and c
    )
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP)

    assert command.attempts == 1 and command.result["status"] == "ok"
    assert _get(world, Compartment, world.compartments["A2"].id).status == (
        CompartmentStatus.OCCUPIED
    )
    assert _get(world, Order, parcel.order_id).status == OrderStatus.READY_FOR_PICKUP
    ready = _events(world, domain_events.PARCEL_READY)
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
    parcel = _deposited(world, live_client_for)
    mine = live_client_for(world.resident).get("/lockers/my-parcels").json()
    code = mine[0]["pickup_code"]
    assert code == locker_service_code(world, parcel.id)

    assert online_bank.enter_code(code) == "opened:A1"

    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.COLLECTED)
    assert _get(world, Compartment, world.compartments["A1"].id).status == CompartmentStatus.FREE
    assert _get(world, Order, parcel.order_id).status == OrderStatus.COLLECTED
    assert locker_service_code(world, parcel.id) is None  # used codes are not shown again
    assert online_bank.enter_code(code) == "rejected"  # and the locker forgot it


def locker_service_code(world: World, parcel_id: int) -> str | None:
    with world.sessions() as db:
        return codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel_id)


def test_qr_pickup(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = _deposited(world, live_client_for, "F1")
    qr = live_client_for(world.resident).get("/lockers/my-parcels").json()[0]["qr_text"]
    assert online_bank.scan_qr(qr) == "opened:F1"
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.COLLECTED)


def test_offline_pickup_is_reported_after_reconnect(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = _deposited(world, live_client_for)
    code = locker_service_code(world, parcel.id)
    assert code is not None

    online_bank.drop_link(30)
    state = wait_for(
        lambda: (s := _get(world, LockerBankState, world.bank.id)) and not s.online and s
    )
    assert state.went_offline_at is not None
    assert _events(world, domain_events.LOCKER_OFFLINE)

    # Offline, the locker still checks the code itself and hands the parcel out.
    assert online_bank.enter_code(code) == "opened:A1"
    assert _status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP

    online_bank.restore_link()
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.COLLECTED)
    assert _get(world, Order, parcel.order_id).status == OrderStatus.COLLECTED
    wait_for(lambda: _get(world, LockerBankState, world.bank.id).online)


def test_five_wrong_codes_lock_the_keypad(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = _deposited(world, live_client_for)
    code = locker_service_code(world, parcel.id)
    assert code is not None
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    results = [online_bank.enter_code(wrong) for _ in range(5)]
    assert results == ["rejected"] * 4 + ["locked"]
    assert online_bank.enter_code(code) == "locked"  # even the right code, while locked

    state = wait_for(
        lambda: (s := _get(world, LockerBankState, world.bank.id)).keypad_locked_until and s
    )
    assert state.keypad_failed_attempts == 5 and state.keypad_lockouts == 1
    assert len(_events(world, domain_events.LOCKER_KEYPAD_LOCKED)) == 1
    with world.sessions() as db:
        rejected = db.scalar(
            select(func.count(LockerEvent.id)).where(
                LockerEvent.bank_id == world.bank.id, LockerEvent.type == "code_rejected"
            )
        )
    assert rejected == 5
    assert _status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP

    # The lockout (2 s in tests) ends; the right code works again.
    wait_for(lambda: online_bank.enter_code(code) == "opened:A1", timeout=5, interval=0.5)
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.COLLECTED)


def test_duplicate_events_change_nothing(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = _deposited(world, live_client_for)
    code = locker_service_code(world, parcel.id)
    assert code is not None
    online_bank.enter_code(code)
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.COLLECTED)
    collected = next(
        e for e in online_bank.event_log.values() if e.type == protocol.EventType.PARCEL_COLLECTED
    )
    closed = next(
        e
        for e in online_bank.event_log.values()
        if e.type == protocol.EventType.DOOR_CLOSED and e.data.get("parcel_present")
    )

    for _ in range(3):
        online_bank.resend_event(collected)
        online_bank.resend_event(closed)
    # Events of one bank arrive in order: once a later marker is stored, so are the resends.
    marker = online_bank.emit_event(protocol.EventType.DOOR_OPENED, compartment="A3")
    wait_for(lambda: _event_row(world, marker.event_id) is not None)

    with world.sessions() as db:
        stored = db.scalar(
            select(func.count(LockerEvent.id)).where(
                LockerEvent.event_id.in_([collected.event_id, closed.event_id])
            )
        )
    assert stored == 2
    assert len(_events(world, domain_events.PARCEL_COLLECTED)) == 1
    assert len(_events(world, domain_events.PARCEL_READY)) == 1
    assert _status(world, parcel.id) == ParcelStatus.COLLECTED


def _event_row(world: World, event_id: str) -> LockerEvent | None:
    with world.sessions() as db:
        return db.scalar(select(LockerEvent).where(LockerEvent.event_id == event_id))


def test_out_of_order_events(world: World, online_bank: VirtualBank) -> None:
    """A collection reported before the deposit's door-closed report: the parcel ends
    collected, and the late deposit report does not bring it back."""
    parcel = world.parcel("A3")
    collected = online_bank.emit_event(
        protocol.EventType.PARCEL_COLLECTED,
        compartment="A3",
        parcel_id=parcel.id,
        method="keypad",
    )
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.COLLECTED)
    late = online_bank.emit_event(
        protocol.EventType.DOOR_CLOSED,
        compartment="A3",
        parcel_id=parcel.id,
        parcel_present=True,
    )
    row = wait_for(lambda: _event_row(world, late.event_id))
    assert row.outcome == "ignored:parcel_collected"
    assert _status(world, parcel.id) == ParcelStatus.COLLECTED
    assert _get(world, Order, parcel.order_id).status == OrderStatus.COLLECTED
    assert _events(world, domain_events.PARCEL_READY) == []
    assert _event_row(world, collected.event_id).outcome == "applied:collected"

    # An older state (lower seq, older clock) arriving after a newer one is ignored.
    with world.sessions() as db:
        seq_before = db.get(LockerBankState, world.bank.id).state_seq  # type: ignore[union-attr]
        from lockers import ingest

        stale = protocol.StateMessage(
            online=True, seq=0, ts=utcnow() - timedelta(hours=1), zones={"chilled": 30.0}
        )
        outcome = ingest.handle_state(
            db_session=db,
            bank=db.merge(world.bank),
            payload=stale.model_dump_json().encode(),
            received_at=utcnow(),
        )
        db.rollback()
    assert outcome == "ignored:stale" and seq_before and seq_before >= 1


def test_deposit_refused_when_the_bank_is_offline(
    world: World, fleet: Fleet, bridge: Bridge, live_client_for: Callable[[Any], Any]
) -> None:
    bank = fleet.add_bank(world.spec())
    fleet.start()
    wait_for(
        lambda: (
            _get(world, LockerBankState, world.bank.id) is not None
            and _get(world, LockerBankState, world.bank.id).online
        )
    )
    bank.drop_link(60)
    wait_for(lambda: not _get(world, LockerBankState, world.bank.id).online)
    parcel = world.parcel("A1")

    response = live_client_for(world.driver).post(f"/lockers/parcels/{parcel.id}/deposit")

    assert response.status_code == 409
    detail = response.json()["detail"][0]
    assert world.bank.code in detail["msg"] and detail["type"] == "locker_offline"
    assert detail["ctx"]["bank_code"] == world.bank.code
    replans = _events(world, domain_events.PARCEL_REPLAN_NEEDED)
    assert [e.payload["parcel_id"] for e in replans] == [parcel.id]
    assert replans[0].payload["reason"] == "locker_offline"
    with world.sessions() as db:
        assert (
            db.scalar(
                select(func.count(LockerCommand.id)).where(LockerCommand.parcel_id == parcel.id)
            )
            == 0
        )
    assert _status(world, parcel.id) == ParcelStatus.RESERVED


def test_silent_bank_goes_offline_by_heartbeat_timeout(
    world: World, online_bank: VirtualBank, bridge: Bridge
) -> None:
    # Mute the heartbeat without closing the link: no last will, only silence.
    online_bank.fleet.call(lambda: setattr(online_bank, "heartbeat_s", 3600.0))
    online_bank.fleet.call(lambda: setattr(online_bank, "_stopping", True))
    state = wait_for(
        lambda: (s := _get(world, LockerBankState, world.bank.id)) and not s.online and s,
        timeout=10,
    )
    events = _events(world, domain_events.LOCKER_OFFLINE)
    assert events and events[-1].payload["reason"] == "heartbeat_timeout"
    assert state.went_offline_at is not None


def test_commands_are_resent_with_the_same_id_until_acked(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    online_bank.ignore_next_commands(4)  # code push + open, twice each, vanish
    parcel = world.parcel("A1")
    command_id = _deposit(world, live_client_for, parcel)

    command = wait_for(
        lambda: (c := _get(world, LockerCommand, command_id)).status == CommandStatus.ACKED and c
    )
    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP)
    snap = online_bank.snapshot()
    assert command.attempts >= 3
    assert snap["received"][command_id] >= 3  # the same id, again and again
    assert snap["executions"][command_id] == 1  # executed once
    assert len(_events(world, domain_events.PARCEL_READY)) == 1


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
    command_id = _deposit(world, live_client_for, parcel)

    command = wait_for(
        lambda: (c := _get(world, LockerCommand, command_id)).status == CommandStatus.EXPIRED and c
    )
    assert command.attempts >= 2 and command.error == "expired"
    failed = _events(world, domain_events.LOCKER_COMMAND_FAILED)
    assert any(e.payload["command_id"] == command_id for e in failed)
    replans = _events(world, domain_events.PARCEL_REPLAN_NEEDED)
    assert [e.payload["parcel_id"] for e in replans] == [parcel.id]
    assert online_bank.snapshot()["executions"].get(command_id) is None


def test_jammed_door_fails_the_command_and_takes_the_compartment_out(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    online_bank.jam_door("A2")
    parcel = world.parcel("A2")
    command_id = _deposit(world, live_client_for, parcel)

    command = wait_for(
        lambda: (c := _get(world, LockerCommand, command_id)).status == CommandStatus.FAILED and c
    )
    assert command.error == "door_jammed"
    wait_for(
        lambda: (
            _get(world, Compartment, world.compartments["A2"].id).status
            == CompartmentStatus.OUT_OF_SERVICE
        )
    )
    assert any(
        e.payload["parcel_id"] == parcel.id
        for e in _events(world, domain_events.PARCEL_REPLAN_NEEDED)
    )


def test_cold_chain_alarm_flags_parcels_inside(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    inside = _deposited(world, live_client_for, "A1")
    frozen = _deposited(world, live_client_for, "F1")

    online_bank.heat_zone("chilled", 9.5)

    alarm = wait_for(lambda: _events(world, domain_events.LOCKER_COLD_CHAIN_ALARM))[0]
    assert alarm.payload["zone"] == "chilled" and alarm.payload["parcel_ids"] == [inside.id]
    flags = _events(world, domain_events.PARCEL_COLD_CHAIN_FLAG)
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
    _deposited(world, live_client_for, "A1")
    online_bank.heat_zone("chilled", 7.0)
    client = live_client_for(world.operator)

    def chilled() -> dict[str, Any]:
        zones = client.get(f"/lockers/banks/{world.bank.id}/state").json()["zones"]
        return next(z for z in zones if z["zone"] == "chilled")  # type: ignore[no-any-return]

    wait_for(lambda: chilled()["excursion_since"])
    online_bank.heat_zone("chilled", None)
    wait_for(lambda: chilled()["excursion_since"] is None)
    assert _events(world, domain_events.LOCKER_COLD_CHAIN_ALARM) == []


def test_extension_once_pushes_the_new_expiry_to_the_locker(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = _deposited(world, live_client_for)
    before = _get(world, Parcel, parcel.id).pickup_deadline
    client = live_client_for(world.resident)

    first = client.post(f"/lockers/parcels/{parcel.id}/extend")
    second = client.post(f"/lockers/parcels/{parcel.id}/extend")

    assert first.status_code == 200, first.text
    assert first.json()["extended"] is True and first.json()["can_extend"] is False
    after = _get(world, Parcel, parcel.id).pickup_deadline
    assert after - before == timedelta(hours=24)
    assert second.status_code == 409 and "already" in second.json()["detail"][0]["msg"]
    in_ms = after.replace(microsecond=after.microsecond // 1000 * 1000)  # [S-4.1]
    wait_for(lambda: online_bank.codes[parcel.id].expires_at == in_ms)
    assert len(_events(world, domain_events.PARCEL_EXTENDED)) == 1


def test_expired_parcel_is_retrieved_and_frees_the_compartment(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = _deposited(world, live_client_for)
    code = locker_service_code(world, parcel.id)
    with world.sessions() as db:
        expired = expiry.expire_overdue(db_session=db, now=utcnow() + timedelta(days=2))
    assert expired == [parcel.id]
    assert _get(world, Order, parcel.order_id).status == OrderStatus.EXPIRED
    assert [e.payload["parcel_id"] for e in _events(world, domain_events.PARCEL_EXPIRED)] == [
        parcel.id
    ]
    wait_for(lambda: parcel.id not in online_bank.snapshot()["codes"])  # revoked at the locker
    assert code is not None and online_bank.enter_code(code) == "rejected"
    listing = live_client_for(world.driver).get("/lockers/retrievals").json()
    assert [p["parcel_id"] for p in listing] == [parcel.id]

    response = live_client_for(world.driver).post(f"/lockers/parcels/{parcel.id}/retrieve")
    assert response.status_code == 202, response.text

    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.RETRIEVED)
    assert _get(world, Compartment, world.compartments["A1"].id).status == CompartmentStatus.FREE
    assert live_client_for(world.driver).get("/lockers/retrievals").json() == []


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
    wait_for(lambda: _get(world, LockerCommand, opened.json()["id"]).status == CommandStatus.ACKED)

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


def test_events_lost_in_the_broker_are_replayed(
    world: World,
    online_bank: VirtualBank,
    bridge: Bridge,
    live_client_for: Callable[[Any], Any],
) -> None:
    """The broker acked the door-closed report and lost it (a crash): the gap in the bank's
    event numbers (seen from the next heartbeat) makes the server ask for a replay."""
    online_bank.lose_next_events(2)  # door opened + door closed of the deposit
    parcel = world.parcel("A1")
    command_id = _deposit(world, live_client_for, parcel)
    wait_for(lambda: _get(world, LockerCommand, command_id).status == CommandStatus.ACKED)

    wait_for(lambda: _status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP)

    assert online_bank.stats["events_lost"] == 2
    assert online_bank.stats["events_replayed"] >= 2
    assert bridge.stats["replays_asked"] >= 1
    with world.sessions() as db:
        replays = list(
            db.scalars(
                select(LockerCommand).where(
                    LockerCommand.bank_id == world.bank.id, LockerCommand.kind == "replay_events"
                )
            )
        )
        state = db.get(LockerBankState, world.bank.id)
    assert replays and replays[0].payload["from_seq"] == 1
    assert state is not None and state.event_seq_contiguous == online_bank.event_seq
    assert len(_events(world, domain_events.PARCEL_READY)) == 1
