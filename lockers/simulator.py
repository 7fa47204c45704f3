"""Virtual locker banks that speak the locker protocol over a real broker.

A `Fleet` (lockers/sim_fleet.py) runs any number of banks on one thread. A bank has a keypad
(PBKDF2 check of typed codes against the loaded hashes, five wrong tries lock it), doors
(auto-closing after a deposit or retrieval, or closed by hand), zone temperatures, a buffer of
unsent events (paho's QoS 1 queue, flushed on reconnect), a memory of executed command ids (a
re-sent command is acked again, never executed twice), non-volatile storage that a restart
keeps or loses (`restart`), and faults on demand: drop the link, heat a zone, jam a door,
mute (stop acking). Its controller logic is in lockers/sim_locker.py, what it publishes in
lockers/sim_messages.py.

Everything a bank does runs on the fleet's thread; public methods marshal the call there.
"""

import contextlib
import logging
import socket
import time
from collections import Counter
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from app.core.db import utcnow
from lockers import protocol
from lockers.sim_fleet import Fleet
from lockers.sim_link import drop_queued_states
from lockers.sim_locker import (
    EXECUTED_MEMORY,
    FIRMWARE,
    SETPOINTS,
    STATE_COMMANDS,
    BankSpec,
    SimCompartment,
    default_compartments,
)
from lockers.sim_messages import BankMessages

__all__ = [
    "FIRMWARE",
    "SETPOINTS",
    "BankSpec",
    "Fleet",
    "SimCompartment",
    "VirtualBank",
    "default_compartments",
]

log = logging.getLogger(__name__)


class VirtualBank(BankMessages):
    """One simulated locker bank. Methods without a leading underscore are thread-safe."""

    def __init__(self, fleet: Fleet, spec: BankSpec) -> None:
        self.fleet = fleet
        self.code = spec.code
        self.password = spec.password
        self._init_memory(spec)
        self._load_saved_storage()
        self.temps = {zone: SETPOINTS.get(zone, 20.0) for _, zone in spec.compartments}
        self.heated: dict[str, float] = {}
        self.connected = False
        self.link_down_until = 0.0
        self.muted = False
        self.ignore_commands = 0
        self.lose_events = 0
        self.operator_removes_parcel = False
        self.auto_close_s = fleet.auto_close_s
        self.executions: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.restarts = 0
        self._stopping = False
        self._reconnect_delay = fleet.reconnect_min_s
        self._heartbeat_armed = False
        self._dialed = False
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

    # --- connection ----------------------------------------------------------------------------

    def connect(self) -> None:
        """(fleet thread) Open the MQTT connection; retried with back-off on failure."""
        if self._stopping or time.monotonic() < self.link_down_until:
            return
        target = self.fleet.target
        try:
            if not self._dialed:
                self._dialed = True
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
        if client is not self.client:
            return  # the connection of a controller since restarted
        if reason.is_failure:
            self.stats["refused"] += 1
            log.warning("broker refused bank %s: %s", self.code, reason)
            return
        self.connected = True
        self.connections += 1
        self._reconnect_delay = self.fleet.reconnect_min_s
        self.stats["connects"] += 1
        client.subscribe(self._topic(protocol.Channel.COMMANDS), qos=protocol.QOS)
        if dropped := drop_queued_states(client, self._topic(protocol.Channel.STATE)):
            self.stats["stale_states_dropped"] += dropped
        self._publish_state()
        if not self._heartbeat_armed:
            self._heartbeat_armed = True
            self.fleet.schedule(self.fleet.random.uniform(0, self.heartbeat_s), self._heartbeat)

    def _on_disconnect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if client is not self.client:
            return
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

    def _restart(
        self, keep_storage: bool, storage: dict[str, Any] | None, down_s: float, graceful: bool
    ) -> None:
        image = storage if storage is not None else self._storage() if keep_storage else None
        old = self.client
        if self.connected:
            if graceful:
                old.publish(
                    self._topic(protocol.Channel.STATE),
                    protocol.offline_will("shutdown"),
                    qos=protocol.QOS,
                    retain=True,
                )
                old.disconnect()
            else:
                self._close_socket()
        self.connected = False
        self.restarts += 1
        self.stats["restarts"] += 1
        self._wipe_memory()
        if image is not None:
            self._load_storage(image)
        path = self._storage_file()
        if path is not None:
            if image is None:
                path.unlink(missing_ok=True)
            else:
                self._save_storage()
        self.lose_events = 0
        self.ignore_commands = 0
        self.link_down_until = time.monotonic() + down_s
        self._reconnect_delay = self.fleet.reconnect_min_s
        self._dialed = False
        self.client = self._make_client()
        self.fleet.schedule(down_s, self.connect)

    def _close_socket(self) -> None:
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            self.client.loop_read()

    # --- commands ----------------------------------------------------------------------------

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if client is not self.client:
            return
        command_id, refusal = protocol.screen_command(message.payload)
        if command_id is None:
            self.stats["invalid_commands"] += 1  # nothing to ack ([L-4.6])
            return
        self.received[command_id] += 1
        self.stats["commands_received"] += 1
        done = self.executed.get(command_id)
        if done is not None:
            # Already answered: the same ack again, nothing else ([L-7.1]).
            self.client.publish(self._topic(protocol.Channel.ACKS), done, qos=protocol.QOS)
            self.stats["duplicate_commands"] += 1
            return
        if self.muted:
            return
        if self.ignore_commands > 0:
            self.ignore_commands -= 1
            self.stats["ignored_commands"] += 1
            return
        if refusal is not None:
            self.stats["invalid_commands"] += 1
            self._remember(command_id, self._ack(command_id, *refusal))
            return
        command = protocol.CommandMessage.model_validate_json(message.payload)
        if utcnow() > command.expires_at:
            ack = self._ack(command.command_id, protocol.AckError.EXPIRED.value)
        else:
            ack = self._execute(command)
            if command.type in STATE_COMMANDS and self.connected:
                self._publish_state()  # settings, service flags, contents ([L-5.2], [L-7.9])
        self._remember(command.command_id, ack)

    def _remember(self, command_id: str, ack: bytes) -> None:
        self.executed[command_id] = ack
        if len(self.executed) > EXECUTED_MEMORY:
            self.executed.popitem(last=False)

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
