"""Resync and counter jumps without a broker: what a reset re-sends, that one reset resyncs
once, and that a counter jump costs one replay."""

from datetime import datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods.models import CompartmentStatus
from lockers import acks, codes, event_seq, ingest, intake, protocol, resync
from lockers.models import CommandStatus, LockerBankState, LockerCommand
from logistics.models import ParcelStatus
from tests.lockers.conftest import World, build_world

STORAGE = "storage-aaaaaaaa"


@pytest.fixture
def w(db: Session) -> World:
    return build_world(db, None)  # type: ignore[arg-type]


def _state(
    w: World, db: Session, at: datetime, *, seq: int, events: int = 0, storage: str = STORAGE
) -> str:
    message = protocol.StateMessage(
        online=True, seq=seq, ts=at, event_seq=events, storage_id=storage
    )
    return ingest.handle_state(
        db_session=db, bank=w.bank, payload=message.model_dump_json().encode(), received_at=at
    )


def _offline(w: World, db: Session, at: datetime) -> None:
    payload = protocol.StateMessage(online=False, reason="shutdown").model_dump_json().encode()
    ingest.handle_state(db_session=db, bank=w.bank, payload=payload, received_at=at)


def _event(w: World, db: Session, at: datetime, seq: int, event_id: str | None = None) -> str:
    message = protocol.EventMessage(
        event_id=event_id or f"evt-{uuid4().hex}",
        seq=seq,
        ts=at,
        type=protocol.EventType.DOOR_OPENED,
        compartment="A1",
    )
    return ingest.handle_event(
        db_session=db, bank=w.bank, payload=message.model_dump_json().encode(), received_at=at
    )


def _resyncs(w: World, db: Session) -> list[LockerCommand]:
    return list(
        db.scalars(
            select(LockerCommand)
            .where(LockerCommand.bank_id == w.bank.id, LockerCommand.purpose == resync.PURPOSE)
            .order_by(LockerCommand.kind)
        )
    )


def _replays(w: World, db: Session) -> list[LockerCommand]:
    return list(
        db.scalars(
            select(LockerCommand).where(
                LockerCommand.bank_id == w.bank.id, LockerCommand.kind == "replay_events"
            )
        )
    )


def test_a_resync_carries_what_the_locker_must_hold(w: World, db: Session) -> None:
    ready = w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    codes.ensure_pickup_code(db_session=db, parcel=ready)
    coming = w.parcel("A2")
    intake.prepare_parcel(db_session=db, parcel_id=coming.id)
    no_code_yet = w.parcel("A3")
    expired = w.parcel("F1", status=ParcelStatus.EXPIRED)
    w.parcel("R1", status=ParcelStatus.COLLECTED)
    w.compartments["R1"].status = CompartmentStatus.OUT_OF_SERVICE
    db.flush()

    commands = resync.resync_bank(db_session=db, bank_id=w.bank.id, reason="test", supersede=True)

    contents, out_of_service, loads = commands
    assert contents.kind == "set_contents" and loads.kind == "load_codes"
    assert out_of_service.kind == "set_out_of_service"
    assert out_of_service.payload == {"compartment": "R1", "out_of_service": True}
    assert contents.payload["compartments"] == [
        {"compartment": "A1", "parcel_id": ready.id},
        {"compartment": "F1", "parcel_id": expired.id},
    ]
    loaded = {entry["parcel_id"]: entry for entry in loads.payload["codes"]}
    assert sorted(loaded) == [ready.id, coming.id]  # no code issued yet: not sent
    assert no_code_yet.id not in loaded
    assert loaded[ready.id]["compartment"] == "A1" and len(loaded[ready.id]["hash"]) == 64
    assert {c.purpose for c in commands} == {resync.PURPOSE}


