"""What a simulated locker controller does, apart from its MQTT link: commands, doors, keypad,
and the non-volatile storage a restart keeps or loses.

`LockerLogic` is the base of `lockers.simulator.VirtualBank`, which adds the connection and
publishes what this part produces (`_event`, `_ack`, `_send_event`). Everything here runs on
the fleet's thread.
"""

import json
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockers import protocol
from lockers.sim_keypad import KeypadLogic

if TYPE_CHECKING:
    from lockers.sim_fleet import Fleet

SETPOINTS = {"ambient": 20.0, "chilled": 3.0, "frozen": -18.0}
FIRMWARE = "sim-1.0"
EXECUTED_MEMORY = 5000
EVENT_MEMORY = 10_000
# What makes a connected locker publish its state at once ([L-5.2]).
STATE_CHANGES = {
    protocol.EventType.DOOR_OPENED,
    protocol.EventType.DOOR_CLOSED,
    protocol.EventType.DOOR_JAMMED,
    protocol.EventType.KEYPAD_LOCKED,
    protocol.EventType.KEYPAD_UNLOCKED,
}
STATE_COMMANDS = {
    protocol.CommandType.CONFIGURE,
    protocol.CommandType.SET_OUT_OF_SERVICE,
    protocol.CommandType.SET_CONTENTS,
}


@dataclass
class SimCompartment:
    label: str
    zone: str
    parcel_id: int | None = None
    door_open: bool = False
    out_of_service: bool = False
    jammed: bool = False
    # The occupancy sensor sees a parcel the controller no longer knows (storage lost).
    unknown_parcel: bool = False
    # The parcel a deposit opening announced: what the door closing on a parcel holds.
    expected_parcel: int | None = None

    @property
    def occupied(self) -> bool:
        return self.parcel_id is not None or self.unknown_parcel


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


