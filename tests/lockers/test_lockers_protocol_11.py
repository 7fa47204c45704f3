"""Locker protocol 1.1: each decision of docs/locker-protocol.md, as the reference locker (the
simulator, no broker: calls run in the test's thread) and the server keep it. Clause ids in
the test names' docstrings."""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.client import MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from lockers import event_seq, ingest, protocol, settings_sync
from lockers.broker import MqttTarget
from lockers.models import LockerCommand
from lockers.sim_link import drop_queued_states
from lockers.simulator import BankSpec, Fleet, VirtualBank
from tests.lockers.conftest import World, build_world, wait_for

MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CODE = "424242"


class _Bank(VirtualBank):
    """A bank whose acks, events and states are recorded instead of published."""

    def __init__(self, fleet: Fleet, spec: BankSpec) -> None:
        super().__init__(fleet, spec)
        self.acks: list[dict[str, Any]] = []
        self.sent: list[protocol.EventMessage] = []
        self.states: list[dict[str, Any]] = []
        self.client.publish = self._record  # type: ignore[method-assign]
        self.connected = True  # as if: what it publishes is recorded

    def _record(self, topic: str, payload: Any, qos: int = 0, retain: bool = False) -> None:
        body = json.loads(payload)
        if topic.endswith("/acks"):
            self.acks.append(body)
        elif topic.endswith("/state"):
            self.states.append(body)

    def _send_event(self, message: protocol.EventMessage) -> None:
        self.sent.append(message)

    def types(self) -> list[str]:
        return [e.type.value for e in self.sent]


@pytest.fixture
def bank() -> _Bank:
    fleet = Fleet(MqttTarget(host="127.0.0.1", port=1), keypad_max_attempts=3)
    spec = BankSpec(code="sim-11", compartments=[("A1", "chilled"), ("A2", "chilled")])
    return _Bank(fleet, spec)


def _deliver(bank: _Bank, body: dict[str, Any] | bytes) -> None:
    message = MQTTMessage(topic=b"lockers/sim-11/commands")
    message.payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    bank._on_message(bank.client, None, message)


def _body(kind: str, command_id: str, **args: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "v": 1,
        "command_id": command_id,
        "type": kind,
        "issued_at": protocol.utc_iso(now),
        "expires_at": protocol.utc_iso(now + timedelta(minutes=5)),
        "args": args,
    }


def _entry(parcel_id: int, label: str, code: str = CODE) -> dict[str, Any]:
    salt = protocol.new_salt()
    return {
        "parcel_id": parcel_id,
        "compartment": label,
        "salt": salt,
        "hash": protocol.locker_code_hash(code, salt_hex=salt, iterations=10),
        "iterations": 10,
        "expires_at": protocol.utc_iso(utcnow() + timedelta(hours=1)),
    }


def _holding(bank: _Bank, parcel_id: int = 7, label: str = "A1") -> None:
    bank.compartments[label].parcel_id = parcel_id
    _deliver(bank, _body("load_codes", f"load-{parcel_id}-0", codes=[_entry(parcel_id, label)]))


# --- commands: unknown v, unknown type, malformed ([L-4.5], [L-4.6], [L-7.5]) ---------------


def test_unknown_version_and_type_are_acked_unsupported_and_not_executed(bank: _Bank) -> None:
    _deliver(bank, {**_body("revoke_code", "cmd-v2-0001", parcel_id=1), "v": 2})
    _deliver(bank, _body("self_destruct", "cmd-type-001"))
    assert [(a["command_id"], a["error"], a["detail"]) for a in bank.acks] == [
        ("cmd-v2-0001", "unsupported", "v"),
        ("cmd-type-001", "unsupported", "type"),
    ]
    assert bank.executions == {}


def test_malformed_payloads_are_dropped_and_bad_entries_refuse_the_whole_command(
    bank: _Bank,
) -> None:
    _deliver(bank, b"not json")
    _deliver(bank, {"v": 1, "type": "load_codes"})  # no id: nothing to ack
    assert bank.acks == []
    good, bad = _entry(7, "A1"), {**_entry(8, "A2"), "salt": None}
    _deliver(bank, _body("load_codes", "cmd-bad-entry", codes=[good, bad]))
    assert bank.acks[-1]["error"] == "invalid" and bank.codes == {}  # nothing applied
    _deliver(bank, {**_body("revoke_code", "cmd-bad-time"), "expires_at": "soon"})
    assert bank.acks[-1]["error"] == "invalid" and "expires_at" in bank.acks[-1]["detail"]
    _deliver(bank, {**_body("revoke_code", "cmd-bad-time"), "expires_at": "soon"})
    assert len(bank.acks) == 3 and bank.acks[-1] == bank.acks[-2]  # same ack, once per id