def test_one_reset_resyncs_once_and_a_repeated_state_changes_nothing(w: World, db: Session) -> None:
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    t0 = utcnow()
    _state(w, db, t0, seq=40, events=0)
    _event(w, db, t0, 1)
    _offline(w, db, t0)
    assert _resyncs(w, db) == []

    t1 = t0 + timedelta(seconds=5)
    assert _state(w, db, t1, seq=1, storage="storage-bbbbbbbb") == "online"
    assert len(_resyncs(w, db)) == 1  # contents only: no code was issued
    for beat in range(2, 5):  # heartbeats after the reset
        _state(w, db, t1 + timedelta(seconds=beat), seq=beat, storage="storage-bbbbbbbb")
    _offline(w, db, t1 + timedelta(seconds=5))
    # The retained state delivered again (same seq, same storage): no reset.
    _state(w, db, t1 + timedelta(seconds=4), seq=4, storage="storage-bbbbbbbb")
    assert len(_resyncs(w, db)) == 1


def test_a_new_storage_id_is_a_reset_even_with_counters_that_look_right(
    w: World, db: Session
) -> None:
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    t0 = utcnow()
    _state(w, db, t0, seq=1)
    _offline(w, db, t0)
    # Wiped twice in a row: the second epoch's counters equal the first's.
    _state(w, db, t0 + timedelta(seconds=1), seq=1, storage="storage-bbbbbbbb")
    first = _resyncs(w, db)
    _offline(w, db, t0 + timedelta(seconds=2))
    _state(w, db, t0 + timedelta(seconds=3), seq=1, storage="storage-cccccccc")

    after = _resyncs(w, db)
    assert len(first) == 1 and len(after) == 2
    old = next(c for c in after if c.id == first[0].id)
    assert old.status == CommandStatus.FAILED and old.error == "superseded"


def test_a_request_while_a_resync_is_pending_changes_nothing(w: World, db: Session) -> None:
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    t0 = utcnow()
    _state(w, db, t0, seq=1)
    request = protocol.EventMessage(
        event_id=f"evt-{uuid4().hex}",
        seq=1,
        ts=t0,
        type=protocol.EventType.RESYNC_REQUESTED,
        data={"reason": "storage_corrupt"},
    )
    payload = request.model_dump_json().encode()
    assert ingest.handle_event(db_session=db, bank=w.bank, payload=payload, received_at=t0) == (
        "applied:resync"
    )
    again = request.model_copy(update={"event_id": f"evt-{uuid4().hex}", "seq": 2})
    assert (
        ingest.handle_event(
            db_session=db,
            bank=w.bank,
            payload=again.model_dump_json().encode(),
            received_at=t0,
        )
        == "ignored:resync_pending"
    )
    assert len(_resyncs(w, db)) == 1


def test_a_counter_jump_costs_one_replay(w: World, db: Session) -> None:
    t0 = utcnow()
    _state(w, db, t0, seq=1, events=0)
    _event(w, db, t0, 1, event_id="evt-old-0001")
    # The locker comes back with an older storage copy numbering events we never get.
    _offline(w, db, t0)
    t1 = t0 + timedelta(seconds=1)
    _state(w, db, t1, seq=2, events=30)
    event_seq.request_missing_events(db_session=db, now=t1)
    assert event_seq.request_missing_events(db_session=db, now=t1 + timedelta(seconds=6)) == [
        w.bank.id
    ]
    (replay,) = _replays(w, db)
    assert replay.payload == {"from_seq": 2, "to_seq": 30}
    ack = protocol.AckMessage(
        command_id=replay.id,
        status=protocol.AckStatus.OK,
        result={"replayed": 0, "oldest_available": 1},
    )
    acks.handle_ack(
        db_session=db,
        bank=w.bank,
        payload=ack.model_dump_json().encode(),
        received_at=t1 + timedelta(seconds=7),
    )

    for later in (12, 18, 24, 60):
        assert (
            event_seq.request_missing_events(db_session=db, now=t1 + timedelta(seconds=later)) == []
        )
    state = db.get(LockerBankState, w.bank.id)
    assert state is not None and state.event_seq_contiguous == 30 and state.event_gap_since is None
    assert len(_replays(w, db)) == 1
    _event(w, db, t1 + timedelta(seconds=61), 31)
    assert state.event_seq_contiguous == 31
