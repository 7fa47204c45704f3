"""The thread-safe controls of a simulated locker bank: what tests, the CLI and the other
simulators (residents at the keypad, drivers, operators) do to it. Each call runs on the
fleet's thread; `lockers.simulator.VirtualBank` provides the MQTT side they drive.
"""

from collections import Counter
from typing import Any

from lockers import protocol
from lockers.sim_locker import LockerLogic


class BankControls(LockerLogic):
    """Public methods of `VirtualBank` (see lockers/simulator.py)."""

    connected: bool
    link_down_until: float
    muted: bool
    ignore_commands: int
    lose_events: int
    restarts: int
    received: Counter[str]

    # --- provided by the MQTT side -----------------------------------------------------------

    def connect(self) -> None:
        raise NotImplementedError

    def _publish_state(self) -> None:
        raise NotImplementedError

    def _drop_link(self, seconds: float) -> None:
        raise NotImplementedError

    def _heat(self, zone: str, temp_c: float | None) -> None:
        raise NotImplementedError

    def _restart(
        self, keep_storage: bool, storage: dict[str, Any] | None, down_s: float, graceful: bool
    ) -> None:
        raise NotImplementedError

    # --- the controls --------------------------------------------------------------------------

    def enter_code(self, code: str) -> str:
        """Type a code on the keypad: "opened:<label>", "rejected" or "locked"."""
        return self.fleet.call(self._enter_code, code)

    def scan_qr(self, text: str) -> str:
        """Show a pickup QR code to the scanner."""
        return self.fleet.call(self._scan_qr, text)

    def restart(
        self,
        *,
        keep_storage: bool = False,
        storage: dict[str, Any] | None = None,
        down_s: float = 0.2,
        graceful: bool = True,
    ) -> None:
        """Power-cycle the controller: disconnect (a clean shutdown state, or an abrupt loss
        when not `graceful`), forget everything held in memory, come back after `down_s`.

        Its non-volatile storage (counters, events, executed ids, codes, which parcel each
        compartment holds) is wiped unless `keep_storage`; `storage` (from `storage()`)
        replaces it with that image instead, as an old backup restored would. Parcels stay in
        their compartments either way. Returns at once; the bank reconnects by itself.
        """
        self.fleet.call(self._restart, keep_storage, storage, down_s, graceful)

    def storage(self) -> dict[str, Any]:
        """A copy of the non-volatile storage (JSON-ready), for `restart(storage=...)`."""
        return self.fleet.call(self._storage)

    def request_resync(self) -> protocol.EventMessage:
        """Ask the server for every live code and parcel again (a `resync_requested` event)."""
        return self.fleet.call(
            lambda: self._event(protocol.EventType.RESYNC_REQUESTED, reason="requested")
        )

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
                        "unknown_parcel": c.unknown_parcel,
                    }
                    for c in self.compartments.values()
                },
                "failed_attempts": self.failed_attempts,
                "locked_until": self.locked_until,
                "executions": dict(self.executions),
                "received": dict(self.received),
                "event_seq": self.event_seq,
                "restarts": self.restarts,
            }

        return self.fleet.call(_snap)
