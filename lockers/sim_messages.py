"""What a simulated locker bank publishes: its state (retained), its events and its acks.

`lockers.simulator.VirtualBank` adds the connection, the commands it receives and the faults.
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

from app.core.db import utcnow
from lockers import protocol
from lockers.sim_controls import BankControls
from lockers.sim_locker import EVENT_MEMORY, FIRMWARE, STATE_CHANGES

if TYPE_CHECKING:
    from lockers.sim_fleet import Fleet


class BankMessages(BankControls):
    """The outgoing side of `VirtualBank` (see lockers/simulator.py)."""

    fleet: "Fleet"
    client: mqtt.Client
    temps: dict[str, float]

    def _topic(self, channel: protocol.Channel) -> str:
        return protocol.topic(self.fleet.prefix, self.code, channel)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _publish_state(self) -> None:
        self._end_lockout_if_over(utcnow())  # a state never shows a past lockout ([L-9.7])
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
                    if c.jammed and c.out_of_service  # known once an opening failed
                    else protocol.DoorState.OPEN
                    if c.door_open
                    else protocol.DoorState.CLOSED,
                    occupied=c.occupied,
                    out_of_service=c.out_of_service,
                )
                for c in self.compartments.values()
            },
            keypad=protocol.KeypadReport(
                failed_attempts=self.failed_attempts,
                locked_until=self.locked_until,
                max_attempts=int(self.max_attempts),
                lockout_s=int(self.lockout_s),
            ),
            codes_loaded=len(self.codes),
            event_seq=self.event_seq,
            clock_synced=True,
            connection=self.connections,
            storage_id=self.storage_id,
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
        if len(self.event_log) > EVENT_MEMORY:
            self.event_log.popitem(last=False)
        if self.lose_events > 0:
            # As if the broker acknowledged it and then crashed before passing it on.
            self.lose_events -= 1
            self.stats["events_lost"] += 1
            return message
        self._send_event(message)
        if kind in STATE_CHANGES and self.connected:
            self._publish_state()  # a door or the keypad changed ([L-5.2])
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