def test_null_is_absent_and_unknown_fields_are_ignored(bank: _Bank) -> None:
    _deliver(bank, {**_body("replay_events", "cmd-null-001", from_seq=None), "extra": 1})
    assert bank.acks[-1]["status"] == "ok"


# --- openings ([L-7.6], [L-7.8]) ------------------------------------------------------------


def test_a_deposit_into_an_occupied_compartment_is_refused(bank: _Bank) -> None:
    bank.auto_close_s = None
    bank.compartments["A1"].unknown_parcel = True  # the sensor sees a parcel
    _deliver(bank, _body("open_compartment", "cmd-dep-occ", compartment="A1", purpose="deposit"))
    assert bank.acks[-1]["error"] == "occupied" and not bank.compartments["A1"].door_open
    _deliver(bank, _body("open_compartment", "cmd-ret-occ", compartment="A1", purpose="retrieve"))
    assert bank.acks[-1]["status"] == "ok" and bank.compartments["A1"].door_open


def test_a_jam_takes_the_compartment_out_until_set_out_of_service_false(bank: _Bank) -> None:
    bank.auto_close_s = None
    bank.compartments["A2"].jammed = True
    _deliver(bank, _body("open_compartment", "cmd-jam-0001", compartment="A2", purpose="operator"))
    assert bank.acks[-1]["error"] == "door_jammed" and bank.types() == ["door_jammed"]
    bank._publish_state()
    assert bank.states[-1]["compartments"]["A2"] == {
        "door": "jammed",
        "occupied": False,
        "out_of_service": True,
    }
    _deliver(bank, _body("set_out_of_service", "cmd-fix-0001", compartment="A2"))
    _deliver(
        bank,
        _body("set_out_of_service", "cmd-fix-0002", compartment="A2", out_of_service=False),
    )
    assert bank.acks[-1]["status"] == "ok" and not bank.compartments["A2"].jammed
    _deliver(bank, _body("open_compartment", "cmd-jam-0002", compartment="A2", purpose="operator"))
    assert bank.acks[-1]["status"] == "ok" and bank.compartments["A2"].door_open


# --- configure ([L-7.9]) ----------------------------------------------------------------------


def test_configure_applies_in_range_values_and_reports_them(bank: _Bank) -> None:
    _deliver(bank, _body("configure", "cmd-cfg-bad1", keypad_max_attempts=0, heartbeat_s=10))
    assert bank.acks[-1]["error"] == "invalid" and bank.heartbeat_s == 30
    _deliver(bank, _body("configure", "cmd-cfg-good", keypad_lockout_s=60))
    assert bank.acks[-1]["status"] == "ok"
    assert bank.states[-1]["keypad"]["lockout_s"] == 60
    assert bank.states[-1]["keypad"]["max_attempts"] == 3  # kept


# --- codes and the lockout ([L-9.4]-[L-9.9], [L-6.5]) ----------------------------------------


def test_pickup_events_come_as_opened_collected_closed(bank: _Bank) -> None:
    _holding(bank)
    assert bank._enter_code(CODE) == "opened:A1"
    assert bank.types() == ["door_opened", "parcel_collected", "door_closed"]
    assert [e.seq for e in bank.sent] == [1, 2, 3]
    assert all(e.parcel_id == 7 and e.compartment == "A1" for e in bank.sent)
    assert bank.sent[0].data == {"cause": "pickup"}
    assert bank.sent[2].data == {"parcel_present": False}


