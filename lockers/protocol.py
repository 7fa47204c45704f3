"""The locker protocol, version 1.1 (wire `"v": 1`): topics and JSON payloads
(docs/locker-protocol.md is the prose, with the clause ids quoted here).

Both sides use these models: the bridge to parse what lockers send and to build commands, the
simulator to play a locker. Every payload carries `v` (schema version); a receiver refuses a
major version it does not know and ignores fields it does not know.
"""

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)

SCHEMA_VERSION = 1
QOS = 1
CODE_DIGITS = 6
QR_PREFIX = "PKP1"


class Channel(StrEnum):
    STATE = "state"
    EVENTS = "events"
    ACKS = "acks"
    COMMANDS = "commands"


def topic(prefix: str, bank_code: str, channel: Channel) -> str:
    """The topic of one bank's channel, e.g. `lockers/bank-12/events`."""
    return f"{prefix}/{bank_code}/{channel.value}"


def subscription(prefix: str, channel: Channel) -> str:
    """The wildcard filter for one channel of every bank."""
    return f"{prefix}/+/{channel.value}"


def parse_topic(prefix: str, name: str) -> tuple[str, Channel] | None:
    """(bank code, channel) of a topic under `prefix`, or None if it is not ours."""
    head = prefix + "/"
    if not name.startswith(head):
        return None
    parts = name[len(head) :].split("/")
    if len(parts) != 2 or not parts[0]:
        return None
    try:
        return parts[0], Channel(parts[1])
    except ValueError:
        return None


def utc_iso(moment: datetime) -> str:
    """An RFC 3339 UTC timestamp with millisecond precision and a `Z` (the one formatter of
    every timestamp on the wire, [S-4.1]); a naive value is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# A timestamp field: parsed from any RFC 3339 text, written back with milliseconds and `Z`.
Timestamp = Annotated[datetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: int = SCHEMA_VERSION

    @field_validator("v")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(
                f"unsupported schema version {value}; this side speaks {SCHEMA_VERSION}"
            )
        return value


# --- locker -> server ------------------------------------------------------------------------


class DoorState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    JAMMED = "jammed"


class CompartmentReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    door: DoorState = DoorState.CLOSED
    occupied: bool = False
    out_of_service: bool = False


class KeypadReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    failed_attempts: int = 0
    locked_until: Timestamp | None = None
    max_attempts: int | None = None
    lockout_s: int | None = None


class StateMessage(_Message):
    """`{prefix}/{bank}/state`, retained. `online: false` is also the last will."""

    online: bool
    ts: Timestamp | None = None
    seq: int | None = None
    firmware: str | None = None
    heartbeat_s: int | None = None
    zones: dict[str, float] = Field(default_factory=dict, description="zone -> degrees Celsius")
    compartments: dict[str, CompartmentReport] = Field(default_factory=dict)
    keypad: KeypadReport | None = None
    codes_loaded: int | None = None
    event_seq: int | None = Field(
        default=None, description="Sequence number of the last event this bank issued"
    )
    clock_synced: bool | None = None
    connection: int | None = Field(
        default=None, description="Counts the locker's MQTT connections (changes on reconnect)"
    )
    reason: str | None = None
    storage_id: str | None = Field(
        default=None,
        min_length=8,
        max_length=64,
        description="Names the locker's non-volatile storage; a new one means it was lost",
    )


class EventType(StrEnum):
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    DOOR_JAMMED = "door_jammed"
    PARCEL_COLLECTED = "parcel_collected"
    CODE_REJECTED = "code_rejected"
    KEYPAD_LOCKED = "keypad_locked"
    KEYPAD_UNLOCKED = "keypad_unlocked"
    TEMPERATURE = "temperature"
    RESYNC_REQUESTED = "resync_requested"


class EventMessage(_Message):
    """`{prefix}/{bank}/events`, QoS 1: something happened at the locker.

    `seq` numbers a bank's events 1, 2, 3... without gaps, so the server can ask for the
    ones it never received (`replay_events`); a replay re-sends the same event ids.
    """

    event_id: str = Field(min_length=8, max_length=64)
    seq: int = Field(ge=1)
    ts: Timestamp
    type: EventType
    compartment: str | None = None
    parcel_id: int | None = None
    command_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class AckStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


class AckError(StrEnum):
    UNKNOWN_COMPARTMENT = "unknown_compartment"
    DOOR_JAMMED = "door_jammed"
    OUT_OF_SERVICE = "out_of_service"
    EXPIRED = "expired"
    INVALID = "invalid"
    UNSUPPORTED = "unsupported"
    OCCUPIED = "occupied"  # 1.1: a deposit into a compartment that holds a parcel


class RejectReason(StrEnum):
    """`code_rejected.data.reason` (1.1)."""

    WRONG_CODE = "wrong_code"  # counted toward the lockout
    PARCEL_NOT_HERE = "parcel_not_here"  # a right code, its parcel not in its compartment


# `configure` settings and their ranges ([L-7.9]).
CONFIGURE_RANGES: dict[str, tuple[int, int]] = {
    "keypad_max_attempts": (1, 20),
    "keypad_lockout_s": (1, 86_400),
    "heartbeat_s": (5, 300),
}


class AckMessage(_Message):
    """`{prefix}/{bank}/acks`, QoS 1: the result of one command, by its id."""

    command_id: str = Field(min_length=8, max_length=64)
    status: AckStatus
    error: str | None = None
    detail: str | None = None
    result: dict[str, Any] | None = None
    seq: int | None = None
    ts: Timestamp | None = None


# --- server -> locker ------------------------------------------------------------------------


class CommandType(StrEnum):
    OPEN_COMPARTMENT = "open_compartment"
    LOAD_CODES = "load_codes"
    REVOKE_CODE = "revoke_code"
    SET_OUT_OF_SERVICE = "set_out_of_service"
    CONFIGURE = "configure"
    REPLAY_EVENTS = "replay_events"
    SET_CONTENTS = "set_contents"


class OpenPurpose(StrEnum):
    DEPOSIT = "deposit"
    RETRIEVE = "retrieve"
    OPERATOR = "operator"


class CodeEntry(BaseModel):
    """One parcel's code as a locker stores it: a salted slow hash, never the code."""

    model_config = ConfigDict(extra="ignore")

    parcel_id: int
    compartment: str
    salt: str = Field(pattern=r"^[0-9a-fA-F]{32}$", description="hex, 16 bytes")
    hash: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="hex PBKDF2-HMAC-SHA256(code, salt, iterations, 32 bytes)",
    )
    iterations: int = Field(ge=1)
    expires_at: Timestamp


