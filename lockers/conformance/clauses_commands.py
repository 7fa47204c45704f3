"""Clauses of §4 (common rules for commands) and §7 (commands)."""

import json
from datetime import timedelta
from typing import Any

from lockers import protocol
from lockers.conformance.link import utc_now
from lockers.conformance.runner import Suite, clause, expect


def _operator_open(suite: Suite, label: str, **kw: Any) -> dict[str, Any]:
    return suite.link.command_body(
        "open_compartment", {"compartment": label, "purpose": "operator"}, **kw
    )


def _close(suite: Suite, label: str) -> None:
    suite.act("close_door", compartment=label, parcel_present=label in suite.holding)


def _acks_of(suite: Suite, command_id: Any, after: int) -> list[Any]:
    return [a for a in suite.link.since(after, "acks") if a.get("command_id") == command_id]


@clause("L-4.2", "fields the locker does not know are ignored")
def unknown_fields(suite: Suite) -> None:
    label = suite.compartment()
    body = suite.link.command_body(
        "set_out_of_service",
        {"compartment": label, "out_of_service": False, "future_arg": [1, {"x": 2}]},
    )
    body["future_field"] = {"anything": "at all"}
    mark = suite.link.mark()
    suite.link.publish(body)
    ack = suite.link.wait_ack(body["command_id"], after=mark, timeout=suite.options.timeout_s)
    expect(
        ack is not None and ack.get("status") == "ok", "a command with extra fields not acked ok"
    )


@clause("L-4.4", "null in a command is treated as absent")
def null_is_absent(suite: Suite) -> None:
    label = suite.compartment()
    mark = suite.link.mark()
    suite.call_ok(
        "open_compartment", {"compartment": label, "purpose": "operator", "parcel_id": None}
    )
    suite.event("door_opened", after=mark, compartment=label)
    _close(suite, label)
    suite.call_ok("configure", {"heartbeat_s": None, "keypad_max_attempts": None})
    suite.call_ok("replay_events", {"from_seq": 1, "to_seq": None}, lifetime_s=60)


@clause("L-4.5", "a command with an unknown v is not executed; acked unsupported (detail v)")
def unknown_version(suite: Suite) -> None:
    label = suite.compartment()
    body = _operator_open(suite, label)
    body["v"] = 99
    mark = suite.link.mark()
    suite.link.publish(body)
    ack = suite.link.wait_ack(body["command_id"], after=mark, timeout=suite.options.timeout_s)
    suite.no_event(("door_opened",), after=mark, why="the command had v: 99")
    expect(ack is not None, "no ack to a command with v: 99")
    assert ack is not None
    expect(
        ack.get("status") == "error"
        and ack.get("error") == "unsupported"
        and ack.get("detail") == "v",
        f"v: 99 acked {ack.raw!r}",
    )


@clause("L-4.6", "malformed: dropped without ack, or not executed at all and acked invalid")
def malformed(suite: Suite) -> None:
    mark = suite.link.mark()
    for junk in (
        b"not json at all",
        b"[1, 2, 3]",
        b"\xff\xfe\x00",
        json.dumps({"v": 1, "type": "configure", "args": {}}).encode(),
        json.dumps({"v": 1, "command_id": "short", "type": "configure"}).encode(),
    ):
        suite.link.publish(junk)
    suite.call_ok("configure", {})
    stray = [a for a in suite.link.since(mark, "acks") if a.get("command_id") in (None, "short")]
    expect(not stray, "a payload with no readable command_id was acked")
    label, parcel_id = suite.compartment(), suite.new_parcel()
    suite.deposit(label, parcel_id)
    code = suite.new_code()
    good = suite.code_entry(parcel_id, label, code)
    bad = dict(suite.code_entry(parcel_id + 1, label, code), salt="not hex", iterations="many")
    ack = suite.call_error("load_codes", {"codes": [good, bad]}, "invalid")
    expect(ack.get("detail"), "the invalid ack does not name the offending field in detail")
    mark = suite.type_code(code)
    suite.expect_refused(mark, "the load_codes with a malformed entry was applied in part")
    for body in (
        suite.link.command_body("open_compartment", {"compartment": label, "purpose": "x"}),
        dict(suite.link.command_body("configure", {}), expires_at="tomorrow"),
    ):
        mark = suite.link.mark()
        suite.link.publish(body)
        answer = suite.link.wait_ack(
            body["command_id"], after=mark, timeout=suite.options.timeout_s
        )
        expect(
            answer is not None and answer.get("error") == "invalid",
            f"a malformed {body['type']} was not acked invalid",
        )