def test_tries_during_a_lockout_do_not_count_and_its_end_clears_the_counter(
    bank: _Bank,
) -> None:
    _holding(bank)
    assert [bank._enter_code("000000") for _ in range(3)] == ["rejected", "rejected", "locked"]
    assert bank.types() == ["code_rejected"] * 3 + ["keypad_locked"]
    assert bank.sent[0].data == {"failed_attempts": 1, "reason": "wrong_code"}
    assert bank._enter_code(CODE) == "locked"  # the right one too
    assert bank._enter_code("000000") == "locked"
    assert bank.failed_attempts == 3 and len(bank.sent) == 4  # not counted, no event
    bank.locked_until = utcnow() - timedelta(seconds=1)  # the lockout is over
    bank._publish_state()
    assert bank.states[-1]["keypad"]["failed_attempts"] == 0
    assert "locked_until" not in bank.states[-1]["keypad"]
    assert bank.types()[-1] == "keypad_unlocked"
    bank._publish_state()
    assert bank.types().count("keypad_unlocked") == 1
    assert bank._enter_code("000000") == "rejected" and bank.failed_attempts == 1
    assert bank._enter_code(CODE) == "opened:A1" and bank.failed_attempts == 0  # [L-9.8]


def test_a_right_code_whose_parcel_is_not_there_does_not_count(bank: _Bank) -> None:
    _deliver(bank, _body("load_codes", "cmd-load-0009", codes=[_entry(9, "A2")]))
    assert bank._enter_code(CODE) == "rejected:parcel_not_here"
    assert bank.failed_attempts == 0
    assert bank.sent[-1].type == protocol.EventType.CODE_REJECTED
    assert bank.sent[-1].data == {"failed_attempts": 0, "reason": "parcel_not_here"}


# --- replays ([L-7.10]) ------------------------------------------------------------------------


def test_replay_ranges_are_inclusive_and_to_seq_optional(bank: _Bank) -> None:
    for _ in range(5):
        bank._event(protocol.EventType.CODE_REJECTED, failed_attempts=0)
    first_ids = [e.event_id for e in bank.sent]
    bank.sent.clear()
    _deliver(bank, _body("replay_events", "cmd-replay-01", from_seq=2, to_seq=4))
    assert [e.seq for e in bank.sent] == [2, 3, 4]
    assert [e.event_id for e in bank.sent] == first_ids[1:4]
    assert bank.acks[-1]["result"] == {"replayed": 3, "oldest_available": 1}
    bank.sent.clear()
    _deliver(bank, _body("replay_events", "cmd-replay-02", from_seq=4))
    assert [e.seq for e in bank.sent] == [4, 5]


# --- the wire: timestamps, shutdown ([S-4.1], [L-4.3], [L-5.5]) -------------------------------


def test_every_timestamp_has_milliseconds(bank: _Bank) -> None:
    moment = datetime(2026, 12, 2, 8, 0, 1, 123456, tzinfo=UTC)
    payload = json.loads(
        protocol.command_payload(
            command_id="cmd-ts-000001",
            kind="load_codes",
            args={"codes": [protocol.CodeEntry(**{**_entry(1, "A1"), "expires_at": moment})]},
            issued_at=moment,
            expires_at=moment.replace(microsecond=0),
        )
    )
    assert payload["issued_at"] == "2026-12-02T08:00:01.123Z"
    assert payload["expires_at"] == "2026-12-02T08:00:01.000Z"
    assert protocol.utc_iso(moment.replace(tzinfo=None)) == "2026-12-02T08:00:01.123Z"
    bank._publish_state()
    bank._event(protocol.EventType.KEYPAD_UNLOCKED)
    _deliver(bank, _body("revoke_code", "cmd-ts-000002", parcel_id=1))
    stamps = [bank.states[-1]["ts"], bank.acks[-1]["ts"]]
    stamps.append(json.loads(bank.sent[-1].model_dump_json())["ts"])
    assert all(MS.fullmatch(stamp) for stamp in stamps), stamps


def test_the_shutdown_state_and_the_will_are_exact() -> None:
    assert protocol.offline_will("shutdown") == b'{"v":1,"online":false,"reason":"shutdown"}'
    assert protocol.offline_will() == b'{"v":1,"online":false,"reason":"connection_lost"}'


# --- the server: configure, heartbeat, replay lifetime ([S-7.4], [S-5.1], [S-7.2]) -----------


@pytest.fixture
def w(db: Session) -> World:
    return build_world(db, None)  # type: ignore[arg-type]


def _state(w: World, db: Session, at: datetime, **fields: Any) -> None:
    message = protocol.StateMessage(online=True, ts=at, **fields)
    ingest.handle_state(
        db_session=db, bank=w.bank, payload=message.model_dump_json().encode(), received_at=at
    )


def _configures(db: Session) -> list[LockerCommand]:
    kind = protocol.CommandType.CONFIGURE.value
    return list(db.scalars(select(LockerCommand).where(LockerCommand.kind == kind)))