class ContentEntry(BaseModel):
    """`set_contents`: the parcel a compartment holds, as the server knows it (a locker that
    lost its storage learns again which parcel each occupied compartment holds)."""

    model_config = ConfigDict(extra="ignore")

    compartment: str
    parcel_id: int


class CommandMessage(_Message):
    """`{prefix}/{bank}/commands`, QoS 1: do something, answer on `acks` with the same id."""

    command_id: str = Field(min_length=8, max_length=64)
    type: CommandType
    issued_at: Timestamp
    expires_at: Timestamp
    args: dict[str, Any] = Field(default_factory=dict)


def command_payload(
    *,
    command_id: str,
    kind: str,
    args: dict[str, Any],
    issued_at: datetime,
    expires_at: datetime,
) -> bytes:
    """The JSON bytes of a command as published."""
    message = CommandMessage(
        command_id=command_id,
        type=CommandType(kind),
        issued_at=issued_at,
        expires_at=expires_at,
        args=args,
    )
    return message.model_dump_json().encode()


def configure_errors(args: dict[str, Any]) -> list[str]:
    """What is wrong with a `configure` command's settings (empty: valid)."""
    errors = []
    for name, (low, high) in CONFIGURE_RANGES.items():
        value = args.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors.append(f"{name} must be an integer {low}-{high}")
    return errors


def screen_command(payload: bytes | bytearray) -> tuple[str | None, tuple[str, str] | None]:
    """How a locker screens a command before executing it: its readable id (None: drop it,
    nothing to ack) and, if it must be refused unexecuted, the ack's (error, detail): an
    unknown `v` or type is `unsupported` ([L-4.5]), anything else malformed `invalid`
    ([L-4.6])."""
    try:
        raw = json.loads(payload)
    except ValueError:
        return None, None
    command_id = raw.get("command_id") if isinstance(raw, dict) else None
    if not isinstance(command_id, str) or not 8 <= len(command_id) <= 64:
        return None, None
    if raw.get("v") != SCHEMA_VERSION:
        return command_id, (AckError.UNSUPPORTED.value, "v")
    if raw.get("type") not in {kind.value for kind in CommandType}:
        return command_id, (AckError.UNSUPPORTED.value, "type")
    try:
        CommandMessage.model_validate(raw)
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"])
        return command_id, (AckError.INVALID.value, where)
    return command_id, None


def offline_will(reason: str = "connection_lost") -> bytes:
    """The retained offline state: the last will a locker registers at CONNECT
    (`connection_lost`) and the state of a clean shutdown (`shutdown`), exactly
    `{"v":1,"online":false,"reason":...}` ([L-2.2], [L-5.5])."""
    payload = {"v": SCHEMA_VERSION, "online": False, "reason": reason}
    return json.dumps(payload, separators=(",", ":")).encode()


# --- codes at the locker ---------------------------------------------------------------------


def locker_code_hash(code: str, *, salt_hex: str, iterations: int) -> str:
    """The hash a locker compares a typed code with: PBKDF2-HMAC-SHA256, 32 bytes, hex."""
    digest = hashlib.pbkdf2_hmac("sha256", code.encode(), bytes.fromhex(salt_hex), iterations)
    return digest.hex()


def new_salt() -> str:
    """A random 16-byte salt, hex."""
    return secrets.token_hex(16)


def locker_code_matches(code: str, entry: CodeEntry) -> bool:
    """Whether a typed code matches a loaded entry (constant-time comparison)."""
    candidate = locker_code_hash(code, salt_hex=entry.salt, iterations=entry.iterations)
    return hmac.compare_digest(candidate, entry.hash)


def qr_payload(*, bank_code: str, parcel_id: int, code: str) -> str:
    """The text of a pickup QR code: `PKP1:<bank>:<parcel id>:<code>`."""
    return f"{QR_PREFIX}:{bank_code}:{parcel_id}:{code}"


def parse_qr(text: str) -> tuple[str, int, str] | None:
    """(bank code, parcel id, code) of a pickup QR text, or None."""
    parts = text.split(":")
    if len(parts) != 4 or parts[0] != QR_PREFIX or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2]), parts[3]
