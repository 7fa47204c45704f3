"""A bank's events and heartbeat, end to end over a real broker: duplicates change nothing,
out-of-order reports are settled, events the broker lost are replayed, a silent bank goes
offline."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.core.db import utcnow
from app.orders.models import Order, OrderStatus
from lockers import domain_events, protocol
from lockers.bridge import Bridge
from lockers.models import CommandStatus, LockerBankState, LockerCommand, LockerEvent
from lockers.simulator import VirtualBank
from logistics.models import ParcelStatus
from tests.lockers.conftest import World, wait_for
from tests.lockers.live_reads import (
    committed_events,
    current_pickup_code,
    deposit_until_ready,
    fetch,
    parcel_status,
    request_deposit,
    stored_event,
)


def test_duplicate_events_change_nothing(
    world: World, online_bank: VirtualBank, live_client_for: Callable[[Any], Any]
) -> None:
    parcel = deposit_until_ready(world, live_client_for)
    code = current_pickup_code(world, parcel.id)
    assert code is not None
    online_bank.enter_code(code)
    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.COLLECTED)
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
    wait_for(lambda: stored_event(world, marker.event_id) is not None)

    with world.sessions() as db:
        stored = db.scalar(
            select(func.count(LockerEvent.id)).where(
                LockerEvent.event_id.in_([collected.event_id, closed.event_id])
            )
        )
    assert stored == 2
    assert len(committed_events(world, domain_events.PARCEL_COLLECTED)) == 1
    assert len(committed_events(world, domain_events.PARCEL_READY)) == 1
    assert parcel_status(world, parcel.id) == ParcelStatus.COLLECTED


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
    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.COLLECTED)
    late = online_bank.emit_event(
        protocol.EventType.DOOR_CLOSED,
        compartment="A3",
        parcel_id=parcel.id,
        parcel_present=True,
    )
    row = wait_for(lambda: stored_event(world, late.event_id))
    assert row.outcome == "ignored:parcel_collected"
    assert parcel_status(world, parcel.id) == ParcelStatus.COLLECTED
    assert fetch(world, Order, parcel.order_id).status == OrderStatus.COLLECTED
    assert committed_events(world, domain_events.PARCEL_READY) == []
    assert stored_event(world, collected.event_id).outcome == "applied:collected"

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
    command_id = request_deposit(world, live_client_for, parcel)
    wait_for(lambda: fetch(world, LockerCommand, command_id).status == CommandStatus.ACKED)

    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP)

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
    assert len(committed_events(world, domain_events.PARCEL_READY)) == 1


def test_silent_bank_goes_offline_by_heartbeat_timeout(
    world: World, online_bank: VirtualBank, bridge: Bridge
) -> None:
    # Mute the heartbeat without closing the link: no last will, only silence.
    online_bank.fleet.call(lambda: setattr(online_bank, "heartbeat_s", 3600.0))
    online_bank.fleet.call(lambda: setattr(online_bank, "_stopping", True))
    state = wait_for(
        lambda: (s := fetch(world, LockerBankState, world.bank.id)) and not s.online and s,
        timeout=10,
    )
    events = committed_events(world, domain_events.LOCKER_OFFLINE)
    assert events and events[-1].payload["reason"] == "heartbeat_timeout"
    assert state.went_offline_at is not None
