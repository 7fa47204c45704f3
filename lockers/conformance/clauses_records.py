"""Clauses judged over everything the locker published during the run (§4, §6, §8), after the
other clauses, plus L-6.3 (offline buffering, from the link-cut scenario)."""

import re
from typing import Any

from lockers.conformance.clauses_transport import link_cut
from lockers.conformance.link import Received
from lockers.conformance.runner import ClauseFailed, Suite, clause, expect

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MAX_BYTES = 64 * 1024
ACK_ERRORS = {
    "unknown_compartment",
    "door_jammed",
    "out_of_service",
    "occupied",
    "expired",
    "invalid",
    "unsupported",
}
# event type -> (required top-level fields, required data fields)
EVENT_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "door_opened": (("compartment",), ("cause",)),
    "door_closed": (("compartment",), ("parcel_present",)),
    "parcel_collected": (("compartment", "parcel_id"), ("method",)),
    "code_rejected": ((), ("failed_attempts", "reason")),
    "keypad_locked": ((), ("until", "failed_attempts")),
    "keypad_unlocked": ((), ()),
    "door_jammed": (("compartment",), ()),
    "temperature": ((), ("zone", "temp_c")),
    "resync_requested": ((), ("reason",)),
}


def _published(suite: Suite) -> list[Received]:
    return [
        m for m in suite.link.since(suite.start_mark) if m.channel in ("state", "events", "acks")
    ]


def _timestamps(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every (path, value) of a field named ts / until / locked_until / *_at, nested."""
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else key
            if key in ("ts", "until", "locked_until") or key.endswith("_at"):
                if inner is not None:
                    found.append((here, inner))
            else:
                found.extend(_timestamps(inner, here))
    return found


@clause("L-4.1", "every message: one JSON object, UTF-8, at most 64 KiB, v: 1", last=True)
def json_objects(suite: Suite) -> None:
    for message in _published(suite):
        where = f"a {message.channel} message"
        expect(len(message.raw) <= MAX_BYTES, f"{where} is {len(message.raw)} bytes")
        try:
            message.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ClauseFailed(f"{where} is not UTF-8") from exc
        expect(message.body is not None, f"{where} is not a JSON object: {message.raw[:60]!r}")
        expect(message.get("v") == 1, f"{where} lacks v: 1: {message.raw[:80]!r}")


@clause("L-4.3", "every timestamp: RFC 3339 UTC, Z, three fraction digits", last=True)
def timestamps(suite: Suite) -> None:
    for message in _published(suite):
        for path, value in _timestamps(message.body):
            expect(
                isinstance(value, str) and TIMESTAMP.match(value),
                f"{message.channel} {path} {value!r} is not like 2026-11-24T03:00:12.345Z",
            )


@clause("L-6.1", "event ids unique; seq 1, 2, 3... without gaps (per storage)", last=True)
def event_numbering(suite: Suite) -> None:
    ids: dict[str, tuple[int, int]] = {}
    bounds = [*suite.epoch_marks, 1 << 62]
    for epoch, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        by_seq: dict[int, str] = {}
        for event in suite.link.since(start, "events"):
            if event.index >= end:
                break
            seq, event_id = event.get("seq"), event.get("event_id")
            expect(isinstance(seq, int) and isinstance(event_id, str), "an event lacks seq/id")
            if by_seq.get(seq, event_id) != event_id:
                raise ClauseFailed(f"two different events numbered seq {seq}")
            if ids.get(event_id, (epoch, seq)) != (epoch, seq):
                raise ClauseFailed(f"event_id {event_id} used for two events")
            by_seq[seq] = event_id
            ids[event_id] = (epoch, seq)
        if by_seq:
            missing = sorted(set(range(min(by_seq), max(by_seq) + 1)) - set(by_seq))
            expect(not missing, f"event seq gaps: {missing[:10]}")
            expect(epoch == 0 or min(by_seq) == 1, "a new storage's events do not start at 1")


@clause("L-6.2", "events are kept for replays (from the start of the run)", last=True)
def events_kept(suite: Suite) -> None:
    seqs = [
        e.get("seq")
        for e in suite.link.since(suite.epoch_marks[-1], "events")
        if isinstance(e.get("seq"), int)
    ]
    expect(seqs, "no event seen since the last storage began")
    low, high = min(seqs), max(seqs)
    ack = suite.call_ok("replay_events", {"from_seq": low, "to_seq": high}, lifetime_s=60)
    result = ack.get("result") or {}
    expect(result.get("replayed") == high - low + 1, f"replayed {result.get('replayed')}")
    expect(result.get("oldest_available", high + 1) <= low, "events of this run were dropped")


@clause("L-6.3", "offline: events buffered, sent after the state, in seq order")
def offline_buffer(suite: Suite) -> None:
    notes = link_cut(suite)
    back = notes.get("back")
    if not isinstance(back, Received):
        raise ClauseFailed("the link-cut scenario saw no reconnection")
    resumed = notes.get("resumed_events") or []
    rejected = [e for e in resumed if e.get("type") == "code_rejected"]
    expect(rejected, "the code typed while offline produced no code_rejected after reconnecting")
    expect(all(e.index > back.index for e in rejected), "a buffered event came before the state")
    seqs = [e.get("seq") for e in resumed]
    expect(seqs == sorted(seqs), f"buffered events out of seq order: {seqs}")


@clause("L-6.4", "each event carries its fields; fields without value are omitted", last=True)
def event_fields(suite: Suite) -> None:
    for event in suite.link.since(suite.start_mark, "events"):
        body = event.body or {}
        kind = body.get("type")
        expect(kind in EVENT_FIELDS, f"unknown event type {kind!r}")
        expect(
            all(value is not None for value in body.values()),
            f"{kind} seq {body.get('seq')} carries a null field",
        )
        top, data = EVENT_FIELDS[str(kind)]
        expect(isinstance(body.get("ts"), str), f"{kind} lacks ts")
        for name in top:
            expect(name in body, f"{kind} seq {body.get('seq')} lacks {name}")
        for name in data:
            expect(name in (body.get("data") or {}), f"{kind} lacks data.{name}")


@clause("L-8.1", "acks carry v, command_id, status, ts; error codes from the table", last=True)
def ack_fields(suite: Suite) -> None:
    for ack in suite.link.since(suite.start_mark, "acks"):
        body = ack.body or {}
        where = f"ack {ack.raw[:80]!r}"
        expect(isinstance(body.get("command_id"), str), f"{where} lacks command_id")
        expect(body.get("status") in ("ok", "error"), f"{where}: status")
        expect(isinstance(body.get("ts"), str), f"{where} lacks ts")
        expect(all(v is not None for v in body.values()), f"{where} carries a null field")
        if body["status"] == "error":
            expect(body.get("error") in ACK_ERRORS, f"{where}: error not in the table")
        else:
            expect("error" not in body, f"{where}: ok with an error")
        expect(isinstance(body.get("result", {}), dict), f"{where}: result not an object")
