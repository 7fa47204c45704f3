"""Locker service functions: banks and their live state, the command outbox, pickup codes,
parcel/compartment/order moves the locker flows make, and the audit log. Nothing here commits."""

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import NotFound
from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods.models import Compartment, CompartmentStatus, LockerBank
from app.orders import states as order_states
from app.orders.models import Order, OrderStatus
from lockers import codes, protocol, wakeup
from lockers.config import get_locker_settings
from lockers.models import (
    AuditLog,
    CodeStatus,
    CommandStatus,
    LockerBankState,
    LockerCommand,
    PickupCode,
)
from logistics.models import Parcel, ParcelStatus

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "locker_commands"
FINISHED_CHANNEL = "locker_command_finished"
_FINISHED = "lockers_finished"
LIVE_PARCEL = (ParcelStatus.READY_FOR_PICKUP, ParcelStatus.EXPIRED)
AWAITING_DEPOSIT = (ParcelStatus.RESERVED, ParcelStatus.LOADED)
_ORDER_PATH = (
    OrderStatus.CONFIRMED,
    OrderStatus.PACKED,
    OrderStatus.OUT_FOR_DELIVERY,
    OrderStatus.READY_FOR_PICKUP,
    OrderStatus.COLLECTED,
)


# --- banks and live state --------------------------------------------------------------------


def get_bank(*, db_session: Session, bank_id: int) -> LockerBank:
    """A locker bank by id, or NotFound."""
    bank = db_session.get(LockerBank, bank_id)
    if bank is None:
        raise NotFound(f"no locker bank {bank_id}", field="bank_id")
    return bank


def get_bank_by_code(*, db_session: Session, code: str) -> LockerBank | None:
    """A locker bank by its code (its MQTT identity), if any."""
    return db_session.scalar(select(LockerBank).where(LockerBank.code == code))


def get_all_banks(*, db_session: Session) -> list[LockerBank]:
    """Every locker bank, by id."""
    return list(db_session.scalars(select(LockerBank).order_by(LockerBank.id)))


def get_state(*, db_session: Session, bank_id: int) -> LockerBankState | None:
    """The last known live state of a bank, if it ever spoke."""
    return db_session.get(LockerBankState, bank_id)


def get_or_create_state(*, db_session: Session, bank_id: int) -> LockerBankState:
    """The live-state row of a bank, created (offline) on first use."""
    state = db_session.get(LockerBankState, bank_id)
    if state is None:
        state = LockerBankState(bank_id=bank_id, online=False, state={})
        db_session.add(state)
        db_session.flush()
    # Keep it referenced for the session's life (the identity map alone holds it weakly).
    db_session.info.setdefault("lockers_held", []).append(state)
    return state


def is_online(*, db_session: Session, bank_id: int, now: datetime | None = None) -> bool:
    """Whether the bank is online: its retained state says so and it spoke recently."""
    state = get_state(db_session=db_session, bank_id=bank_id)
    if state is None or not state.online or state.last_seen_at is None:
        return False
    now = now or utcnow()
    limit = timedelta(seconds=get_locker_settings().offline_after_seconds)
    return now - state.last_seen_at <= limit


def get_compartment(*, db_session: Session, compartment_id: int) -> Compartment:
    """A compartment by id, or NotFound."""
    compartment = db_session.get(Compartment, compartment_id)
    if compartment is None:
        raise NotFound(f"no compartment {compartment_id}", field="compartment_id")
    return compartment


def get_compartment_by_label(
    *, db_session: Session, bank_id: int, label: str
) -> Compartment | None:
    """A bank's compartment by its label, if any."""
    return db_session.scalar(
        select(Compartment).where(Compartment.bank_id == bank_id, Compartment.label == label)
    )


# --- parcels, compartments, orders -----------------------------------------------------------


def get_parcel(*, db_session: Session, parcel_id: int, for_update: bool = False) -> Parcel:
    """A parcel by id (optionally row-locked), or NotFound."""
    query = select(Parcel).where(Parcel.id == parcel_id)
    if for_update:
        query = query.with_for_update()
    parcel = db_session.scalar(query)
    if parcel is None:
        raise NotFound(f"no parcel {parcel_id}", field="parcel_id")
    return parcel


def get_parcels_of_resident(*, db_session: Session, resident_id: int) -> list[Parcel]:
    """A resident's parcels that are on their way to, in, or just out of a locker."""
    shown = (*AWAITING_DEPOSIT, *LIVE_PARCEL, ParcelStatus.COLLECTED, ParcelStatus.UNDELIVERED)
    return list(
        db_session.scalars(
            select(Parcel)
            .where(Parcel.resident_id == resident_id, Parcel.status.in_(shown))
            .order_by(Parcel.pickup_deadline, Parcel.id)
        )
    )


