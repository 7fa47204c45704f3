"""The conformance suite's side of the broker: it plays the SERVER towards one locker.

`ServerLink` publishes commands on the bank's `commands` topic and records, in arrival order,
everything the locker publishes on `state`, `events` and `acks` (raw JSON kept as parsed
dicts, so a malformed message is a finding rather than a crash). The suite needs neither the
database nor the bridge: only the broker URL, a login allowed to write the bank's commands
and read its state/events/acks, and the topic prefix.
"""

import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lockers import protocol
from lockers.broker import MqttTarget, no_delay


@dataclass(frozen=True)
class Received:
    """One message the locker published, as the suite received it."""

    index: int
    at: float  # time.monotonic() on arrival
    channel: str  # the topic after `{prefix}/{bank}/`: state, events, acks, commands...
    raw: bytes
    body: dict[str, Any] | None  # None: not a JSON object
    retained: bool
    qos: int

    def get(self, key: str, default: Any = None) -> Any:
        return default if self.body is None else self.body.get(key, default)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id(kind: str = "cf") -> str:
    """A fresh id of 8-64 characters (commands, events, hooks)."""
    return f"{kind}-{uuid.uuid4().hex}"


class ServerLink:
    """An MQTT connection that sends commands to one bank and records what it answers."""

    def __init__(
        self,
        target: MqttTarget,
        *,
        bank: str,
        prefix: str = "lockers",
        client_id: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.target = target
        self.bank = bank
        self.prefix = prefix
        self.ca_file = ca_file
        self.client_id = client_id or new_id("pickup-conformance")[:40]
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self.extra_handlers: dict[str, Callable[[mqtt.MQTTMessage], None]] = {}
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set(target.username or self.client_id, target.password)
        if target.tls:
            client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_socket_open = lambda _c, _u, sock: no_delay(sock)
        self.client = client

    def topic(self, channel: str) -> str:
        return f"{self.prefix}/{self.bank}/{channel}"

    # --- connection ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        self.client.connect(self.target.host, self.target.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.client.loop_stop()
            raise ConnectionError(f"no CONNACK from {self.target.url()} within {timeout}s")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe_extra(self, topic: str, handler: Callable[[mqtt.MQTTMessage], None]) -> None:
        self.extra_handlers[topic] = handler
        self.client.subscribe(topic, qos=1)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            return
        client.subscribe(self.topic("#"), qos=1)  # everything under the bank (L-3.2)
        for topic in self.extra_handlers:
            client.subscribe(topic, qos=1)
        self._connected.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        handler = self.extra_handlers.get(message.topic)
        if handler is not None:
            handler(message)
            return
        channel = message.topic.removeprefix(self.topic(""))
        try:
            body = json.loads(message.payload)
        except ValueError:
            body = None
        with self._cond:
            self.messages.append(
                Received(
                    index=len(self.messages),
                    at=time.monotonic(),
                    channel=channel,
                    raw=bytes(message.payload),
                    body=body if isinstance(body, dict) else None,
                    retained=bool(message.retain),
                    qos=int(message.qos),
                )
            )
            self._cond.notify_all()

    # --- reading -------------------------------------------------------------------------------

    def mark(self) -> int:
        """A position in the record: later waits look only at messages after it."""
        with self._cond:
            return len(self.messages)

    def since(self, mark: int, channel: str | None = None) -> list[Received]:
        with self._cond:
            found = self.messages[mark:]
        return [m for m in found if channel is None or m.channel == channel]

    def wait(
        self,
        predicate: Callable[[Received], bool],
        *,
        after: int = 0,
        timeout: float = 10.0,
    ) -> Received | None:
        """The first message after `after` that satisfies `predicate`, or None on timeout."""
        deadline = time.monotonic() + timeout
        position = after
        with self._cond:
            while True:
                while position < len(self.messages):
                    message = self.messages[position]
                    position += 1
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def wait_state(
        self, predicate: Callable[[Received], bool] = lambda _m: True, **kw: Any
    ) -> Received | None:
        return self.wait(lambda m: m.channel == "state" and predicate(m), **kw)

    def wait_event(self, kind: str, *, after: int, timeout: float = 10.0, **fields: Any) -> Any:
        """The first event of `kind` (whose top-level fields match `fields`) after `after`."""

        def match(m: Received) -> bool:
            return (
                m.channel == "events"
                and m.get("type") == kind
                and all(m.get(k) == v for k, v in fields.items())
            )

        return self.wait(match, after=after, timeout=timeout)

    def events_since(self, mark: int, kind: str | None = None) -> list[Received]:
        return [m for m in self.since(mark, "events") if kind is None or m.get("type") == kind]

    def latest_state(self, *, online: bool | None = True) -> Received | None:
        with self._cond:
            for message in reversed(self.messages):
                if (
                    message.channel == "state"
                    and message.body is not None
                    and (online is None or message.body.get("online") is online)
                ):
                    return message
        return None

    def retained_state(self, timeout: float = 5.0) -> Received | None:
        """What a new subscriber gets on the state topic now (the retained message)."""
        other = ServerLink(self.target, bank=self.bank, prefix=self.prefix, ca_file=self.ca_file)
        try:
            other.start(timeout)
        except ConnectionError:
            return None
        try:
            return other.wait(lambda m: m.channel == "state", timeout=timeout)
        finally:
            other.stop()

    # --- commands ------------------------------------------------------------------------------

    def command_body(
        self,
        kind: str,
        args: dict[str, Any] | None = None,
        *,
        command_id: str | None = None,
        lifetime_s: float = 300.0,
    ) -> dict[str, Any]:
        issued = utc_now()
        return {
            "v": protocol.SCHEMA_VERSION,
            "command_id": command_id or new_id(),
            "type": kind,
            "issued_at": protocol.utc_iso(issued),
            "expires_at": protocol.utc_iso(issued + timedelta(seconds=lifetime_s)),
            "args": args or {},
        }

    def publish(self, body: dict[str, Any] | bytes, *, qos: int = 0) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.client.publish(self.topic("commands"), payload, qos=qos).wait_for_publish(10)

    def send(
        self, kind: str, args: dict[str, Any] | None = None, *, qos: int = 0, **kw: Any
    ) -> dict[str, Any]:
        """Publish a command; its body (with its `command_id`)."""
        body = self.command_body(kind, args, **kw)
        self.publish(body, qos=qos)
        return body

    def wait_ack(self, command_id: str, *, after: int = 0, timeout: float = 10.0) -> Any:
        return self.wait(
            lambda m: m.channel == "acks" and m.get("command_id") == command_id,
            after=after,
            timeout=timeout,
        )

    def call(
        self, kind: str, args: dict[str, Any] | None = None, *, timeout: float = 10.0, **kw: Any
    ) -> tuple[dict[str, Any], Received | None]:
        """Send a command and wait for its ack: (command body, ack or None)."""
        mark = self.mark()
        body = self.send(kind, args, **kw)
        return body, self.wait_ack(body["command_id"], after=mark, timeout=timeout)
