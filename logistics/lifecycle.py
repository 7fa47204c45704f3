"""The parcel, route-stop and route state machines: the only moves each may make, in one place.

Parcel: packed -> reserved -> loaded -> ready_for_pickup (deposited) -> collected | expired ->
retrieved. Side exits: cancelled; undelivered (with a reason: failed at its stop, or no route
serves its bank this window), from which a re-plan may take it back to reserved. A reserved
parcel falls back to packed when it loses its compartment, and a loaded one back to reserved
when a re-plan takes it off a van that has not left. The locker reports facts, so a parcel
deposited without a route (reserved -> ready_for_pickup) and a collection reported before the
deposit (reserved/loaded -> collected) are accepted.

Route stop: pending -> arrived -> served | failed (some of its parcels undelivered); cancelled.
Route: planned -> published -> in_progress -> completed | completed_with_alarm (parcels still
aboard) | aborted; cancelled (no stops left), which a later re-plan of the window may revive.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import Conflict
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus, RouteStop, StopStatus

P, S, R = ParcelStatus, StopStatus, RouteStatus

PARCEL: dict[ParcelStatus, frozenset[ParcelStatus]] = {
    P.PACKED: frozenset({P.RESERVED, P.CANCELLED}),
    P.RESERVED: frozenset(
        {P.LOADED, P.PACKED, P.READY_FOR_PICKUP, P.COLLECTED, P.UNDELIVERED, P.CANCELLED}
    ),
    P.LOADED: frozenset({P.READY_FOR_PICKUP, P.RESERVED, P.COLLECTED, P.UNDELIVERED}),
    P.READY_FOR_PICKUP: frozenset({P.COLLECTED, P.EXPIRED, P.RETRIEVED}),
    P.EXPIRED: frozenset({P.RETRIEVED, P.COLLECTED}),
    P.UNDELIVERED: frozenset({P.RESERVED, P.CANCELLED}),
    P.COLLECTED: frozenset(),
    P.RETRIEVED: frozenset(),
    P.CANCELLED: frozenset(),
}

STOP: dict[StopStatus, frozenset[StopStatus]] = {
    S.PENDING: frozenset({S.ARRIVED, S.CANCELLED}),
    S.ARRIVED: frozenset({S.SERVED, S.FAILED}),
    S.SERVED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}

ROUTE: dict[RouteStatus, frozenset[RouteStatus]] = {
    R.PLANNED: frozenset({R.PUBLISHED, R.CANCELLED, R.ABORTED}),
    R.PUBLISHED: frozenset({R.IN_PROGRESS, R.CANCELLED, R.ABORTED}),
    R.IN_PROGRESS: frozenset({R.COMPLETED, R.COMPLETED_WITH_ALARM, R.ABORTED}),
    R.COMPLETED: frozenset(),
    R.COMPLETED_WITH_ALARM: frozenset(),
    R.ABORTED: frozenset(),
    R.CANCELLED: frozenset({R.PLANNED, R.PUBLISHED}),
}

TABLES: dict[type[StrEnum], Mapping[Any, frozenset[Any]]] = {
    ParcelStatus: PARCEL,
    StopStatus: STOP,
    RouteStatus: ROUTE,
}

# Parcels a driver still has to hand over at their stop.
ABOARD = (P.RESERVED, P.LOADED)
# A stop is done with when every parcel is in one of these.
HANDLED_AT_STOP = (P.READY_FOR_PICKUP, P.COLLECTED, P.UNDELIVERED, P.CANCELLED)
ROUTE_DONE = (R.COMPLETED, R.COMPLETED_WITH_ALARM, R.ABORTED, R.CANCELLED)

Lifecycled = TypeVar("Lifecycled", Parcel, RouteStop, Route)


class IllegalTransition(Conflict):
    """A parcel, stop or route asked to move where its state machine does not allow."""

    code = "illegal_transition"


def can_transition(current: StrEnum, to: StrEnum) -> bool:
    """Whether something in `current` may move to `to` (both of the same status kind)."""
    table = TABLES[type(current)]
    return type(to) is type(current) and to in table[current]


_KINDS: dict[type[Any], tuple[str, type[StrEnum]]] = {
    Parcel: ("parcel", ParcelStatus),
    RouteStop: ("route stop", StopStatus),
    Route: ("route", RouteStatus),
}


def transition(obj: Lifecycled, to: StrEnum) -> Lifecycled:
    """Move a parcel, stop or route to `to`, or raise IllegalTransition naming both states."""
    label, status_type = _KINDS[type(obj)]
    current = status_type(obj.status)
    if not can_transition(current, to):
        raise IllegalTransition(
            f"a {label} cannot go from {current.value} to {to.value}",
            field="status",
            kind=label,
            id=obj.id,
            current=current.value,
            requested=to.value,
        )
    obj.status = to  # type: ignore[assignment]
    return obj


def move_parcels(
    *,
    db_session: Session,
    parcel_ids: list[int],
    frm: ParcelStatus,
    to: ParcelStatus,
    **values: Any,
) -> int:
    """Bulk-move the listed parcels that are in `frm` to `to` (a legal move); how many moved."""
    if not can_transition(frm, to):
        raise IllegalTransition(
            f"a parcel cannot go from {frm.value} to {to.value}",
            field="status",
            kind="parcel",
            current=frm.value,
            requested=to.value,
        )
    moved = 0
    for start in range(0, len(parcel_ids), 2000):
        result = db_session.execute(
            update(Parcel)
            .where(Parcel.id.in_(parcel_ids[start : start + 2000]), Parcel.status == frm)
            .values(status=to, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        moved += int(getattr(result, "rowcount", 0) or 0)
    return moved


def fail_parcel(parcel: Parcel, reason: str) -> Parcel:
    """The parcel will not reach its locker (this window): undelivered, with the reason."""
    transition(parcel, ParcelStatus.UNDELIVERED)
    parcel.failure_reason = reason[:200]
    return parcel


def retry_parcel(parcel: Parcel) -> Parcel:
    """An undelivered parcel goes back to reserved for a re-plan (reason cleared)."""
    transition(parcel, ParcelStatus.RESERVED)
    parcel.failure_reason = None
    return parcel
