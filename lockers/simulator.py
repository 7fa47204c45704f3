"""Virtual locker banks that speak the locker protocol over a real broker.

One `Fleet` runs any number of banks on ONE thread: each bank has its own MQTT connection
(its own client id, credentials and last will, as real hardware would), and all sockets are
multiplexed with a selector through paho's external-loop API (`loop_read`/`loop_write`/
`loop_misc`), so 1,000 banks cost one thread and ~3 file descriptors each.

A bank has a keypad (PBKDF2 check of typed codes against the loaded hashes, five wrong tries
lock it), doors (auto-closing after a deposit or retrieval, or closed by hand), zone
temperatures, a buffer of unsent events (paho's QoS 1 queue, flushed on reconnect), a memory
of executed command ids (a re-sent command is acked again, never executed twice), and
faults on demand: drop the link, heat a zone, jam a door, mute (stop acking).

Everything a bank does runs on the fleet's thread; public methods marshal the call there.
"""

import contextlib
import heapq
import itertools
import logging
import random
import selectors
import socket
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from app.core.db import utcnow
from lockers import protocol
from lockers.broker import MqttTarget, no_delay

log = logging.getLogger(__name__)
T = TypeVar("T")

SETPOINTS = {"ambient": 20.0, "chilled": 3.0, "frozen": -18.0}
FIRMWARE = "sim-1.0"
_EXECUTED_MEMORY = 5000
_EVENT_MEMORY = 10_000


@dataclass
class SimCompartment:
    label: str
    zone: str
    parcel_id: int | None = None
    door_open: bool = False
    out_of_service: bool = False
    jammed: bool = False


@dataclass
class BankSpec:
    """What a virtual bank is made of: its code and its compartments (label, zone)."""

    code: str
    compartments: list[tuple[str, str]]
    password: str | None = None


def default_compartments() -> list[tuple[str, str]]:
    """A typical bank: 8 chilled, 4 frozen, 4 ambient compartments."""
    return (
        [(f"A{i}", "chilled") for i in range(1, 9)]
        + [(f"B{i}", "frozen") for i in range(1, 5)]
        + [(f"C{i}", "ambient") for i in range(1, 5)]
    )


@dataclass
class _Timer:
    at: float
    seq: int
    fn: Callable[[], None] = field(compare=False)

    def __lt__(self, other: "_Timer") -> bool:
        return (self.at, self.seq) < (other.at, other.seq)


