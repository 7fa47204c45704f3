"""The simulated locker's storage: what a wipe forgets, what a storage folder keeps across
runs, and how `set_contents` names the parcels a wiped controller still physically holds.
No broker: the fleet is not started, so calls run in the test's thread."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from app.core.db import utcnow
from lockers import protocol
from lockers.broker import MqttTarget
from lockers.simulator import BankSpec, Fleet, VirtualBank

TARGET = MqttTarget(host="127.0.0.1", port=1)


class _Bank(VirtualBank):
    """A bank whose acks are recorded instead of published."""

    def __init__(self, fleet: Fleet, spec: BankSpec) -> None:
        super().__init__(fleet, spec)
        self.acks: list[dict[str, Any]] = []

    def _ack(
        self,
        command_id: str,
        error: str | None = None,
        detail: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bytes:
        self.acks.append({"command_id": command_id, "error": error, "result": result})
        return repr(self.acks[-1]).encode()

    def _send_event(self, message: protocol.EventMessage) -> None:
        pass


def _bank(storage_dir: Path | None = None) -> _Bank:
    fleet = Fleet(TARGET, storage_dir=str(storage_dir) if storage_dir else None)
    spec = BankSpec(code="sim-1", compartments=[("A1", "chilled"), ("A2", "chilled")])
    return _Bank(fleet, spec)


def _command(kind: protocol.CommandType, **args: object) -> protocol.CommandMessage:
    now = utcnow()
    return protocol.CommandMessage(
        command_id=f"cmd-{kind.value}-{now.timestamp()}",
        type=kind,
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
        args=dict(args),
    )


def _entry(parcel_id: int, label: str) -> dict[str, object]:
    salt = protocol.new_salt()
    return protocol.CodeEntry(
        parcel_id=parcel_id,
        compartment=label,
        salt=salt,
        hash=protocol.locker_code_hash("123456", salt_hex=salt, iterations=10),
        iterations=10,
        expires_at=utcnow() + timedelta(hours=1),
    ).model_dump(mode="json")


def test_a_wipe_forgets_codes_and_contents_but_not_the_parcels_inside() -> None:
    bank = _bank()
    bank.compartments["A1"].parcel_id = 7
    bank._execute(_command(protocol.CommandType.LOAD_CODES, codes=[_entry(7, "A1")]))
    before = bank.storage_id

    bank._wipe_memory()

    assert bank.codes == {} and bank.event_seq == 0 and bank.storage_id != before
    assert bank.compartments["A1"].parcel_id is None and bank.compartments["A1"].occupied
    assert not bank.compartments["A2"].occupied
    assert bank._enter_code("123456") == "rejected"


def test_set_contents_names_occupied_compartments_only() -> None:
    bank = _bank()
    bank.compartments["A1"].parcel_id = 7
    bank._wipe_memory()

    bank._execute(
        _command(
            protocol.CommandType.SET_CONTENTS,
            compartments=[
                {"compartment": "A1", "parcel_id": 7},
                {"compartment": "A2", "parcel_id": 8},
            ],
        )
    )
    bank._execute(_command(protocol.CommandType.LOAD_CODES, codes=[_entry(7, "A1")]))

    assert bank.acks[0]["result"] == {"restored": 1, "empty": ["A2"], "conflicting": []}
    assert bank.compartments["A1"].parcel_id == 7 and not bank.compartments["A2"].occupied
    assert bank._enter_code("123456") == "opened:A1"


def test_a_storage_folder_keeps_the_storage_across_runs(tmp_path: Path) -> None:
    bank = _bank(tmp_path)
    bank.compartments["A2"].parcel_id = 9
    bank._execute(_command(protocol.CommandType.LOAD_CODES, codes=[_entry(9, "A2")]))
    bank.event_seq = 12
    bank.executed["cmd-already-done"] = b'{"status": "ok"}'
    bank._save_storage()

    again = _bank(tmp_path)

    assert again.storage_id == bank.storage_id
    assert again.event_seq == 12 and sorted(again.codes) == [9]
    assert again.compartments["A2"].parcel_id == 9
    assert again.executed == bank.executed  # a re-sent command is still recognised
