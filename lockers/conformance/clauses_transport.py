"""Clauses of §2 (transport), §3 (topics), §5 (state) and §13 (clocks).

The link-cut scenario (the locker's network cut for a few seconds, a wrong code typed and a
QoS 1 command queued while it is away) is played once and judged by L-2.1, L-2.2, L-2.3,
L-3.1, L-5.1 and L-6.3.
"""

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from lockers.conformance.impostor import ImpostorBroker
from lockers.conformance.link import Received, utc_now
from lockers.conformance.runner import ClauseFailed, Suite, clause, expect

STATE_FIELDS = {
    "ts": str,
    "seq": int,
    "heartbeat_s": int,
    "zones": dict,
    "compartments": dict,
    "keypad": dict,
    "event_seq": int,
    "clock_synced": bool,
    "connection": int,
    "storage_id": str,
}
DOWN_S = 3.0


def link_cut(suite: Suite) -> dict[str, Any]:
    if "link_cut" in suite.notes:
        return suite.notes["link_cut"]  # type: ignore[no-any-return]
    notes: dict[str, Any] = {}
    suite.notes["link_cut"] = notes
    before = suite.link.latest_state()
    notes["connection_before"] = before.get("connection") if before else None
    mark = suite.link.mark()
    suite.act("drop_link", seconds=DOWN_S)
    will = suite.link.wait_state(
        lambda m: m.get("online") is False, after=mark, timeout=suite.options.will_timeout_s
    )
    notes["will"] = will
    if will is None:
        return notes
    notes["retained"] = suite.link.retained_state(timeout=suite.options.timeout_s)
    queued = suite.link.send("configure", {}, qos=1)  # held by the broker in the session
    notes["queued_id"] = queued["command_id"]
    suite.act("enter_code", code="000000")  # typed while offline: a buffered code_rejected
    back = suite.link.wait_state(
        lambda m: m.get("online") is True,
        after=will.index,
        timeout=suite.options.will_timeout_s + DOWN_S,
    )
    notes["back"] = back
    if back is not None:
        connections = (notes["connection_before"], back.get("connection"))
        suite.notes.setdefault("connections", []).append(connections)
        notes["first_after"] = suite.link.wait(
            lambda m: m.channel in ("state", "events", "acks"), after=will.index + 1, timeout=1
        )
        notes["queued_ack"] = suite.link.wait_ack(
            queued["command_id"], after=will.index, timeout=suite.options.timeout_s
        )
        time.sleep(min(1.0, suite.options.quiet_s))
        notes["resumed_events"] = suite.link.events_since(will.index)
    return notes


def _require(notes: dict[str, Any], key: str, what: str) -> Received:
    value = notes.get(key)
    if not isinstance(value, Received):
        raise ClauseFailed(f"the link-cut scenario saw no {what}")
    return value


@clause("L-2.1", "persistent session: a QoS 1 command queued while offline is answered")
def persistent_session(suite: Suite) -> None:
    notes = link_cut(suite)
    _require(notes, "back", "reconnection")
    expect(
        notes.get("queued_ack") is not None,
        "a QoS 1 command published while the locker was away was never acked: no persistent "
        "session (clean_session must be false, client id the bank code)",
    )


@clause("L-2.2", "losing the link publishes the last will: retained, QoS 1, connection_lost")
def last_will(suite: Suite) -> None:
    notes = link_cut(suite)
    will = _require(notes, "will", "last will (online: false)")
    expect(
        will.body == {"v": 1, "online": False, "reason": "connection_lost"},
        f"the last will is {will.raw!r}",
    )
    retained = notes.get("retained")
    expect(
        isinstance(retained, Received) and retained.retained and retained.get("online") is False,
        "the last will was not retained on the state topic",
    )
    expect(will.qos == 1, "the last will was not published at QoS 1")


@clause("L-2.3", "after a disconnect the locker reconnects on its own, not at once")
def reconnects(suite: Suite) -> None:
    notes = link_cut(suite)
    will = _require(notes, "will", "last will")
    back = _require(notes, "back", "reconnection after the link came back")
    expect(back.at - will.at >= 1.0, "the locker reconnected less than 1 s after the loss")