class Fleet:
    """Many virtual banks on one thread and one selector."""

    def __init__(
        self,
        target: MqttTarget,
        *,
        prefix: str = "lockers",
        heartbeat_s: float = 30.0,
        keepalive_s: int = 30,
        auto_close_s: float | None = 0.05,
        keypad_max_attempts: int = 5,
        keypad_lockout_s: float = 900.0,
        reconnect_min_s: float = 0.2,
        reconnect_max_s: float = 2.0,
        seed: int = 0,
    ) -> None:
        self.target = target
        self.prefix = prefix
        self.heartbeat_s = heartbeat_s
        self.keepalive_s = keepalive_s
        self.auto_close_s = auto_close_s
        self.keypad_max_attempts = keypad_max_attempts
        self.keypad_lockout_s = keypad_lockout_s
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.random = random.Random(seed)
        self.banks: dict[str, VirtualBank] = {}
        self.stats: Counter[str] = Counter()
        self._selector = selectors.DefaultSelector()
        self._timers: list[_Timer] = []
        self._timer_seq = itertools.count()
        self._calls: list[Callable[[], None]] = []
        self._calls_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread: threading.Thread | None = None
        self._running = False

    # --- building and running ----------------------------------------------------------------

    def add_bank(self, spec: BankSpec) -> "VirtualBank":
        """Add a bank (connects when the fleet runs)."""
        bank = VirtualBank(self, spec)
        self.banks[spec.code] = bank
        if self._running:
            self.call(bank.connect)
        return bank

    def start(self) -> "Fleet":
        """Start the fleet's thread; every bank connects."""
        self._running = True
        self._thread = threading.Thread(target=self._run, name="locker-fleet", daemon=True)
        self._thread.start()
        banks = list(self.banks.values())
        for index, bank in enumerate(banks):
            # Spread connections a little so 1,000 banks do not hit the broker in one burst.
            self.schedule(index * 0.001, bank.connect)
        return self

    def stop(self, *, graceful: bool = True) -> None:
        """Disconnect every bank (cleanly unless `graceful` is False) and stop the thread."""
        if not self._running:
            return
        done = threading.Event()

        def _shutdown() -> None:
            for bank in self.banks.values():
                bank.shutdown(graceful=graceful)
            done.set()

        self.post(_shutdown)
        done.wait(10)
        time.sleep(0.1)
        self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def wait_online(self, timeout: float = 30.0, codes: list[str] | None = None) -> bool:
        """Block until the given (or all) banks have a connection."""
        wanted = [self.banks[c] for c in codes] if codes else list(self.banks.values())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(b.connected for b in wanted):
                return True
            time.sleep(0.02)
        return False

    def post(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the fleet's thread soon."""
        with self._calls_lock:
            self._calls.append(fn)
        self._wake()

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """Run `fn(*args)` on the fleet's thread and return its result."""
        if threading.current_thread() is self._thread or not self._running:
            return fn(*args)
        box: dict[str, Any] = {}
        done = threading.Event()

        def _run() -> None:
            try:
                box["value"] = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                box["error"] = exc
            finally:
                done.set()

        self.post(_run)
        if not done.wait(timeout):
            raise TimeoutError("the fleet thread did not answer")
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the fleet's thread after `delay` seconds (call from the thread, or post)."""
        timer = _Timer(time.monotonic() + delay, next(self._timer_seq), fn)
        if threading.current_thread() is self._thread:
            heapq.heappush(self._timers, timer)
        else:
            self.post(lambda: heapq.heappush(self._timers, timer))

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        next_misc = time.monotonic() + 1.0
        while self._running:
            now = time.monotonic()
            timeout = 0.2
            if self._timers:
                timeout = max(0.0, min(timeout, self._timers[0].at - now))
            try:
                events = self._selector.select(timeout)
            except OSError:
                events = []
            for key, mask in events:
                if key.data is None:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                client: mqtt.Client = key.data
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE:
                    client.loop_write()
            with self._calls_lock:
                calls, self._calls = self._calls, []
            for fn in calls:
                self._guard(fn)
            now = time.monotonic()
            while self._timers and self._timers[0].at <= now:
                self._guard(heapq.heappop(self._timers).fn)
            if now >= next_misc:
                next_misc = now + 1.0
                for bank in list(self.banks.values()):
                    if bank.connected:
                        bank.client.loop_misc()

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("simulator step failed")
            self.stats["errors"] += 1

    # --- paho socket callbacks ---------------------------------------------------------------

    def _socket_open(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        no_delay(sock)
        self._selector.register(sock, selectors.EVENT_READ, client)

    def _socket_close(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def _socket_want_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def _socket_done_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(sock, selectors.EVENT_READ, client)

    def summary(self) -> dict[str, Any]:
        """Counts across the fleet (commands received/executed, duplicates, events...)."""
        executions = Counter[str]()
        for bank in self.banks.values():
            executions.update(bank.executions)
        totals: Counter[str] = Counter(self.stats)
        for bank in self.banks.values():
            totals.update(bank.stats)
        return {
            "banks": len(self.banks),
            "online": sum(1 for b in self.banks.values() if b.connected),
            "commands_executed": sum(executions.values()),
            "commands_executed_twice": sum(1 for n in executions.values() if n > 1),
            **dict(totals),
        }


class VirtualBank:
    """One simulated locker bank. Methods without a leading underscore are thread-safe."""

    def __init__(self, fleet: Fleet, spec: BankSpec) -> None:
        self.fleet = fleet
        self.code = spec.code
        self.password = spec.password
        self.compartments = {
            label: SimCompartment(label=label, zone=zone) for label, zone in spec.compartments
        }
        self.temps = {zone: SETPOINTS.get(zone, 20.0) for _, zone in spec.compartments}
        self.heated: dict[str, float] = {}
        self.codes: dict[int, protocol.CodeEntry] = {}
        self.failed_attempts = 0
        self.locked_until: datetime | None = None
        self.max_attempts = fleet.keypad_max_attempts
        self.lockout_s = fleet.keypad_lockout_s
        self.heartbeat_s = fleet.heartbeat_s
        self.seq = 0
        self.connections = 0
        self.event_seq = 0
        self.event_log: OrderedDict[int, protocol.EventMessage] = OrderedDict()
        self.connected = False
        self.link_down_until = 0.0
        self.muted = False
        self.ignore_commands = 0
        self.lose_events = 0
        self.operator_removes_parcel = False
        self.auto_close_s = fleet.auto_close_s
        self.executed: OrderedDict[str, bytes] = OrderedDict()
        self.executions: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self._stopping = False
        self._reconnect_delay = fleet.reconnect_min_s
        self._heartbeat_armed = False
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.code,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set(self.code, self.password)
        client.will_set(
            self._topic(protocol.Channel.STATE),
            protocol.offline_will(),
            qos=protocol.QOS,
            retain=True,
        )
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = self.fleet._socket_open
        client.on_socket_close = self.fleet._socket_close
        client.on_socket_register_write = self.fleet._socket_want_write
        client.on_socket_unregister_write = self.fleet._socket_done_write
        return client

    def _topic(self, channel: protocol.Channel) -> str:
        return protocol.topic(self.fleet.prefix, self.code, channel)

    # --- connection ----------------------------------------------------------------------------

    def connect(self) -> None:
        """(fleet thread) Open the MQTT connection; retried with back-off on failure."""
        if self._stopping or time.monotonic() < self.link_down_until:
            return
        target = self.fleet.target
        try:
            if self.stats["connect_attempts"] == 0:
                self.client.connect(target.host, target.port, keepalive=self.fleet.keepalive_s)
            else:
                self.client.reconnect()
            self.stats["connect_attempts"] += 1
        except OSError:
            self.stats["connect_attempts"] += 1
            self._retry_later()

    def _retry_later(self) -> None:
        delay = self._reconnect_delay * (0.5 + self.fleet.random.random())
        self._reconnect_delay = min(self._reconnect_delay * 2, self.fleet.reconnect_max_s)
        self.fleet.schedule(delay, self.connect)

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.stats["refused"] += 1
            log.warning("broker refused bank %s: %s", self.code, reason)
            return
        self.connected = True
        self.connections += 1
        self._reconnect_delay = self.fleet.reconnect_min_s
        self.stats["connects"] += 1
        client.subscribe(self._topic(protocol.Channel.COMMANDS), qos=protocol.QOS)
        self._publish_state()
        if not self._heartbeat_armed:
            self._heartbeat_armed = True
            self.fleet.schedule(self.fleet.random.uniform(0, self.heartbeat_s), self._heartbeat)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        was = self.connected
        self.connected = False
        if was:
            self.stats["disconnects"] += 1
        if self._stopping:
            return
        wait = max(0.0, self.link_down_until - time.monotonic())
        if wait > 0:
            self.fleet.schedule(wait, self.connect)
        else:
            self._retry_later()

    def _heartbeat(self) -> None:
        if self._stopping:
            return
        if self.connected:
            self._drift()
            self._publish_state()
        self.fleet.schedule(self.heartbeat_s, self._heartbeat)

    def _drift(self) -> None:
        rng = self.fleet.random
        for zone in self.temps:
            if zone in self.heated:
                self.temps[zone] = self.heated[zone]
            else:
                self.temps[zone] = round(SETPOINTS.get(zone, 20.0) + rng.uniform(-0.5, 0.5), 2)

    def shutdown(self, *, graceful: bool) -> None:
        """(fleet thread) Leave: a clean disconnect publishes an offline state first."""
        self._stopping = True
        if not self.connected:
            return
        if graceful:
            self.client.publish(
                self._topic(protocol.Channel.STATE),
                protocol.offline_will("shutdown"),
                qos=protocol.QOS,
                retain=True,
            )
            self.client.disconnect()
        else:
            self._close_socket()

    def _close_socket(self) -> None:
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            self.client.loop_read()

    # --- outgoing ----------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _publish_state(self) -> None:
        message = protocol.StateMessage(
            online=True,
            ts=utcnow(),
            seq=self._next_seq(),
            firmware=FIRMWARE,
            heartbeat_s=int(self.heartbeat_s),
            zones=dict(self.temps),
            compartments={
                c.label: protocol.CompartmentReport(
                    door=protocol.DoorState.JAMMED
                    if c.jammed
                    else protocol.DoorState.OPEN
                    if c.door_open
                    else protocol.DoorState.CLOSED,
                    occupied=c.parcel_id is not None,
                    out_of_service=c.out_of_service,
                )
                for c in self.compartments.values()
            },
            keypad=protocol.KeypadReport(
                failed_attempts=self.failed_attempts, locked_until=self.locked_until
            ),
            codes_loaded=len(self.codes),
            event_seq=self.event_seq,
            clock_synced=True,
            connection=self.connections,
        )
        self.client.publish(
            self._topic(protocol.Channel.STATE),
            message.model_dump_json(exclude_none=True),
            qos=protocol.QOS,
            retain=True,
        )
        self.stats["states"] += 1

    def _event(
        self,
        kind: protocol.EventType,
        *,
        compartment: str | None = None,
        parcel_id: int | None = None,
        command_id: str | None = None,
        **data: Any,
    ) -> protocol.EventMessage:
        self.event_seq += 1
        message = protocol.EventMessage(
            event_id=str(uuid.uuid4()),
            seq=self.event_seq,
            ts=utcnow(),
            type=kind,
            compartment=compartment,
            parcel_id=parcel_id,
            command_id=command_id,
            data={
                k: protocol.utc_iso(v) if isinstance(v, datetime) else v for k, v in data.items()
            },
        )
        self.event_log[message.seq] = message
        if len(self.event_log) > _EVENT_MEMORY:
            self.event_log.popitem(last=False)
        if self.lose_events > 0:
            # As if the broker acknowledged it and then crashed before passing it on.
            self.lose_events -= 1
            self.stats["events_lost"] += 1
            return message
        self._send_event(message)
        return message

    def _send_event(self, message: protocol.EventMessage) -> None:
        # QoS 1: while the link is down paho keeps the message and sends it on reconnect.
        self.client.publish(
            self._topic(protocol.Channel.EVENTS),
            message.model_dump_json(exclude_none=True),
            qos=protocol.QOS,
        )
        self.stats["events"] += 1

    def _ack(
        self,
        command_id: str,
        error: str | None = None,
        detail: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bytes:
        message = protocol.AckMessage(
            command_id=command_id,
            status=protocol.AckStatus.ERROR if error is not None else protocol.AckStatus.OK,
            error=error,
            detail=detail,
            result=result,
            seq=self._next_seq(),
            ts=utcnow(),
        )
        payload = message.model_dump_json(exclude_none=True).encode()
        self.client.publish(self._topic(protocol.Channel.ACKS), payload, qos=protocol.QOS)
        self.stats["acks"] += 1
        return payload

    # --- commands ----------------------------------------------------------------------------

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            command = protocol.CommandMessage.model_validate_json(message.payload)
        except ValidationError:
            self.stats["invalid_commands"] += 1
            return
        self.received[command.command_id] += 1
        self.stats["commands_received"] += 1
        done = self.executed.get(command.command_id)
        if done is not None:
            # Already executed: answer again with the same result, do nothing else.
            self.client.publish(self._topic(protocol.Channel.ACKS), done, qos=protocol.QOS)
            self.stats["duplicate_commands"] += 1
            return
        if self.muted:
            return
        if self.ignore_commands > 0:
            self.ignore_commands -= 1
            self.stats["ignored_commands"] += 1
            return
        if utcnow() > command.expires_at:
            ack = self._ack(command.command_id, protocol.AckError.EXPIRED.value)
        else:
            ack = self._execute(command)
        self.executed[command.command_id] = ack
        if len(self.executed) > _EXECUTED_MEMORY:
            self.executed.popitem(last=False)

    def _execute(self, command: protocol.CommandMessage) -> bytes:
        self.executions[command.command_id] += 1
        args = command.args
        kind = protocol.CommandType
        if command.type == kind.OPEN_COMPARTMENT:
            return self._open(command.command_id, args)
        if command.type == kind.LOAD_CODES:
            for raw in args.get("codes", []):
                entry = protocol.CodeEntry.model_validate(raw)
                self.codes[entry.parcel_id] = entry
            return self._ack(command.command_id)
        if command.type == kind.REVOKE_CODE:
            self.codes.pop(int(args.get("parcel_id", 0)), None)
            return self._ack(command.command_id)
        if command.type == kind.SET_OUT_OF_SERVICE:
            compartment = self.compartments.get(str(args.get("compartment")))
            if compartment is None:
                return self._ack(command.command_id, protocol.AckError.UNKNOWN_COMPARTMENT.value)
            compartment.out_of_service = bool(args.get("out_of_service"))
            return self._ack(command.command_id)
        if command.type == kind.REPLAY_EVENTS:
            first = int(args.get("from_seq", 1))
            last = int(args.get("to_seq", self.event_seq))
            replayed = 0
            for seq in range(first, min(last, self.event_seq) + 1):
                event = self.event_log.get(seq)
                if event is not None:
                    self._send_event(event)
                    replayed += 1
            self.stats["events_replayed"] += replayed
            oldest = next(iter(self.event_log), self.event_seq + 1)
            return self._ack(
                command.command_id,
                result={"replayed": replayed, "oldest_available": oldest},
            )
        if command.type == kind.CONFIGURE:
            self.max_attempts = int(args.get("keypad_max_attempts", self.max_attempts))
            self.lockout_s = float(args.get("keypad_lockout_s", self.lockout_s))
            self.heartbeat_s = float(args.get("heartbeat_s", self.heartbeat_s))
            return self._ack(command.command_id)
        return self._ack(command.command_id, protocol.AckError.UNSUPPORTED.value)

    def _open(self, command_id: str, args: dict[str, Any]) -> bytes:
        label = str(args.get("compartment"))
        compartment = self.compartments.get(label)
        if compartment is None:
            return self._ack(command_id, protocol.AckError.UNKNOWN_COMPARTMENT.value)
        if compartment.out_of_service:
            return self._ack(command_id, protocol.AckError.OUT_OF_SERVICE.value)
        if compartment.jammed:
            self._event(protocol.EventType.DOOR_JAMMED, compartment=label, command_id=command_id)
            return self._ack(command_id, protocol.AckError.DOOR_JAMMED.value)
        compartment.door_open = True
        purpose = str(args.get("purpose", "operator"))
        parcel_id = args.get("parcel_id")
        ack = self._ack(command_id)  # first the answer the server waits for, then the report
        self._event(
            protocol.EventType.DOOR_OPENED,
            compartment=label,
            command_id=command_id,
            parcel_id=parcel_id,
            cause=purpose,
        )
        if self.auto_close_s is not None:
            present = {
                "deposit": True,
                "retrieve": False,
                "operator": compartment.parcel_id is not None and not self.operator_removes_parcel,
            }.get(purpose, compartment.parcel_id is not None)
            self.fleet.schedule(
                self.auto_close_s,
                lambda: self._close(
                    label,
                    parcel_present=present,
                    parcel_id=parcel_id if isinstance(parcel_id, int) else None,
                    command_id=command_id,
                ),
            )
        return ack

    def _close(
        self,
        label: str,
        *,
        parcel_present: bool,
        parcel_id: int | None = None,
        command_id: str | None = None,
    ) -> None:
        compartment = self.compartments[label]
        compartment.door_open = False
        if parcel_present:
            compartment.parcel_id = parcel_id if parcel_id is not None else compartment.parcel_id
        else:
            parcel_id = parcel_id if parcel_id is not None else compartment.parcel_id
            compartment.parcel_id = None
        self._event(
            protocol.EventType.DOOR_CLOSED,
            compartment=label,
            command_id=command_id,
            parcel_id=parcel_id,
            parcel_present=parcel_present,
        )

    # --- keypad ------------------------------------------------------------------------------

    def _enter_code(self, code: str) -> str:
        now = utcnow()
        if self.locked_until is not None:
            if now < self.locked_until:
                self.stats["keypad_refused_locked"] += 1
                return "locked"
            self.locked_until = None
            self.failed_attempts = 0
            self._event(protocol.EventType.KEYPAD_UNLOCKED)
        for entry in list(self.codes.values()):
            if entry.expires_at < now:
                continue
            if protocol.locker_code_matches(code, entry):
                return self._hand_out(entry, method="keypad")
        return self._wrong_code(now)

    def _scan_qr(self, text: str) -> str:
        parsed = protocol.parse_qr(text)
        now = utcnow()
        if self.locked_until is not None and now < self.locked_until:
            return "locked"
        if parsed is None or parsed[0] != self.code:
            return self._wrong_code(now)
        entry = self.codes.get(parsed[1])
        if (
            entry is None
            or entry.expires_at < now
            or not protocol.locker_code_matches(parsed[2], entry)
        ):
            return self._wrong_code(now)
        return self._hand_out(entry, method="qr")

    def _hand_out(self, entry: protocol.CodeEntry, *, method: str) -> str:
        compartment = self.compartments.get(entry.compartment)
        if compartment is None or compartment.parcel_id != entry.parcel_id:
            return self._wrong_code(utcnow())
        self.failed_attempts = 0
        label = compartment.label
        self._event(
            protocol.EventType.DOOR_OPENED,
            compartment=label,
            parcel_id=entry.parcel_id,
            cause="pickup",
        )
        self._event(
            protocol.EventType.PARCEL_COLLECTED,
            compartment=label,
            parcel_id=entry.parcel_id,
            method=method,
        )
        compartment.parcel_id = None
        self.codes.pop(entry.parcel_id, None)
        self._close(label, parcel_present=False, parcel_id=entry.parcel_id)
        return f"opened:{label}"

    def _wrong_code(self, now: datetime) -> str:
        self.failed_attempts += 1
        self._event(protocol.EventType.CODE_REJECTED, failed_attempts=self.failed_attempts)
        if self.failed_attempts >= self.max_attempts:
            self.locked_until = now + timedelta(seconds=self.lockout_s)
            self._event(
                protocol.EventType.KEYPAD_LOCKED,
                until=self.locked_until,
                failed_attempts=self.failed_attempts,
            )
            return "locked"
        return "rejected"

    # --- faults ------------------------------------------------------------------------------

    def _drop_link(self, seconds: float) -> None:
        self.link_down_until = time.monotonic() + seconds
        if self.connected:
            self._close_socket()

    def _heat(self, zone: str, temp_c: float | None) -> None:
        if temp_c is None:
            self.heated.pop(zone, None)
            self.temps[zone] = SETPOINTS.get(zone, 20.0)
        else:
            self.heated[zone] = temp_c
            self.temps[zone] = temp_c
        if self.connected:
            self._publish_state()

    # --- thread-safe public API --------------------------------------------------------------

    def enter_code(self, code: str) -> str:
        """Type a code on the keypad: "opened:<label>", "rejected" or "locked"."""
        return self.fleet.call(self._enter_code, code)

    def scan_qr(self, text: str) -> str:
        """Show a pickup QR code to the scanner."""
        return self.fleet.call(self._scan_qr, text)

    def drop_link(self, seconds: float) -> None:
        """Lose the network abruptly (the broker publishes the last will) for `seconds`."""
        self.fleet.call(self._drop_link, seconds)

    def restore_link(self) -> None:
        """End a dropped link now and reconnect."""

        def _restore() -> None:
            self.link_down_until = 0.0
            if not self.connected:
                self.connect()

        self.fleet.call(_restore)

    def heat_zone(self, zone: str, temp_c: float | None) -> None:
        """Force a zone's temperature (None: back to its set point); reported at once."""
        self.fleet.call(self._heat, zone, temp_c)

    def jam_door(self, label: str, jammed: bool = True) -> None:
        """Jam (or free) a compartment door: opening it fails."""

        def _jam() -> None:
            self.compartments[label].jammed = jammed

        self.fleet.call(_jam)

    def close_door(self, label: str, *, parcel_present: bool, parcel_id: int | None = None) -> None:
        """Close a door by hand, reporting whether a parcel is inside."""
        self.fleet.call(
            lambda: self._close(label, parcel_present=parcel_present, parcel_id=parcel_id)
        )

    def mute(self, muted: bool = True) -> None:
        """Stop (or resume) answering commands: nothing executed, nothing acked."""

        def _mute() -> None:
            self.muted = muted

        self.fleet.call(_mute)

    def ignore_next_commands(self, count: int) -> None:
        """Drop the next `count` commands as if they never arrived (the server re-sends)."""

        def _ignore() -> None:
            self.ignore_commands = count

        self.fleet.call(_ignore)

    def lose_next_events(self, count: int) -> None:
        """Number the next `count` events but never deliver them (a broker crash after its
        PUBACK); the server must notice the gap and ask for a replay."""

        def _lose() -> None:
            self.lose_events = count

        self.fleet.call(_lose)

    def publish_state(self) -> None:
        """Publish the state now (a heartbeat)."""
        self.fleet.call(self._publish_state)

    def emit_event(self, kind: protocol.EventType, **fields: Any) -> protocol.EventMessage:
        """Send an event of the given type (compartment=, parcel_id=, command_id=, data...)."""
        return self.fleet.call(lambda: self._event(kind, **fields))

    def resend_event(self, message: protocol.EventMessage) -> None:
        """Send an already-sent event again, same id (as a QoS 1 redelivery would)."""
        self.fleet.call(self._send_event, message)

    def snapshot(self) -> dict[str, Any]:
        """The bank's state as the simulator holds it (for tests and the CLI)."""

        def _snap() -> dict[str, Any]:
            return {
                "connected": self.connected,
                "codes": sorted(self.codes),
                "compartments": {
                    c.label: {
                        "parcel_id": c.parcel_id,
                        "door_open": c.door_open,
                        "out_of_service": c.out_of_service,
                        "jammed": c.jammed,
                    }
                    for c in self.compartments.values()
                },
                "failed_attempts": self.failed_attempts,
                "locked_until": self.locked_until,
                "executions": dict(self.executions),
                "received": dict(self.received),
            }

        return self.fleet.call(_snap)
