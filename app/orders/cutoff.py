"""Settling a window's placed orders at its cut-off, set-based: each line priced at its group
buy's outcome, each order confirmed or failed (`app.groupbuys.closing` decides the outcomes)."""

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core import bulk
from app.orders import states
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus


@dataclass(frozen=True)
class SettledLine:
    """One order line as the cut-off left it."""

    group_buy_id: int
    product_id: int
    quantity: int
    status: LineStatus
    final_unit_price_minor: int | None


@dataclass(frozen=True)
class SettledOrder:
    """One order as the cut-off left it: confirmed with what it costs, or group-failed."""

    order_id: int
    resident_id: int
    neighborhood_id: int
    currency: str
    status: OrderStatus
    paid_minor: int
    charged_minor: int
    lines: tuple[SettledLine, ...]


_LINE_COLUMNS = (
    Order.id,
    Order.resident_id,
    Order.paid_minor,
    Order.currency,
    Order.neighborhood_id,
    OrderLine.id,
    OrderLine.group_buy_id,
    OrderLine.product_id,
    OrderLine.quantity,
    OrderLine.paid_unit_price_minor,
)


def settle_placed_orders(
    *,
    db_session: Session,
    window_id: int,
    neighborhood_ids: Collection[int],
    final_price_of: Callable[[int], int | None],
    now: datetime,
) -> list[SettledOrder]:
    """Price each placed order's lines at their group's outcome, confirm or fail the orders.

    `final_price_of(group_buy_id)` is the unit price the group buy formed at, None when it
    failed. Set-based (plain rows and bulk updates by primary key): the cut-off settles
    thousands. A line never costs more than the resident paid for it.
    """
    rows = db_session.execute(
        select(*_LINE_COLUMNS)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.window_id == window_id,
            Order.neighborhood_id.in_(neighborhood_ids),
            Order.status == OrderStatus.PLACED,
            OrderLine.status == LineStatus.PLACED,
        )
        .order_by(Order.id, OrderLine.id)
        .with_for_update(of=Order)
    ).all()
    by_order: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_order[row[0]].append(row)
    line_updates: list[dict[str, Any]] = []
    order_updates: list[dict[str, Any]] = []
    settled: list[SettledOrder] = []
    for order_id, lines in by_order.items():
        _, resident_id, paid, currency, neighborhood_id = lines[0][:5]
        charged = 0
        settled_lines = []
        for *_, line_id, gb_id, product_id, quantity, paid_price in lines:
            group_price = final_price_of(gb_id)
            final: int | None = None
            status = LineStatus.GROUP_FAILED
            if group_price is not None:
                final = min(group_price, paid_price)
                status = LineStatus.CONFIRMED
                charged += final * quantity
            line_updates.append({"id": line_id, "status": status, "final_unit_price_minor": final})
            settled_lines.append(SettledLine(gb_id, product_id, quantity, status, final))
        to = OrderStatus.CONFIRMED if charged > 0 else OrderStatus.GROUP_FAILED
        if not states.can_transition(OrderStatus.PLACED, to):  # pragma: no cover - a rule change
            raise states.IllegalTransition(f"order {order_id}: placed -> {to.value}")
        order_updates.append(
            {"id": order_id, "status": to, "charged_minor": charged, "updated_at": now}
        )
        settled.append(
            SettledOrder(
                order_id=order_id,
                resident_id=resident_id,
                neighborhood_id=neighborhood_id,
                currency=currency,
                status=to,
                paid_minor=paid,
                charged_minor=charged,
                lines=tuple(settled_lines),
            )
        )
    line_placed = OrderLine.status == LineStatus.PLACED
    order_placed = Order.status == OrderStatus.PLACED
    bulk.update_by_key(db_session, OrderLine, line_updates, where=[line_placed])
    bulk.update_by_key(db_session, Order, order_updates, where=[order_placed])
    return settled
