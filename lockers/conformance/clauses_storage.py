"""Clauses of §10: a restart with intact storage, and a storage loss with its recovery.

The storage-loss scenario (a parcel deposited, the controller wiped, back online) is played
once and judged by L-10.1 and L-10.3.
"""

from typing import Any

from lockers.conformance.link import Received
from lockers.conformance.runner import ClauseFailed, Suite, clause, expect


def restart(suite: Suite, *, keep_storage: bool, clean: bool) -> tuple[Received, Received]:
    """Restart the controller; (the last state before, the first state after)."""
    before = suite.link.latest_state()
    expect(before is not None, "no state before the restart")
    assert before is not None
    mark = suite.link.mark()
    suite.act("restart", keep_storage=keep_storage, clean=clean)
    after = suite.link.wait_state(
        lambda m: (
            m.get("online") is True
            and (
                m.get("connection") != before.get("connection")
                or m.get("storage_id") != before.get("storage_id")
            )
        ),
        after=mark,
        timeout=suite.options.will_timeout_s,
    )
    expect(after is not None, "no state after the restart")
    assert after is not None
    if keep_storage:
        connections = (before.get("connection"), after.get("connection"))
        suite.notes.setdefault("connections", []).append(connections)
    return before, after


@clause("L-10.2", "a restart with intact storage keeps ids, counters, codes, executed commands")
def intact_restart(suite: Suite) -> None:
    label, parcel_id, code = suite.parcel_with_code()
    body = suite.link.command_body("configure", {})
    mark = suite.link.mark()
    suite.link.publish(body)
    first = suite.link.wait_ack(body["command_id"], after=mark, timeout=suite.options.timeout_s)
    expect(first is not None, "no ack to configure")
    before, after = restart(suite, keep_storage=True, clean=False)
    expect(
        after.get("storage_id") == before.get("storage_id"),
        "the storage_id changed across a restart that kept the storage",
    )
    expect(after.get("seq", 0) > before.get("seq", 0), "the state seq went back after a restart")
    last_event = max(
        (e.get("seq") for e in suite.link.events_since(suite.epoch_marks[-1])), default=0
    )
    expect(
        after.get("event_seq") == last_event,
        f"event_seq is {after.get('event_seq')} after a restart, the last event was {last_event}",
    )
    keypad = after.get("keypad") or {}
    expect(keypad.get("max_attempts") == 20, "the keypad settings were lost in the restart")
    mark = suite.link.mark()
    suite.link.publish(body)
    again = suite.link.wait_ack(body["command_id"], after=mark, timeout=suite.options.timeout_s)
    expect(again is not None, "no ack to a command re-sent after the restart")
    assert again is not None and first is not None
    expect(again.body == first.body, "a command executed before the restart got a new ack")
    suite.expect_pickup(suite.type_code(code), label, parcel_id, "keypad")


def _storage_loss(suite: Suite) -> dict[str, Any]:
    """Deposit a parcel, wipe the controller's storage, watch it come back (shared scenario)."""
    if "storage_loss" in suite.notes:
        if "after" not in suite.notes["storage_loss"]:
            raise ClauseFailed("the storage-loss scenario did not complete (see L-10.1)")
        return suite.notes["storage_loss"]  # type: ignore[no-any-return]
    notes: dict[str, Any] = {}
    suite.notes["storage_loss"] = notes
    label, parcel_id = suite.compartment(), suite.new_parcel()
    notes["entry_code"] = suite.new_code()
    notes["entry"] = suite.code_entry(parcel_id, label, notes["entry_code"])
    suite.call_ok("load_codes", {"codes": [notes["entry"]]})
    suite.deposit(label, parcel_id)
    notes.update(label=label, parcel_id=parcel_id)
    suite.pinned.add(label)
    notes["before"], notes["after"] = restart(suite, keep_storage=False, clean=False)
    suite.epoch_marks.append(notes["after"].index)  # the new storage's first message
    suite.configure_suite()  # as the server does for a new storage
    return notes


@clause("L-10.1", "after a storage loss: new storage_id, counters from 0, codes refused")
def storage_loss(suite: Suite) -> None:
    notes = _storage_loss(suite)
    before, after, label = notes["before"], notes["after"], notes["label"]
    expect(
        after.get("storage_id") not in (None, before.get("storage_id")),
        "the storage_id did not change when the storage was lost",
    )
    expect(after.get("event_seq") == 0, f"event_seq is {after.get('event_seq')} after a wipe")
    expect(after.get("seq") in (0, 1), f"the first state after a wipe has seq {after.get('seq')}")
    expect(after.get("connection") == 1, f"connection is {after.get('connection')} after a wipe")
    report = (after.get("compartments") or {}).get(label) or {}
    expect(report.get("occupied") is True, f"{label} holds a parcel but reports occupied: false")
    suite.call_ok("load_codes", {"codes": [notes["entry"]]})
    mark = suite.type_code(notes["entry_code"])
    suite.rejected(mark, "parcel_not_here")
    suite.expect_refused(mark, "set_contents had not named the parcel yet")
    first = suite.link.events_since(suite.epoch_marks[-1])
    expect(
        first and first[0].get("seq") == 1,
        f"the first event after the wipe has seq {first[0].get('seq') if first else None}",
    )


@clause("L-10.3", "set_contents restores an occupied compartment; its code then opens it")
def restore_contents(suite: Suite) -> None:
    notes = _storage_loss(suite)
    label, parcel_id = notes["label"], notes["parcel_id"]
    empty = suite.compartment()
    ack = suite.call_ok(
        "set_contents",
        {
            "compartments": [
                {"compartment": label, "parcel_id": parcel_id},
                {"compartment": empty, "parcel_id": parcel_id + 1},
            ]
        },
    )
    result = ack.get("result") or {}
    expect(
        result == {"restored": 1, "empty": [empty], "conflicting": []},
        f"set_contents answered {result}",
    )
    suite.call_ok("load_codes", {"codes": [notes["entry"]]})
    mark = suite.type_code(notes["entry_code"])
    suite.expect_pickup(mark, label, parcel_id, "keypad")
