"""Orders following their parcels: out for delivery when the van leaves, ended when their
undelivered parcels are settled at the pickup deadline. Moves go through `app.orders.states`;
nothing here commits."""

import logging
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.orders import states
from app.orders.models import Order, OrderStatus

log = logging.getLogger(__name__)


def send_out_for_delivery(*, db_session: Session, order_ids: Select[int]) -> None:
    """Move the packed ones of these orders (a query of their ids) out for delivery."""
    orders = db_session.scalars(
        select(Order).where(Order.id.in_(order_ids), Order.status == OrderStatus.PACKED)
    )
    for order in orders:
        states.transition(order, OrderStatus.OUT_FOR_DELIVERY)


@dataclass(frozen=True)
class SettlingOrder:
    """An order locked while its undelivered parcels are settled."""

    id: int
    resident_id: int
    currency: str
    status: OrderStatus


def lock_for_settlement(*, db_session: Session, order_id: int) -> SettlingOrder | None:
    """The order, its row locked and read afresh, or None when it is gone."""
    order = db_session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        return None
    return SettlingOrder(order.id, order.resident_id, order.currency, OrderStatus(order.status))


def _required(db_session: Session, order_id: int) -> Order:
    order = db_session.get(Order, order_id)
    if order is None:
        raise LookupError(f"order {order_id} does not exist")
    return order


def mark_undelivered(*, db_session: Session, order_id: int) -> bool:
    """End the order undelivered (none of its parcels reached a locker); False when its state
    does not allow it (it is left as it is)."""
    order = _required(db_session, order_id)
    if not states.can_transition(OrderStatus(order.status), OrderStatus.UNDELIVERED):
        log.warning("order %s is %s; not moved to undelivered", order.id, order.status)
        return False
    states.transition(order, OrderStatus.UNDELIVERED)  # updated_at: on update
    return True


_DELIVERY_PATH = (
    OrderStatus.PACKED,
    OrderStatus.OUT_FOR_DELIVERY,
    OrderStatus.READY_FOR_PICKUP,
)


def follow_delivered_parcels(*, db_session: Session, order_id: int, target: OrderStatus) -> None:
    """Step the order along packed -> out_for_delivery -> ready_for_pickup -> `target`, where
    its delivered parcels leave it; an order already there or off that path stays."""
    order = _required(db_session, order_id)
    current = OrderStatus(order.status)
    if current == target or current not in _DELIVERY_PATH:
        return
    steps = [*_DELIVERY_PATH[_DELIVERY_PATH.index(current) + 1 :]]
    if target != OrderStatus.READY_FOR_PICKUP:
        steps.append(target)
    for step in steps:
        states.transition(order, step)  # updated_at: set on update by the model