@clause("L-7.1", "a command re-sent with the same id is not executed again; the same ack")
def once_per_id(suite: Suite) -> None:
    label = suite.compartment()
    body = _operator_open(suite, label)
    mark = suite.link.mark()
    suite.link.publish(body)
    first = suite.link.wait_ack(body["command_id"], after=mark, timeout=suite.options.timeout_s)
    expect(first is not None, "no ack to the first delivery")
    assert first is not None
    suite.event("door_opened", after=mark, compartment=label)
    _close(suite, label)
    suite.link.publish(body, qos=1)
    again = suite.link.wait_ack(
        body["command_id"], after=first.index + 1, timeout=suite.options.timeout_s
    )
    expect(again is not None, "no ack to the re-sent command")
    assert again is not None
    expect(again.body == first.body, "the re-sent command's ack differs from the first one")
    opened = [
        e
        for e in suite.link.events_since(mark, "door_opened")
        if e.get("command_id") == body["command_id"]
    ]
    expect(len(opened) == 1, f"the door opened {len(opened)} times for one command id")


@clause("L-7.2", "a command past expires_at is not executed; acked expired")
def expired(suite: Suite) -> None:
    label = suite.compartment()
    body = _operator_open(suite, label)
    issued = utc_now() - timedelta(minutes=10)
    body["issued_at"] = protocol.utc_iso(issued)
    body["expires_at"] = protocol.utc_iso(issued + timedelta(minutes=2))
    mark = suite.link.mark()
    suite.link.publish(body)
    ack = suite.link.wait_ack(body["command_id"], after=mark, timeout=suite.options.timeout_s)
    expect(ack is not None, "no ack to an expired command")
    assert ack is not None
    expect(
        ack.get("status") == "error" and ack.get("error") == "expired",
        f"an expired command acked {ack.get('status')}/{ack.get('error')}",
    )
    suite.no_event(("door_opened",), after=mark, why="the opening had expired")


@clause("L-7.3", "one ack per command, before the events it causes")
def ack_first(suite: Suite) -> None:
    label = suite.compartment()
    mark = suite.link.mark()
    ack = suite.call_ok("open_compartment", {"compartment": label, "purpose": "operator"})
    opened = suite.event("door_opened", after=mark, compartment=label)
    _close(suite, label)
    expect(ack.index < opened.index, "door_opened arrived before the command's ack")
    expect(opened.get("command_id") == ack.get("command_id"), "door_opened lacks the command_id")
    expect((opened.get("data") or {}).get("cause") == "operator", "door_opened cause not operator")
    suite.settle()  # let any second ack arrive
    count = len(_acks_of(suite, ack.get("command_id"), mark))
    expect(count == 1, f"{count} acks for one command")


@clause("L-7.4", "commands are executed in the order received")
def in_order(suite: Suite) -> None:
    label = suite.compartment()
    bodies = [
        suite.link.command_body("set_out_of_service", {"compartment": label, "out_of_service": v})
        for v in (True, False)
    ] + [_operator_open(suite, label)]
    mark = suite.link.mark()
    for body in bodies:
        suite.link.publish(body)
    acks = [suite.link.wait_ack(b["command_id"], after=mark) for b in bodies]
    expect(all(a is not None for a in acks), "not every command was acked")
    order = [a.index for a in acks if a is not None]
    expect(order == sorted(order), "the acks came in another order than the commands")
    expect(acks[2] is not None and acks[2].get("status") == "ok", "the opening after it failed")
    suite.event("door_opened", after=mark, compartment=label)
    _close(suite, label)


@clause("L-7.5", "an unknown command type is acked unsupported")
def unknown_type(suite: Suite) -> None:
    suite.call_error("calibrate_flux", {}, "unsupported")


@clause("L-7.6", "openings refused: unknown_compartment, out_of_service, occupied deposit")
def refused_openings(suite: Suite) -> None:
    suite.call_error(
        "open_compartment", {"compartment": "ZZ99", "purpose": "operator"}, "unknown_compartment"
    )
    label = suite.compartment()
    suite.call_ok("set_out_of_service", {"compartment": label, "out_of_service": True})
    mark = suite.link.mark()
    suite.call_error(
        "open_compartment", {"compartment": label, "purpose": "operator"}, "out_of_service"
    )
    suite.no_event(("door_opened",), after=mark, why="the compartment is out of service")
    suite.call_ok("set_out_of_service", {"compartment": label, "out_of_service": False})
    parcel_id = suite.new_parcel()
    suite.deposit(label, parcel_id)
    mark = suite.link.mark()
    suite.call_error(
        "open_compartment",
        {"compartment": label, "purpose": "deposit", "parcel_id": parcel_id + 1},
        "occupied",
    )
    suite.no_event(("door_opened",), after=mark, why="the compartment already held a parcel")
    suite.call_ok("open_compartment", {"compartment": label, "purpose": "operator"})
    suite.event("door_opened", after=mark, compartment=label, parcel_id=parcel_id)
    _close(suite, label)