def test_configure_is_sent_when_a_state_shows_other_settings(w: World, db: Session) -> None:
    wanted = settings_sync.wanted_settings()
    other = protocol.KeypadReport(max_attempts=9, lockout_s=wanted["keypad_lockout_s"])
    now = utcnow()
    _state(w, db, now, seq=1, connection=1, keypad=other)
    _state(w, db, now + timedelta(seconds=1), seq=2, connection=1, keypad=other)
    sent = _configures(db)
    assert [c.payload for c in sent] == [wanted]  # once while pending
    assert sent[0].expires_at - sent[0].created_at == timedelta(hours=24)
    sent[0].status = "acked"
    same = protocol.KeypadReport(
        max_attempts=wanted["keypad_max_attempts"], lockout_s=wanted["keypad_lockout_s"]
    )
    _state(w, db, now + timedelta(seconds=2), seq=3, connection=2, keypad=same)
    assert len(_configures(db)) == 1  # it runs the server's settings now


def test_a_locker_that_reports_no_settings_gets_configure_once_per_connection(
    w: World, db: Session
) -> None:
    now = utcnow()
    _state(w, db, now, seq=1, connection=1)
    _configures(db)[0].status = "acked"
    _state(w, db, now + timedelta(seconds=1), seq=2, connection=1)  # a heartbeat
    assert len(_configures(db)) == 1
    _state(w, db, now + timedelta(seconds=2), seq=3, connection=2)  # a reconnection
    assert len(_configures(db)) == 2


def test_a_slower_heartbeat_moves_the_offline_limit(
    w: World, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKERS_OFFLINE_AFTER_SECONDS", "90")
    settings_sync.get_locker_settings.cache_clear()
    now = utcnow()
    _state(w, db, now, seq=1, heartbeat_s=120)
    assert ingest.offline_silent_banks(db_session=db, now=now + timedelta(seconds=300)) == []
    later = now + timedelta(seconds=361)
    assert ingest.offline_silent_banks(db_session=db, now=later) == [w.bank.id]


def test_replay_events_lives_60_seconds(w: World, db: Session) -> None:
    now = utcnow()
    _state(w, db, now, seq=1, event_seq=0)
    _state(w, db, now, seq=2, event_seq=3)  # three events it never got
    event_seq.request_missing_events(db_session=db, now=now)
    event_seq.request_missing_events(db_session=db, now=now + timedelta(seconds=10))
    kind = protocol.CommandType.REPLAY_EVENTS.value
    replay = db.scalars(select(LockerCommand).where(LockerCommand.kind == kind)).one()
    assert replay.payload == {"from_seq": 1, "to_seq": 3}
    assert replay.expires_at - replay.created_at == timedelta(seconds=60)


def test_states_queued_on_a_dead_link_are_dropped_at_the_reconnection() -> None:
    """[L-5.4]: the fresh state of a new connection is not followed by older queued ones."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sim-11")
    client.publish("lockers/sim-11/state", b"{}", qos=1, retain=True)  # queued: not connected
    client.publish("lockers/sim-11/events", b"{}", qos=1)
    client.publish("lockers/sim-11/state", b"{}", qos=1, retain=True)
    assert drop_queued_states(client, "lockers/sim-11/state") == 2
    assert drop_queued_states(client, "lockers/sim-11/state") == 0
    assert drop_queued_states(client, "lockers/sim-11/events") == 1  # events are left alone


def test_the_server_configures_a_live_locker_and_it_obeys(
    world: World, online_bank: VirtualBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[S-7.4] + [L-7.9] over the broker: the server's keypad settings change, the next state
    shows the locker's old ones, `configure` goes out, the locker locks after 3 wrong codes."""
    assert online_bank.snapshot()["failed_attempts"] == 0
    monkeypatch.setenv("LOCKERS_KEYPAD_MAX_ATTEMPTS", "3")
    settings_sync.get_locker_settings.cache_clear()
    online_bank.publish_state()
    wait_for(lambda: online_bank.max_attempts == 3)
    with world.sessions() as db:
        kind = protocol.CommandType.CONFIGURE.value
        sent = db.scalars(select(LockerCommand).where(LockerCommand.kind == kind)).one()
        assert sent.payload["keypad_max_attempts"] == 3
    results = [online_bank.enter_code("000000") for _ in range(3)]
    assert results == ["rejected", "rejected", "locked"]
