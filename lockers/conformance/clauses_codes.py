"""Clauses of §9 (pickup codes, QR codes and the keypad lockout) and L-7.7 (code commands)."""

import time
from datetime import datetime

from lockers import protocol
from lockers.conformance.link import utc_now
from lockers.conformance.runner import Suite, clause, expect


@clause("L-9.1", "the right code opens the compartment holding its parcel; entry deleted")
def keypad_pickup(suite: Suite) -> None:
    label, parcel_id, code = suite.parcel_with_code()
    mark = suite.type_code(code)
    suite.expect_pickup(mark, label, parcel_id, "keypad")
    mark = suite.type_code(code)
    suite.rejected(mark, "wrong_code")
    suite.expect_refused(mark, "the code had already been used")


@clause("L-6.5", "a pickup: door_opened, parcel_collected, door_closed, consecutive")
def pickup_events(suite: Suite) -> None:
    label, parcel_id, code = suite.parcel_with_code()
    events = suite.expect_pickup(suite.type_code(code), label, parcel_id, "keypad")
    kinds = [e.get("type") for e in events]
    expect(
        kinds[-3:] == ["door_opened", "parcel_collected", "door_closed"],
        f"the pickup's events were {kinds}, not door_opened, parcel_collected, door_closed",
    )
    seqs = [e.get("seq") for e in events[-3:]]
    expect(seqs == list(range(seqs[0], seqs[0] + 3)), f"the pickup's events are seq {seqs}")
    opened, _collected, closed = events[-3:]
    expect(
        (opened.get("data") or {}).get("cause") == "pickup"
        and opened.get("parcel_id") == parcel_id,
        "the pickup's door_opened lacks cause pickup or the parcel_id",
    )
    expect(closed.get("parcel_id") == parcel_id, "the pickup's door_closed lacks the parcel_id")


@clause("L-9.2", "an expired entry opens nothing (a wrong code)")
def expired_entry(suite: Suite) -> None:
    label, parcel_id = suite.compartment(), suite.new_parcel()
    code = suite.load_code(parcel_id, label, lifetime_s=-60)
    suite.deposit(label, parcel_id)
    mark = suite.type_code(code)
    suite.rejected(mark, "wrong_code")
    suite.expect_refused(mark, "the code's entry had expired")


@clause("L-9.3", "a QR code is checked against its parcel's entry only")
def qr_code(suite: Suite) -> None:
    label, parcel_id, code = suite.parcel_with_code()
    for text in (
        protocol.qr_payload(bank_code=suite.bank + "x", parcel_id=parcel_id, code=code),
        protocol.qr_payload(bank_code=suite.bank, parcel_id=parcel_id + 1, code=code),
        protocol.qr_payload(bank_code=suite.bank, parcel_id=parcel_id, code=suite.wrong(code)),
    ):
        mark = suite.link.mark()
        suite.act("scan_qr", text=text)
        suite.rejected(mark, "wrong_code")
        suite.expect_refused(mark, f"the QR {text} was not this parcel's")
    mark = suite.link.mark()
    suite.act(
        "scan_qr", text=protocol.qr_payload(bank_code=suite.bank, parcel_id=parcel_id, code=code)
    )
    suite.expect_pickup(mark, label, parcel_id, "qr")


@clause("L-9.4", "a wrong code counts: code_rejected, failed_attempts + 1, wrong_code")
def wrong_code(suite: Suite) -> None:
    _label, _parcel_id, code = suite.parcel_with_code()
    first = suite.rejected(suite.type_code(suite.wrong(code)), "wrong_code")
    mark = suite.type_code(suite.wrong(code, 2))
    second = suite.rejected(mark, "wrong_code")
    suite.expect_refused(mark, "the code was wrong")
    counts = [int((e.get("data") or {}).get("failed_attempts") or 0) for e in (first, second)]
    expect(counts[1] == counts[0] + 1, f"failed_attempts went {counts[0]} -> {counts[1]}")


@clause("L-9.8", "a successful pickup resets failed_attempts")
def success_resets(suite: Suite) -> None:
    label, parcel_id, code = suite.parcel_with_code()
    suite.rejected(suite.type_code(suite.wrong(code)), "wrong_code")
    suite.expect_pickup(suite.type_code(code), label, parcel_id, "keypad")
    after = suite.rejected(suite.type_code(suite.wrong(code)), "wrong_code")
    count = (after.get("data") or {}).get("failed_attempts")
    expect(count == 1, f"after a pickup the next wrong code made failed_attempts {count}, not 1")


@clause("L-9.9", "a right code whose parcel is not there: parcel_not_here, not counted")
def parcel_not_here(suite: Suite) -> None:
    label, parcel_id = suite.compartment(), suite.new_parcel()
    code = suite.load_code(parcel_id, label)
    before = suite.rejected(suite.type_code(suite.wrong(code)), "wrong_code")
    mark = suite.type_code(code)
    refused = suite.rejected(mark, "parcel_not_here")
    suite.expect_refused(mark, "the parcel was never deposited")
    counts = [(e.get("data") or {}).get("failed_attempts") for e in (before, refused)]
    expect(counts[0] == counts[1], f"parcel_not_here counted: {counts[0]} -> {counts[1]}")
    suite.call_ok("revoke_code", {"parcel_id": parcel_id})


