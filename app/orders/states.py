"""The order state machine: the only moves an order may make, in one table.

placed -> confirmed -> packed -> out_for_delivery -> ready_for_pickup -> collected, with side
exits: cancelled (from placed, by the resident before the cut-off), group_failed (from placed,
at the cut-off), expired (from ready_for_pickup, not collected by the deadline) and undelivered
(from packed or out_for_delivery: none of its parcels reached a locker by the pickup deadline,
and what they carried was refunded).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.core import bulk
from app.core.db import utcnow
from app.core.errors import Conflict
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus

S = OrderStatus
log = logging.getLogger(__name__)
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PLACED: frozenset({S.CONFIRMED, S.CANCELLED, S.GROUP_FAILED}),
    S.CONFIRMED: frozenset({S.PACKED}),
    S.PACKED: frozenset({S.OUT_FOR_DELIVERY, S.UNDELIVERED}),
    S.OUT_FOR_DELIVERY: frozenset({S.READY_FOR_PICKUP, S.UNDELIVERED}),
    S.READY_FOR_PICKUP: frozenset({S.COLLECTED, S.EXPIRED}),
    S.COLLECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.GROUP_FAILED: frozenset(),
    S.EXPIRED: frozenset(),
    S.UNDELIVERED: frozenset(),
}
TERMINAL = frozenset(state for state, targets in ALLOWED.items() if not targets)

LINE_ALLOWED: dict[LineStatus, frozenset[LineStatus]] = {
    LineStatus.PLACED: frozenset(
        {LineStatus.CONFIRMED, LineStatus.CANCELLED, LineStatus.GROUP_FAILED}
    ),
    LineStatus.CONFIRMED: frozenset(),
    LineStatus.CANCELLED: frozenset(),
    LineStatus.GROUP_FAILED: frozenset(),
}


class IllegalTransition(Conflict):
    """An order (or line) asked to move where the state machine does not allow."""

    code = "illegal_transition"


def can_transition(current: OrderStatus, to: OrderStatus) -> bool:
    """Whether an order in `current` may move to `to`."""
    return to in ALLOWED[current]


def transition(order: Order, to: OrderStatus) -> Order:
    """Move the order to `to`, or raise IllegalTransition naming both states."""
    current = OrderStatus(order.status)
    if not can_transition(current, to):
        raise IllegalTransition(
            f"an order cannot go from {current.value} to {to.value}",
            field="status",
            order_id=order.id,
            current=current.value,
            requested=to.value,
        )
    order.status = to
    return order


def transition_line(line: OrderLine, to: LineStatus) -> OrderLine:
    """Move an order line to `to`, or raise IllegalTransition."""
    current = LineStatus(line.status)
    if to not in LINE_ALLOWED[current]:
        raise IllegalTransition(
            f"an order line cannot go from {current.value} to {to.value}",
            field="lines.status",
            line_id=line.id,
            current=current.value,
            requested=to.value,
        )
    line.status = to
    return line


def move_orders(
    *, db_session: Session, order_ids: Sequence[int], frm: OrderStatus, to: OrderStatus
) -> int:
    """Set-based move of the given orders still in `frm` to `to` (one statement); how many
    moved. The move must be legal; orders no longer in `frm` are left as they are."""
    if not can_transition(frm, to):
        raise IllegalTransition(
            f"an order cannot go from {frm.value} to {to.value}",
            field="status",
            current=frm.value,
            requested=to.value,
        )
    if not order_ids:
        return 0
    moved = db_session.execute(
        update(Order)
        .where(bulk.among(db_session, Order.id, order_ids), Order.status == frm)
        .values(status=to, updated_at=utcnow())
    )
    return int(getattr(moved, "rowcount", 0) or 0)


HAPPY_PATH = (S.CONFIRMED, S.PACKED, S.OUT_FOR_DELIVERY, S.READY_FOR_PICKUP, S.COLLECTED)


@dataclass(frozen=True)
class OrderState:
    """An order's id and status after a move."""

    id: int
    status: OrderStatus


def walk_to(*, db_session: Session, order_id: int, target: OrderStatus | None) -> OrderState | None:
    """Walk an order along the happy path (or to expired) up to `target`, one legal move at a
    time; a terminal order, or one off the path, stays. Its state after; None when it is gone."""
    order = db_session.get(Order, order_id)
    if order is None:
        return None
    if target is not None:
        _walk(order, target)
    return OrderState(order.id, OrderStatus(order.status))


def _walk(order: Order, target: OrderStatus) -> None:
    current = OrderStatus(order.status)
    if current == target or current in TERMINAL:
        return
    if target == S.EXPIRED:
        if current != S.READY_FOR_PICKUP:
            _walk(order, S.READY_FOR_PICKUP)
        if OrderStatus(order.status) == S.READY_FOR_PICKUP:
            transition(order, S.EXPIRED)
        return
    if current not in HAPPY_PATH or target not in HAPPY_PATH:
        log.warning("order %s in %s not moved to %s", order.id, current, target)
        return
    start, end = HAPPY_PATH.index(current), HAPPY_PATH.index(target)
    for step in HAPPY_PATH[start + 1 : end + 1]:
        transition(order, step)
