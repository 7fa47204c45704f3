"""Pickup codes that are never stored: derived from the server secret, the parcel and a nonce.

The database keeps only the keyed hash (to check a code, and to push to the locker) and the
nonce; the clear code is re-derived when an SMS is rendered or the resident opens the app.
A new nonce gives a new code (collision within a bank, or a reissue after a leak).

Each parcel's code row is issued at its bank (unique among the bank's live codes), pushed to the
locker hashed, and retired when used, expired or revoked. Nothing here commits.
"""

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.security import hash_code
from app.core.settings import get_settings
from lockers import banks, command_queue, protocol
from lockers.config import get_locker_settings
from lockers.models import CodeStatus, LockerCommand, PickupCode
from logistics.parcels import Parcel

CODE_DIGITS = 6
PURPOSE = "pickup"


class ParcelBankNotAssigned(NotFound):
    """The parcel has no locker bank yet: no pickup code to issue."""

    case = "parcel_bank_not_assigned"


class ParcelCompartmentNotAssigned(NotFound):
    """The parcel has no compartment: the locker has no code entry for it."""

    case = "parcel_compartment_not_assigned"


def pickup_code(*, parcel_id: int, nonce: int) -> str:
    """The 6-digit pickup code of a parcel at a nonce."""
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, f"pickup-code:{parcel_id}:{nonce}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def pickup_code_hash(*, parcel_id: int, nonce: int) -> str:
    """The stored (and locker-pushed) keyed hash of the parcel's code."""
    return hash_code(pickup_code(parcel_id=parcel_id, nonce=nonce), purpose=PURPOSE)


def get_pickup_code(*, db_session: Session, parcel_id: int) -> PickupCode | None:
    """The code row of a parcel, if one was issued."""
    return db_session.scalar(select(PickupCode).where(PickupCode.parcel_id == parcel_id))


def pickup_code_for_parcel(*, db_session: Session, parcel_id: int) -> str | None:
    """The clear pickup code of a parcel while it is usable (derived, never stored), else None."""
    row = get_pickup_code(db_session=db_session, parcel_id=parcel_id)
    if row is None or row.status != CodeStatus.ACTIVE:
        return None
    return pickup_code(parcel_id=parcel_id, nonce=row.nonce)


def ensure_pickup_code(*, db_session: Session, parcel: Parcel) -> PickupCode:
    """Issue the parcel's code at its bank (unique among the bank's live codes), or keep the
    one issued; a parcel moved to another bank gets its code re-issued there."""
    if parcel.bank_id is None:
        raise ParcelBankNotAssigned(f"parcel {parcel.id} has no locker bank yet", field="parcel_id")
    row = get_pickup_code(db_session=db_session, parcel_id=parcel.id)
    if row is not None and row.bank_id == parcel.bank_id and row.status == CodeStatus.ACTIVE:
        row.expires_at = parcel.pickup_deadline
        return row
    nonce = 0 if row is None else row.nonce + 1
    settings = get_locker_settings()
    for _ in range(1000):
        code_hash = pickup_code_hash(parcel_id=parcel.id, nonce=nonce)
        taken = db_session.scalar(
            select(PickupCode.id).where(
                PickupCode.bank_id == parcel.bank_id, PickupCode.live_code_hash == code_hash
            )
        )
        if taken is not None:
            nonce += 1
            continue
        salt = protocol.new_salt()
        clear = pickup_code(parcel_id=parcel.id, nonce=nonce)
        fields: dict[str, Any] = dict(
            bank_id=parcel.bank_id,
            nonce=nonce,
            code_hash=code_hash,
            live_code_hash=code_hash,
            locker_salt=salt,
            locker_hash=protocol.locker_code_hash(
                clear, salt_hex=salt, iterations=settings.pbkdf2_iterations
            ),
            iterations=settings.pbkdf2_iterations,
            expires_at=parcel.pickup_deadline,
            status=CodeStatus.ACTIVE,
        )
        with _savepoint(db_session) as guarded:
            if row is None:
                row = PickupCode(parcel_id=parcel.id, **fields)
                db_session.add(row)
            else:
                for key, value in fields.items():
                    setattr(row, key, value)
            db_session.flush()
        if guarded.ok:
            return row
        if row not in db_session:
            row = None
        nonce += 1
    raise RuntimeError(f"no free pickup code for parcel {parcel.id}")


def code_entry(*, db_session: Session, parcel: Parcel, row: PickupCode) -> dict[str, Any]:
    """The locker's view of a code (protocol CodeEntry) as JSON-ready data."""
    if parcel.compartment_id is None:
        raise ParcelCompartmentNotAssigned(
            f"parcel {parcel.id} has no compartment", field="parcel_id"
        )
    compartment = banks.get_compartment(db_session=db_session, compartment_id=parcel.compartment_id)
    entry = protocol.CodeEntry(
        parcel_id=parcel.id,
        compartment=compartment.label,
        salt=row.locker_salt,
        hash=row.locker_hash,
        iterations=row.iterations,
        expires_at=row.expires_at,
    )
    return entry.model_dump(mode="json")


def push_code(*, db_session: Session, parcel: Parcel, row: PickupCode) -> LockerCommand:
    """Queue a `load_codes` command carrying the parcel's hashed code to its bank."""
    now = utcnow()
    ttl = max((row.expires_at - now).total_seconds(), 60.0)
    return command_queue.queue_command(
        db_session=db_session,
        bank_id=row.bank_id,
        kind=protocol.CommandType.LOAD_CODES,
        args={"codes": [code_entry(db_session=db_session, parcel=parcel, row=row)]},
        ttl_seconds=ttl,
        parcel_id=parcel.id,
        now=now,
    )


def retire_code(
    *, db_session: Session, parcel_id: int, status: CodeStatus, revoke_at_locker: bool
) -> PickupCode | None:
    """End a parcel's code (used, expired, revoked), optionally telling the locker to drop it."""
    row = get_pickup_code(db_session=db_session, parcel_id=parcel_id)
    if row is None or row.status != CodeStatus.ACTIVE:
        return row
    row.status = status
    row.live_code_hash = None
    if status == CodeStatus.USED:
        row.used_at = utcnow()
    if revoke_at_locker:
        command_queue.queue_command(
            db_session=db_session,
            bank_id=row.bank_id,
            kind=protocol.CommandType.REVOKE_CODE,
            args={"parcel_id": parcel_id},
            ttl_seconds=get_locker_settings().config_command_ttl_seconds,
            parcel_id=parcel_id,
        )
    return row


class _Guard:
    ok = True


@contextmanager
def _savepoint(db_session: Session) -> Iterator[_Guard]:
    """A savepoint that swallows a unique-constraint race (PostgreSQL). On SQLite there is
    none (releasing one commits the whole transaction with pysqlite): writers are serialized
    there, and the rare race raises IntegrityError to the caller's retry."""
    guard = _Guard()
    if db_session.get_bind().dialect.name != "postgresql":
        yield guard
        return
    try:
        with db_session.begin_nested():
            yield guard
    except IntegrityError:
        guard.ok = False