@clause("L-7.7", "load_codes adds and replaces by parcel; revoke_code forgets (ok if none)")
def code_commands(suite: Suite) -> None:
    label, parcel_id, old = suite.parcel_with_code()
    new = suite.load_code(parcel_id, label)
    while new == old:
        new = suite.load_code(parcel_id, label)
    mark = suite.type_code(old)
    suite.rejected(mark, "wrong_code")
    suite.expect_refused(mark, "the parcel's code had been replaced")
    suite.call_ok("revoke_code", {"parcel_id": parcel_id})
    mark = suite.type_code(new)
    suite.expect_refused(mark, "the code was revoked")
    suite.call_ok("revoke_code", {"parcel_id": parcel_id})  # none left: still ok
    suite.call_ok("load_codes", {"codes": [suite.code_entry(parcel_id, label, new)]})
    suite.expect_pickup(suite.type_code(new), label, parcel_id, "keypad")


def _lock(suite: Suite, code: str, attempts: int) -> int:
    """Type wrong codes until the keypad locks (at most `attempts` + 1); the tries it took."""
    for typed in range(1, attempts + 2):
        mark = suite.type_code(suite.wrong(code, 7))
        suite.rejected(mark, "wrong_code")
        locked = suite.link.wait_event("keypad_locked", after=mark, timeout=0.5)
        if locked is not None:
            suite.notes["locked"] = locked
            return typed
    return attempts + 2


@clause("L-9.5", "max_attempts wrong codes lock the keypad: keypad_locked, locked_until")
def lockout(suite: Suite) -> None:
    attempts = 3
    suite.call_ok("configure", {"keypad_max_attempts": attempts})
    try:
        label, parcel_id, code = suite.parcel_with_code()
        suite.expect_pickup(suite.type_code(code), label, parcel_id, "keypad")  # counter at 0
        label, parcel_id, code = suite.parcel_with_code()
        suite.notes["lockout_parcel"] = (label, parcel_id, code)
        suite.pinned.add(label)
        mark = suite.link.mark()
        typed = _lock(suite, code, attempts)
        expect(typed == attempts, f"the keypad locked after {typed} wrong codes, not {attempts}")
        locked = suite.notes["locked"]
        rejected = suite.link.events_since(mark, "code_rejected")[-1]
        expect(locked.get("seq") == rejected.get("seq") + 1, "keypad_locked not right after")
        data = locked.get("data") or {}
        expect(isinstance(data.get("until"), str), "keypad_locked lacks data.until")
        expect(data.get("failed_attempts") == attempts, "keypad_locked failed_attempts wrong")
        suite.state(
            after=locked.index,
            predicate=lambda m: bool((m.get("keypad") or {}).get("locked_until")),
        )
    finally:
        suite.call_ok("configure", {"keypad_max_attempts": 20})


@clause("L-9.6", "while locked every code is refused, not counted, no code_rejected")
def while_locked(suite: Suite) -> None:
    if "locked" not in suite.notes:
        lockout(suite)  # its scenario (run alone, e.g. --only L-9.6)
    label, parcel_id, code = suite.notes["lockout_parcel"]
    until = datetime.fromisoformat(str((suite.notes["locked"].get("data") or {}).get("until")))
    mark = suite.type_code(code)
    suite.act(
        "scan_qr", text=protocol.qr_payload(bank_code=suite.bank, parcel_id=parcel_id, code=code)
    )
    suite.expect_refused(mark, "the keypad was locked")
    expect(not suite.link.events_since(mark, "code_rejected"), "code_rejected while locked")
    state = suite.state(after=mark)
    keypad = state.get("keypad") or {}
    if keypad.get("locked_until"):  # (else the lockout ended before the next state)
        expect(keypad.get("failed_attempts") == 3, "tries while locked were counted")
        expect(
            datetime.fromisoformat(str(keypad.get("locked_until"))) == until,
            "tries while locked moved locked_until",
        )


@clause("L-9.7", "the lockout's end clears the counter and locked_until, one keypad_unlocked")
def lockout_end(suite: Suite) -> None:
    if "locked" not in suite.notes:
        lockout(suite)
    label, parcel_id, code = suite.notes["lockout_parcel"]
    locked = suite.notes["locked"]
    until = datetime.fromisoformat(str((locked.get("data") or {}).get("until")))
    time.sleep(max(0.0, (until - utc_now()).total_seconds()) + 0.3)
    mark = locked.index
    suite.expect_pickup(suite.type_code(code), label, parcel_id, "keypad")
    unlocked = suite.link.events_since(mark, "keypad_unlocked")
    expect(len(unlocked) == 1, f"{len(unlocked)} keypad_unlocked after one lockout")
    state = suite.state(after=unlocked[0].index)
    keypad = state.get("keypad") or {}
    expect(keypad.get("failed_attempts") == 0, "failed_attempts not 0 after the lockout")
    expect(keypad.get("locked_until") is None, "locked_until still set after the lockout")
    for earlier in suite.link.since(suite.start_mark, "state"):
        shown = (earlier.get("keypad") or {}).get("locked_until")
        if shown and earlier.get("ts"):
            expect(str(shown) > str(earlier.get("ts")), "a state showed a past locked_until")