@clause("L-2.4", "TLS with the provisioned CA in the field")
def tls(suite: Suite) -> None:
    options = suite.options
    with ImpostorBroker(options.probe_host, timeout_s=options.timeout_s) as impostor:
        suite.hooks.perform("connect_probe", host=options.probe_host, port=impostor.port)
        verdict = impostor.wait()
    expect(verdict.attempted, f"the locker never connected to the impostor: {verdict.detail}")
    expect(verdict.tls, verdict.detail)
    expect(not verdict.accepted, verdict.detail)


@clause("L-3.1", "commands reach the locker after every reconnect")
def resubscribes(suite: Suite) -> None:
    _require(link_cut(suite), "back", "reconnection")
    suite.call_ok("configure", {})


@clause("L-3.2", "publishes only its own state/events/acks, at QoS 1", last=True)
def own_topics(suite: Suite) -> None:
    allowed = {"state", "events", "acks", "commands", "test"}
    for message in suite.link.since(suite.start_mark):
        expect(message.channel in allowed, f"a message on an unknown topic: {message.channel}")
        if message.channel in ("state", "events", "acks"):
            expect(message.qos == 1, f"a {message.channel} message came at QoS {message.qos}")


@clause("L-3.3", "commands are accepted at QoS 0 and at QoS 1")
def command_qos(suite: Suite) -> None:
    suite.call_ok("configure", {}, qos=0)
    suite.call_ok("configure", {}, qos=1)


@clause("L-5.1", "after every connection the state comes first, retained, online: true")
def state_first(suite: Suite) -> None:
    notes = link_cut(suite)
    first = _require(notes, "first_after", "message after the reconnect")
    expect(
        first.channel == "state" and first.get("online") is True,
        f"the first message after reconnecting was {first.channel} {first.raw[:60]!r}",
    )
    retained = suite.link.retained_state(timeout=suite.options.timeout_s)
    expect(
        retained is not None and retained.retained and retained.get("online") is True,
        "the state topic holds no retained online state",
    )


@clause("L-5.2", "a state on every change and at least every heartbeat_s")
def heartbeat(suite: Suite) -> None:
    interval = suite.options.heartbeat_s
    mark = suite.link.mark()
    ack = suite.call_ok("configure", {"heartbeat_s": interval})
    first = suite.link.wait_state(
        lambda m: m.get("heartbeat_s") == interval, after=mark, timeout=suite.options.change_s
    )
    expect(first is not None, f"no state within {suite.options.change_s}s showing heartbeat_s")
    assert first is not None
    second = suite.link.wait_state(after=max(first.index, ack.index) + 1, timeout=interval + 1.5)
    expect(second is not None, f"no state within {interval + 1.5}s with heartbeat_s {interval}")
    label = suite.compartment()
    try:
        for flag in (True, False):
            mark = suite.link.mark()
            suite.call_ok("set_out_of_service", {"compartment": label, "out_of_service": flag})
            shown = suite.link.wait_state(
                lambda m, f=flag: _out_of_service(m, label) is f,  # type: ignore[misc]
                after=mark,
                timeout=suite.options.change_s,
            )
            expect(
                shown is not None,
                f"out_of_service {flag} not in a state within {suite.options.change_s}s",
            )
    finally:
        suite.call_ok("set_out_of_service", {"compartment": label, "out_of_service": False})


def _out_of_service(state: Received, label: str) -> object:
    return ((state.get("compartments") or {}).get(label) or {}).get("out_of_service")