class LockerLogic(KeypadLogic):
    """A locker controller's behaviour and memory (see the module docstring)."""

    fleet: "Fleet"
    code: str
    auto_close_s: float | None
    operator_removes_parcel: bool
    stats: Counter[str]
    executions: Counter[str]

    def _init_memory(self, spec: BankSpec) -> None:
        self.compartments = {
            label: SimCompartment(label=label, zone=zone) for label, zone in spec.compartments
        }
        self._wipe_memory()

    def _wipe_memory(self) -> None:
        """Factory state: counters, codes, executed ids, events and contents all forgotten.
        Parcels stay where they are: the occupancy sensors still see them."""
        self.storage_id = uuid.uuid4().hex  # a fresh storage is a new one
        self.codes: dict[int, protocol.CodeEntry] = {}
        self.failed_attempts = 0
        self.locked_until: datetime | None = None
        self.max_attempts = self.fleet.keypad_max_attempts
        self.lockout_s = self.fleet.keypad_lockout_s
        self.heartbeat_s = self.fleet.heartbeat_s
        self.seq = 0
        self.connections = 0
        self.event_seq = 0
        self.event_log: OrderedDict[int, protocol.EventMessage] = OrderedDict()
        self.executed: OrderedDict[str, bytes] = OrderedDict()
        for compartment in self.compartments.values():
            compartment.unknown_parcel = compartment.occupied
            compartment.parcel_id = None
            compartment.out_of_service = False

    def _storage(self) -> dict[str, Any]:
        """The non-volatile storage as JSON-ready data."""
        return {
            "storage_id": self.storage_id,
            "seq": self.seq,
            "connections": self.connections,
            "event_seq": self.event_seq,
            "event_log": [e.model_dump(mode="json") for e in self.event_log.values()],
            "executed": {command_id: ack.decode() for command_id, ack in self.executed.items()},
            "codes": [entry.model_dump(mode="json") for entry in self.codes.values()],
            "contents": {
                c.label: c.parcel_id for c in self.compartments.values() if c.parcel_id is not None
            },
            "out_of_service": [c.label for c in self.compartments.values() if c.out_of_service],
            "failed_attempts": self.failed_attempts,
            "locked_until": protocol.utc_iso(self.locked_until) if self.locked_until else None,
            "settings": {
                "keypad_max_attempts": self.max_attempts,
                "keypad_lockout_s": self.lockout_s,
                "heartbeat_s": self.heartbeat_s,
            },
        }

    def _load_storage(self, data: dict[str, Any]) -> None:
        """Take a storage image (from `_storage`) as this controller's memory."""
        self._wipe_memory()
        self.storage_id = str(data["storage_id"])
        self.seq = int(data["seq"])
        self.connections = int(data["connections"])
        self.event_seq = int(data["event_seq"])
        for raw in data["event_log"]:
            event = protocol.EventMessage.model_validate(raw)
            self.event_log[event.seq] = event
        self.executed = OrderedDict(
            (command_id, ack.encode()) for command_id, ack in data["executed"].items()
        )
        for raw in data["codes"]:
            entry = protocol.CodeEntry.model_validate(raw)
            self.codes[entry.parcel_id] = entry
        for label, parcel_id in data["contents"].items():
            compartment = self.compartments.get(label)
            if compartment is not None:
                compartment.parcel_id = int(parcel_id)
                compartment.unknown_parcel = False
        for label in data["out_of_service"]:
            if label in self.compartments:
                self.compartments[label].out_of_service = True
        self.failed_attempts = int(data["failed_attempts"])
        locked = data.get("locked_until")
        self.locked_until = datetime.fromisoformat(locked) if locked else None
        settings = data["settings"]
        self.max_attempts = int(settings["keypad_max_attempts"])
        self.lockout_s = float(settings["keypad_lockout_s"])
        self.heartbeat_s = float(settings["heartbeat_s"])

    def _storage_file(self) -> Path | None:
        folder = self.fleet.storage_dir
        return None if folder is None else Path(folder) / f"{self.code}.json"

    def _save_storage(self) -> None:
        path = self._storage_file()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self._storage()))

    def _load_saved_storage(self) -> None:
        path = self._storage_file()
        if path is not None and path.exists():
            self._load_storage(json.loads(path.read_text()))

    # --- what the MQTT side provides (and `_event`, declared in KeypadLogic) -----------------

    def _send_event(self, message: protocol.EventMessage) -> None:
        raise NotImplementedError

    def _ack(
        self,
        command_id: str,
        error: str | None = None,
        detail: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bytes:
        raise NotImplementedError

    # --- commands ----------------------------------------------------------------------------

    def _execute(self, command: protocol.CommandMessage) -> bytes:
        self.executions[command.command_id] += 1
        args = command.args
        kind = protocol.CommandType
        if command.type == kind.OPEN_COMPARTMENT:
            return self._open(command.command_id, args)
        if command.type == kind.LOAD_CODES:
            try:  # all or nothing: one malformed entry refuses the command ([L-4.6])
                entries = [protocol.CodeEntry.model_validate(raw) for raw in args["codes"]]
            except (KeyError, TypeError, ValueError):
                return self._ack(command.command_id, protocol.AckError.INVALID.value, "codes")
            for entry in entries:
                self.codes[entry.parcel_id] = entry
            return self._ack(command.command_id)
        if command.type == kind.REVOKE_CODE:
            parcel_id = args.get("parcel_id")
            if isinstance(parcel_id, bool) or not isinstance(parcel_id, int):
                return self._ack(command.command_id, protocol.AckError.INVALID.value, "parcel_id")
            self.codes.pop(parcel_id, None)
            return self._ack(command.command_id)
        if command.type == kind.SET_CONTENTS:
            return self._set_contents(command.command_id, args)
        if command.type == kind.SET_OUT_OF_SERVICE:
            compartment = self.compartments.get(str(args.get("compartment")))
            if compartment is None:
                return self._ack(command.command_id, protocol.AckError.UNKNOWN_COMPARTMENT.value)
            compartment.out_of_service = bool(args.get("out_of_service"))
            if not compartment.out_of_service:
                compartment.jammed = False  # repaired ([L-7.8])
            return self._ack(command.command_id)
        if command.type == kind.REPLAY_EVENTS:
            return self._replay(command.command_id, args)
        if command.type == kind.CONFIGURE:
            errors = protocol.configure_errors(args)
            if errors:  # nothing changes ([L-7.9])
                return self._ack(command.command_id, protocol.AckError.INVALID.value, errors[0])
            self.max_attempts = int(args.get("keypad_max_attempts") or self.max_attempts)
            self.lockout_s = float(args.get("keypad_lockout_s") or self.lockout_s)
            self.heartbeat_s = float(args.get("heartbeat_s") or self.heartbeat_s)
            return self._ack(command.command_id)
        return self._ack(command.command_id, protocol.AckError.UNSUPPORTED.value)

    def _replay(self, command_id: str, args: dict[str, Any]) -> bytes:
        first, last = args.get("from_seq") or 1, args.get("to_seq") or self.event_seq
        if not isinstance(first, int) or not isinstance(last, int):
            return self._ack(command_id, protocol.AckError.INVALID.value, "from_seq/to_seq")
        replayed = 0
        for seq in range(first, min(last, self.event_seq) + 1):
            event = self.event_log.get(seq)
            if event is not None:
                self._send_event(event)
                replayed += 1
        self.stats["events_replayed"] += replayed
        oldest = next(iter(self.event_log), self.event_seq + 1)
        return self._ack(command_id, result={"replayed": replayed, "oldest_available": oldest})

    def _set_contents(self, command_id: str, args: dict[str, Any]) -> bytes:
        """Learn which parcel each listed compartment holds; a compartment whose sensor sees
        nothing (or another known parcel) is left alone and named in the ack."""
        restored, empty, conflicting = 0, [], []
        try:
            entries = [protocol.ContentEntry.model_validate(raw) for raw in args["compartments"]]
        except (KeyError, TypeError, ValueError):
            return self._ack(command_id, protocol.AckError.INVALID.value)
        for entry in entries:
            compartment = self.compartments.get(entry.compartment)
            if compartment is None or not compartment.occupied:
                empty.append(entry.compartment)
            elif compartment.parcel_id not in (None, entry.parcel_id):
                conflicting.append(entry.compartment)
            else:
                compartment.parcel_id = entry.parcel_id
                compartment.unknown_parcel = False
                restored += 1
        result = {"restored": restored, "empty": empty, "conflicting": conflicting}
        return self._ack(command_id, result=result)

    def _open(self, command_id: str, args: dict[str, Any]) -> bytes:
        label, purpose = args.get("compartment"), args.get("purpose") or "operator"
        if not isinstance(label, str) or purpose not in set(protocol.OpenPurpose):
            return self._ack(command_id, protocol.AckError.INVALID.value, "compartment/purpose")
        if not isinstance(args.get("parcel_id") or 0, int):
            return self._ack(command_id, protocol.AckError.INVALID.value, "parcel_id")
        compartment = self.compartments.get(label)
        if compartment is None:
            return self._ack(command_id, protocol.AckError.UNKNOWN_COMPARTMENT.value)
        if compartment.out_of_service:
            return self._ack(command_id, protocol.AckError.OUT_OF_SERVICE.value)
        if purpose == protocol.OpenPurpose.DEPOSIT.value and compartment.occupied:
            return self._ack(command_id, protocol.AckError.OCCUPIED.value)  # [L-7.6]
        if compartment.jammed:
            compartment.out_of_service = True  # until repaired ([L-7.8])
            ack = self._ack(command_id, protocol.AckError.DOOR_JAMMED.value)
            self._event(protocol.EventType.DOOR_JAMMED, compartment=label, command_id=command_id)
            return ack
        compartment.door_open = True
        parcel_id = args.get("parcel_id") or compartment.parcel_id
        if purpose == "deposit" and isinstance(parcel_id, int):
            compartment.expected_parcel = parcel_id
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
                "operator": compartment.occupied and not self.operator_removes_parcel,
            }.get(purpose, compartment.occupied)
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
        if parcel_id is None and parcel_present:
            parcel_id = compartment.expected_parcel  # a door closed by hand after a deposit
        compartment.expected_parcel = None
        if parcel_present:
            compartment.parcel_id = parcel_id if parcel_id is not None else compartment.parcel_id
            compartment.unknown_parcel = compartment.parcel_id is None
            parcel_id = compartment.parcel_id
        else:
            parcel_id = parcel_id if parcel_id is not None else compartment.parcel_id
            compartment.parcel_id = None
            compartment.unknown_parcel = False
        self._event(
            protocol.EventType.DOOR_CLOSED,
            compartment=label,
            command_id=command_id,
            parcel_id=parcel_id,
            parcel_present=parcel_present,
        )
