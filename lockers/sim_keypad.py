"""The simulated locker's keypad and QR scanner (protocol §9): codes checked offline against
the loaded hashes, the lockout, and the events each try sends.

`KeypadLogic` is a base of `lockers.sim_locker.LockerLogic`; everything runs on the fleet's
thread.
"""

from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.core.db import utcnow
from lockers import protocol

if TYPE_CHECKING:
    from lockers.sim_locker import SimCompartment

REFUSED_LOCKED = "locked"


class KeypadLogic:
    """Codes, the lockout and pickups ([L-9.1]-[L-9.9], [L-6.5])."""

    code: str
    compartments: "dict[str, SimCompartment]"
    codes: dict[int, protocol.CodeEntry]
    failed_attempts: int
    locked_until: datetime | None
    max_attempts: int
    lockout_s: float
    stats: Counter[str]

    def _event(
        self,
        kind: protocol.EventType,
        *,
        compartment: str | None = None,
        parcel_id: int | None = None,
        command_id: str | None = None,
        **data: Any,
    ) -> protocol.EventMessage:
        raise NotImplementedError

    def _close(
        self,
        label: str,
        *,
        parcel_present: bool,
        parcel_id: int | None = None,
        command_id: str | None = None,
    ) -> None:
        raise NotImplementedError

    def _end_lockout_if_over(self, now: datetime) -> bool:
        """Whether the keypad is still locked; a lockout that ended clears the counter and
        sends `keypad_unlocked` once ([L-9.7])."""
        if self.locked_until is None:
            return False
        if now < self.locked_until:
            return True
        self.locked_until = None
        self.failed_attempts = 0
        self._event(protocol.EventType.KEYPAD_UNLOCKED)
        return False

    def _enter_code(self, code: str) -> str:
        now = utcnow()
        if self._end_lockout_if_over(now):
            self.stats["keypad_refused_locked"] += 1
            return REFUSED_LOCKED  # not counted, no event ([L-9.6])
        for entry in list(self.codes.values()):
            if entry.expires_at > now and protocol.locker_code_matches(code, entry):
                return self._hand_out(entry, method="keypad")
        return self._wrong_code(now)

    def _scan_qr(self, text: str) -> str:
        now = utcnow()
        if self._end_lockout_if_over(now):
            self.stats["keypad_refused_locked"] += 1
            return REFUSED_LOCKED
        parsed = protocol.parse_qr(text)
        if parsed is None or parsed[0] != self.code:
            return self._wrong_code(now)
        entry = self.codes.get(parsed[1])
        if (
            entry is None
            or entry.expires_at <= now
            or not protocol.locker_code_matches(parsed[2], entry)
        ):
            return self._wrong_code(now)
        return self._hand_out(entry, method="qr")

    def _hand_out(self, entry: protocol.CodeEntry, *, method: str) -> str:
        compartment = self.compartments.get(entry.compartment)
        if (
            compartment is None
            or compartment.parcel_id != entry.parcel_id
            or compartment.out_of_service
        ):
            # The right code, but its parcel is not (known to be) there: nothing to guess,
            # so it does not count toward the lockout ([L-9.9]).
            self._event(
                protocol.EventType.CODE_REJECTED,
                failed_attempts=self.failed_attempts,
                reason=protocol.RejectReason.PARCEL_NOT_HERE.value,
            )
            return "rejected:parcel_not_here"
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
        self._event(
            protocol.EventType.CODE_REJECTED,
            failed_attempts=self.failed_attempts,
            reason=protocol.RejectReason.WRONG_CODE.value,
        )
        if self.failed_attempts >= self.max_attempts:
            self.locked_until = now + timedelta(seconds=self.lockout_s)
            self._event(
                protocol.EventType.KEYPAD_LOCKED,
                until=self.locked_until,
                failed_attempts=self.failed_attempts,
            )
            return REFUSED_LOCKED
        return "rejected"
