"""Driver actions from the phone, each applied once by its id (a UUID the phone makes).

A phone that lost the network queues its taps and sends them later, possibly twice. Each
action carries its id: the first time it is applied (or refused, with the named 409 of
`logistics.handover`) and the answer is kept as a receipt; the same id again answers the same
receipt without applying anything. An action out of order (a deposit before arriving, a
departure with parcels aboard) is refused by name, never half applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from app.core.errors import Conflict, DomainError
from app.staff.queries import StaffAccount
from logistics import driver
from logistics.handover import FailureReason
from logistics.models import DriverActionReceipt, Route


class ActionKind(StrEnum):
    START = "start"
    ARRIVE = "arrive"
    DEPOSIT = "deposit"
    FAIL = "fail"
    DEPART = "depart"


NEEDS_STOP = (ActionKind.ARRIVE, ActionKind.DEPOSIT, ActionKind.FAIL, ActionKind.DEPART)
NEEDS_PARCEL = (ActionKind.DEPOSIT, ActionKind.FAIL)


class ActionIdReused(Conflict):
    """The action id was already used for a different action."""

    code = "action_id_reused"


@dataclass(frozen=True)
class DriverAction:
    """One tap on the phone: what, where, and when on the device's clock."""

    action_id: str
    kind: ActionKind
    route_id: int
    stop_id: int | None = None
    parcel_id: int | None = None
    reason: FailureReason | None = None
    device_time: datetime | None = None


@dataclass(frozen=True)
class Receipt:
    """What the server answered to an action; `replayed` when the id had been seen."""

    action_id: str
    kind: str
    outcome: str  # applied | refused
    status_code: int
    error_code: str | None
    message: str | None
    command_id: str | None
    replayed: bool


# Opens a parcel's compartment through the locker protocol; returns the command id.
OpenCompartment = Callable[[int], str]


def sync(
    *,
    db_session: Session,
    staff: StaffAccount,
    route: Route,
    action: DriverAction,
    open_compartment: OpenCompartment,
) -> Receipt:
    """Apply the action once (the route is the driver's own, checked by the caller).

    A known id answers its receipt again; a known id naming another action is refused."""
    known = db_session.get(DriverActionReceipt, action.action_id)
    if known is not None:
        if not _same(known, staff, action):
            raise ActionIdReused(
                f"action id {action.action_id} was used for another action", field="id"
            )
        return _receipt(known, replayed=True)
    command_id: str | None = None
    try:
        if action.kind == ActionKind.DEPOSIT:
            assert action.parcel_id is not None
            command_id = open_compartment(action.parcel_id)
        else:
            with db_session.begin_nested():
                _apply(db_session, route, action)
        outcome, status_code, error_code, message = "applied", 200, None, None
    except DomainError as refusal:
        outcome, status_code = "refused", refusal.status_code
        error_code, message = refusal.code, refusal.reason[:300]
    row = DriverActionReceipt(
        action_id=action.action_id,
        driver_id=staff.id,
        route_id=route.id,
        kind=action.kind.value,
        stop_id=action.stop_id,
        parcel_id=action.parcel_id,
        device_time=action.device_time,
        outcome=outcome,
        status_code=status_code,
        error_code=error_code,
        message=message,
        command_id=command_id,
    )
    db_session.add(row)
    db_session.flush()
    return _receipt(row, replayed=False)


def _apply(db_session: Session, route: Route, action: DriverAction) -> None:
    if action.kind == ActionKind.START:
        driver.start(db_session=db_session, route=route)
        return
    assert action.stop_id is not None
    if action.kind == ActionKind.ARRIVE:
        driver.arrive(db_session=db_session, route=route, stop_id=action.stop_id)
    elif action.kind == ActionKind.DEPART:
        driver.depart(db_session=db_session, route=route, stop_id=action.stop_id)
    elif action.kind == ActionKind.FAIL:
        assert action.parcel_id is not None
        driver.fail_parcel(
            db_session=db_session,
            route=route,
            stop_id=action.stop_id,
            parcel_id=action.parcel_id,
            reason=(action.reason or FailureReason.OTHER).value,
        )


def _same(known: DriverActionReceipt, staff: StaffAccount, action: DriverAction) -> bool:
    return (
        known.driver_id == staff.id
        and known.route_id == action.route_id
        and known.kind == action.kind.value
        and known.stop_id == action.stop_id
        and known.parcel_id == action.parcel_id
    )


def _receipt(row: DriverActionReceipt, *, replayed: bool) -> Receipt:
    return Receipt(
        action_id=row.action_id,
        kind=row.kind,
        outcome=row.outcome,
        status_code=row.status_code,
        error_code=row.error_code,
        message=row.message,
        command_id=row.command_id,
        replayed=replayed,
    )