def parcel_in_compartment(*, db_session: Session, compartment_id: int) -> Parcel | None:
    """The parcel assigned to a compartment that is not finished with it yet."""
    return db_session.scalar(
        select(Parcel)
        .where(
            Parcel.compartment_id == compartment_id,
            Parcel.status.in_((*AWAITING_DEPOSIT, *LIVE_PARCEL)),
        )
        .order_by(Parcel.id)
        .limit(1)
    )


def parcels_in_zone(*, db_session: Session, bank_id: int, zone: str) -> list[Parcel]:
    """Parcels sitting in a bank's compartments of one temperature zone."""
    return list(
        db_session.scalars(
            select(Parcel)
            .join(Compartment, Compartment.id == Parcel.compartment_id)
            .where(
                Parcel.bank_id == bank_id,
                Compartment.zone == zone,
                Parcel.status.in_(LIVE_PARCEL),
            )
            .order_by(Parcel.id)
        )
    )


def parcels_to_retrieve(*, db_session: Session, bank_id: int | None = None) -> list[Parcel]:
    """Expired parcels still in a locker, for the next route's driver to take out."""
    query = select(Parcel).where(Parcel.status == ParcelStatus.EXPIRED)
    if bank_id is not None:
        query = query.where(Parcel.bank_id == bank_id)
    return list(db_session.scalars(query.order_by(Parcel.bank_id, Parcel.id)))


def set_compartment_status(*, compartment: Compartment, status: CompartmentStatus) -> None:
    """Move a compartment, keeping out-of-service sticky until an operator clears it."""
    compartment_lifecycle.follow_locker(compartment, status)


def sync_order(*, db_session: Session, order_id: int) -> Order | None:
    """Move an order to what its parcels say (ready, collected, expired), via the state machine."""
    order = db_session.get(Order, order_id)
    if order is None:
        return None
    parcels = [
        p
        for p in db_session.scalars(select(Parcel).where(Parcel.order_id == order_id))
        if p.status != ParcelStatus.CANCELLED
    ]
    if not parcels:
        return order
    statuses = {ParcelStatus(p.status) for p in parcels}
    target: OrderStatus | None = None
    if statuses == {ParcelStatus.COLLECTED}:
        target = OrderStatus.COLLECTED
    elif statuses <= {ParcelStatus.READY_FOR_PICKUP, ParcelStatus.COLLECTED}:
        target = OrderStatus.READY_FOR_PICKUP
    elif statuses <= {ParcelStatus.COLLECTED, ParcelStatus.EXPIRED, ParcelStatus.RETRIEVED}:
        target = OrderStatus.EXPIRED
    if target is not None:
        _walk_order(order, target)
    return order


def _walk_order(order: Order, target: OrderStatus) -> None:
    current = OrderStatus(order.status)
    if current == target or current in order_states.TERMINAL:
        return
    if target == OrderStatus.EXPIRED:
        if current != OrderStatus.READY_FOR_PICKUP:
            _walk_order(order, OrderStatus.READY_FOR_PICKUP)
        if OrderStatus(order.status) == OrderStatus.READY_FOR_PICKUP:
            order_states.transition(order, OrderStatus.EXPIRED)
        return
    if current not in _ORDER_PATH or target not in _ORDER_PATH:
        log.warning("order %s in %s not moved to %s", order.id, current, target)
        return
    start, end = _ORDER_PATH.index(current), _ORDER_PATH.index(target)
    for step in _ORDER_PATH[start + 1 : end + 1]:
        order_states.transition(order, step)


# --- the command outbox ----------------------------------------------------------------------