@clause("L-7.8", "set_out_of_service refuses codes; false clears a jam")
def out_of_service(suite: Suite) -> None:
    label, parcel_id, code = suite.parcel_with_code()
    suite.call_ok("set_out_of_service", {"compartment": label, "out_of_service": True})
    mark = suite.type_code(code)
    suite.expect_refused(mark, "the compartment was out of service")
    suite.call_ok("set_out_of_service", {"compartment": label, "out_of_service": False})
    mark = suite.type_code(code)
    suite.expect_pickup(mark, label, parcel_id, "keypad")
    suite.act("jam_door", compartment=label, jammed=True)
    try:
        mark = suite.link.mark()
        ack = suite.call_error(
            "open_compartment", {"compartment": label, "purpose": "operator"}, "door_jammed"
        )
        jammed = suite.event("door_jammed", after=mark, compartment=label)
        expect(jammed.get("command_id") == ack.get("command_id"), "door_jammed lacks command_id")
        suite.state(after=mark, predicate=lambda m: _report(m, label) == ("jammed", True))
    finally:
        suite.act("jam_door", compartment=label, jammed=False)
    mark = suite.link.mark()
    suite.call_ok("set_out_of_service", {"compartment": label, "out_of_service": False})
    suite.state(after=mark, predicate=lambda m: _report(m, label) == ("closed", False))


def _report(state: Any, label: str) -> tuple[Any, Any]:
    report = (state.get("compartments") or {}).get(label) or {}
    return report.get("door"), report.get("out_of_service")


@clause("L-7.9", "configure applies in-range settings, refuses others, shows them in state")
def configure(suite: Suite) -> None:
    lockout = int(suite.options.lockout_s)
    mark = suite.link.mark()
    suite.call_ok("configure", {"keypad_max_attempts": 7})
    suite.state(
        after=mark,
        predicate=lambda m: (
            (m.get("keypad") or {}).get("max_attempts") == 7
            and (m.get("keypad") or {}).get("lockout_s") == lockout
        ),
    )
    mark = suite.link.mark()
    for bad in (
        {"keypad_max_attempts": 0, "heartbeat_s": 60},
        {"keypad_max_attempts": 9, "heartbeat_s": 4},
        {"keypad_max_attempts": 9, "keypad_lockout_s": "9"},
        {"keypad_max_attempts": 21},
    ):
        suite.call_error("configure", bad, "invalid")
    state = suite.state(after=suite.link.mark())
    expect(
        (state.get("keypad") or {}).get("max_attempts") == 7
        and state.get("heartbeat_s") == suite.options.heartbeat_s,
        "a configure acked invalid changed a setting",
    )
    mark = suite.link.mark()
    suite.call_ok("configure", {"keypad_max_attempts": 20})
    state = suite.state(
        after=mark, predicate=lambda m: (m.get("keypad") or {}).get("max_attempts") == 20
    )
    expect(state.get("heartbeat_s") == suite.options.heartbeat_s, "heartbeat_s changed")


@clause("L-7.10", "replay_events: inclusive range, in order, same ids; replayed, oldest")
def replay(suite: Suite) -> None:
    seen = {
        e.get("seq"): e.body
        for e in suite.link.since(suite.epoch_marks[-1], "events")
        if isinstance(e.get("seq"), int)
    }
    expect(len(seen) >= 3, "fewer than three events seen to replay")
    low, high = sorted(seen)[-3], max(seen)
    mark = suite.link.mark()
    ack = suite.call_ok("replay_events", {"from_seq": low, "to_seq": high}, lifetime_s=60)
    result = ack.get("result") or {}
    expect(result.get("replayed") == high - low + 1, f"replayed {result.get('replayed')} events")
    oldest = result.get("oldest_available")
    expect(isinstance(oldest, int) and oldest <= min(seen), f"oldest_available is {oldest}")
    suite.settle()  # let the replay arrive
    again = [e for e in suite.link.events_since(mark) if isinstance(e.get("seq"), int)]
    expect([e.get("seq") for e in again] == list(range(low, high + 1)), "replayed seqs differ")
    for event in again:
        expect(event.body == seen[event.get("seq")], f"replayed seq {event.get('seq')} differs")
    mark = suite.link.mark()
    ack = suite.call_ok("replay_events", {"from_seq": high}, lifetime_s=60)
    expect((ack.get("result") or {}).get("replayed") == 1, "a replay without to_seq: not 1 event")


@clause("L-7.11", "set_contents: restored, empty and conflicting")
def set_contents(suite: Suite) -> None:
    label, parcel_id = suite.compartment(), suite.new_parcel()
    suite.deposit(label, parcel_id)
    empty = suite.compartment()
    ack = suite.call_ok(
        "set_contents",
        {
            "compartments": [
                {"compartment": label, "parcel_id": parcel_id + 1},
                {"compartment": empty, "parcel_id": parcel_id + 2},
            ]
        },
    )
    result = ack.get("result") or {}
    expect(
        result == {"restored": 0, "empty": [empty], "conflicting": [label]},
        f"set_contents answered {result}",
    )
    ack = suite.call_ok(
        "set_contents", {"compartments": [{"compartment": label, "parcel_id": parcel_id}]}
    )
    expect((ack.get("result") or {}).get("restored") == 1, "the parcel it holds not restored")