@clause("L-5.3", "every state carries the fields of §5 and the same labels", last=True)
def state_fields(suite: Suite) -> None:
    labels: set[str] | None = set(suite.options.labels) if suite.options.labels else None
    for state in _states(suite):
        body = state.body or {}
        for name, kind in STATE_FIELDS.items():
            expect(isinstance(body.get(name), kind), f"state seq {body.get('seq')}: {name} bad")
        keypad = body["keypad"]
        for name in ("failed_attempts", "max_attempts", "lockout_s"):
            expect(isinstance(keypad.get(name), int), f"keypad.{name} missing or not an integer")
        for label, report in body["compartments"].items():
            expect(
                isinstance(report, dict)
                and report.get("door") in ("closed", "open", "jammed")
                and isinstance(report.get("occupied"), bool)
                and isinstance(report.get("out_of_service"), bool),
                f"compartment {label} lacks door/occupied/out_of_service",
            )
        expect(8 <= len(body["storage_id"]) <= 64, "storage_id is not 8-64 characters")
        seen = set(body["compartments"])
        labels = labels if labels is not None else seen
        expect(seen == labels, f"the labels changed: {sorted(seen ^ labels)}")


def _growing(messages: Iterable[Received]) -> None:
    seen: list[Received] = []
    for message in messages:
        resent = message.channel == "acks" and any(m.body == message.body for m in seen)
        expect(
            resent or not seen or message.get("seq") > seen[-1].get("seq"),
            f"{message.channel} seq went from {seen[-1].get('seq') if seen else None} "
            f"to {message.get('seq')}",
        )
        if not resent:
            seen.append(message)


def _states(suite: Suite) -> list[Received]:
    return [
        m
        for m in suite.link.since(suite.start_mark, "state")
        if m.body is not None and m.get("online") is True
    ]


@clause("L-5.4", "seq grows with every state and ack; connection by one per connection", last=True)
def counters(suite: Suite) -> None:
    # MQTT orders per topic only: an ack buffered over a reconnect lands after the connect state.
    bounds = [*suite.epoch_marks, 1 << 62]
    for start, end in zip(bounds, bounds[1:], strict=False):
        numbered = [
            m
            for m in suite.link.since(start)
            if m.index < end
            and m.channel in ("state", "acks")
            and m.get("online") is not False
            and isinstance(m.get("seq"), int)
        ]
        for channel in ("state", "acks"):
            _growing(m for m in numbered if m.channel == channel)
        owners: dict[int, Received] = {}
        for message in numbered:
            other = owners.setdefault(message.get("seq"), message)
            expect(
                other.body == message.body or other is message,
                f"seq {message.get('seq')} numbers both a {other.channel} and a {message.channel}",
            )
    steps = suite.notes.get("connections", [])
    expect(steps, "no reconnection seen")
    for before, after in steps:
        expect(after == before + 1, f"connection went from {before} to {after} on a reconnect")


@clause("L-5.5", "a clean disconnect first publishes exactly the shutdown state")
def shutdown_state(suite: Suite) -> None:
    from lockers.conformance.clauses_storage import restart

    mark = suite.link.mark()
    restart(suite, keep_storage=True, clean=True)
    offline = [m for m in suite.link.since(mark, "state") if m.get("online") is False]
    expect(offline, "no offline state before the clean restart")
    body = dict(offline[0].body or {})
    body.pop("ts", None)
    expect(
        body == {"v": 1, "online": False, "reason": "shutdown"},
        f"the first offline state of a clean restart is {offline[0].raw!r} "
        f"(offline states seen: {[m.get('reason') for m in offline]})",
    )


@clause("L-13.1", "every state reports clock_synced; its ts is within 5 s of UTC", last=True)
def clock(suite: Suite) -> None:
    for state in _states(suite):
        expect(isinstance(state.get("clock_synced"), bool), "a state lacks clock_synced")
    latest = suite.link.latest_state()
    expect(latest is not None, "no state")
    assert latest is not None
    age = time.monotonic() - latest.at
    try:
        skew = (utc_now() - datetime.fromisoformat(str(latest.get("ts")))).total_seconds() - age
    except ValueError as exc:
        raise ClauseFailed(f"state ts {latest.get('ts')!r} unreadable") from exc
    expect(abs(skew) < 5, f"the locker's clock is {skew:+.1f}s off UTC")