def queue_command(
    *,
    db_session: Session,
    bank_id: int,
    kind: protocol.CommandType,
    args: dict[str, Any],
    ttl_seconds: float,
    purpose: str | None = None,
    parcel_id: int | None = None,
    compartment_id: int | None = None,
    requested_by_id: int | None = None,
    now: datetime | None = None,
) -> LockerCommand:
    """Add a command to the durable outbox (sent by the bridge after commit)."""
    now = now or utcnow()
    command = LockerCommand(
        id=str(uuid.uuid4()),
        bank_id=bank_id,
        kind=kind.value,
        payload=args,
        status=CommandStatus.QUEUED,
        purpose=purpose,
        parcel_id=parcel_id,
        compartment_id=compartment_id,
        requested_by_id=requested_by_id,
        created_at=now,
        next_attempt_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    db_session.add(command)
    db_session.flush()
    _notify(db_session)
    wakeup.after_commit(db_session)
    return command


def _notify(db_session: Session) -> None:
    """Wake the bridge when this transaction commits (PostgreSQL); it also polls."""
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


def notify_finished(*, db_session: Session, command: LockerCommand) -> None:
    """At commit, announce (PostgreSQL NOTIFY `<id>:<status>`) that a command finished, for
    waiters such as long-polling clients and the benchmark; one statement per transaction."""
    if db_session.get_bind().dialect.name != "postgresql":
        return
    pending: list[str] | None = db_session.info.get(_FINISHED)
    if pending is None:
        pending = db_session.info[_FINISHED] = []
        event.listen(db_session, "before_commit", _send_finished, once=True)
        event.listen(db_session, "after_rollback", _drop_finished, once=True)
    pending.append(f"{command.id}:{command.status.value}")


def _drop_finished(db_session: Session) -> None:
    db_session.info.pop(_FINISHED, None)


def _send_finished(db_session: Session) -> None:
    payloads = db_session.info.pop(_FINISHED, [])
    if payloads:
        db_session.execute(
            text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p"),
            {"channel": FINISHED_CHANNEL, "payloads": payloads},
        )


def get_command(*, db_session: Session, command_id: str) -> LockerCommand:
    """A command by id, or NotFound."""
    command = db_session.get(LockerCommand, command_id)
    if command is None:
        raise NotFound(f"no locker command {command_id}", field="command_id")
    return command


def get_commands(
    *, db_session: Session, bank_id: int, pending_only: bool = False, limit: int = 50
) -> list[LockerCommand]:
    """A bank's newest commands, optionally only those not finished."""
    query = select(LockerCommand).where(LockerCommand.bank_id == bank_id)
    if pending_only:
        query = query.where(LockerCommand.status.in_((CommandStatus.QUEUED, CommandStatus.SENT)))
    return list(db_session.scalars(query.order_by(LockerCommand.created_at.desc()).limit(limit)))


# --- pickup codes ----------------------------------------------------------------------------


def get_pickup_code(*, db_session: Session, parcel_id: int) -> PickupCode | None:
    """The code row of a parcel, if one was issued."""
    return db_session.scalar(select(PickupCode).where(PickupCode.parcel_id == parcel_id))


def pickup_code_for_parcel(*, db_session: Session, parcel_id: int) -> str | None:
    """The clear pickup code of a parcel while it is usable (derived, never stored), else None."""
    row = get_pickup_code(db_session=db_session, parcel_id=parcel_id)
    if row is None or row.status != CodeStatus.ACTIVE:
        return None
    return codes.pickup_code(parcel_id=parcel_id, nonce=row.nonce)


def ensure_pickup_code(*, db_session: Session, parcel: Parcel) -> PickupCode:
    """Issue the parcel's code at its bank (unique among the bank's live codes), or keep the
    one issued; a parcel moved to another bank gets its code re-issued there."""
    if parcel.bank_id is None:
        raise NotFound(f"parcel {parcel.id} has no locker bank yet", field="parcel_id")
    row = get_pickup_code(db_session=db_session, parcel_id=parcel.id)
    if row is not None and row.bank_id == parcel.bank_id and row.status == CodeStatus.ACTIVE:
        row.expires_at = parcel.pickup_deadline
        return row
    nonce = 0 if row is None else row.nonce + 1
    settings = get_locker_settings()
    for _ in range(1000):
        code_hash = codes.pickup_code_hash(parcel_id=parcel.id, nonce=nonce)
        taken = db_session.scalar(
            select(PickupCode.id).where(
                PickupCode.bank_id == parcel.bank_id, PickupCode.live_code_hash == code_hash
            )
        )
        if taken is not None:
            nonce += 1
            continue
        salt = protocol.new_salt()
        clear = codes.pickup_code(parcel_id=parcel.id, nonce=nonce)
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
        raise NotFound(f"parcel {parcel.id} has no compartment", field="parcel_id")
    compartment = get_compartment(db_session=db_session, compartment_id=parcel.compartment_id)
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
    return queue_command(
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
        queue_command(
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


# --- audit -----------------------------------------------------------------------------------


def audit(
    *,
    db_session: Session,
    actor_id: int | None,
    action: str,
    bank_id: int,
    reason: str,
    compartment_id: int | None = None,
    parcel_id: int | None = None,
    command_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Record who did what to a locker, and why."""
    entry = AuditLog(
        actor_id=actor_id,
        action=action,
        bank_id=bank_id,
        compartment_id=compartment_id,
        parcel_id=parcel_id,
        command_id=command_id,
        reason=reason,
        details=details or {},
    )
    db_session.add(entry)
    db_session.flush()
    return entry


def get_audit_log(*, db_session: Session, bank_id: int, limit: int = 100) -> list[AuditLog]:
    """A bank's newest audit entries."""
    return list(
        db_session.scalars(
            select(AuditLog)
            .where(AuditLog.bank_id == bank_id)
            .order_by(AuditLog.id.desc())
            .limit(limit)
        )
    )


# --- resync ----------------------------------------------------------------------------------


def parcels_held_for_bank(*, db_session: Session, bank_id: int) -> list[Parcel]:
    """The bank's parcels a locker must know of: reserved or loaded (awaiting deposit), ready
    for pickup or expired (inside a compartment), each with its compartment; by id."""
    return list(
        db_session.scalars(
            select(Parcel)
            .where(
                Parcel.bank_id == bank_id,
                Parcel.compartment_id.is_not(None),
                Parcel.status.in_((*AWAITING_DEPOSIT, *LIVE_PARCEL)),
            )
            .order_by(Parcel.id)
        )
    )
