"""A new order and its lines written in as few statements as the database allows.

On PostgreSQL one statement: the order (`ON CONFLICT DO NOTHING` on the resident's
Idempotency-Key) and, in the same statement, its lines from arrays (`unnest ... WITH
ORDINALITY`, so their ids follow the request's order). On SQLite two: the order, then its
lines. Either way no line is written when the key is taken, and the caller hears it (None).
"""

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Integer, Table, bindparam, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.groupbuys import pricing
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus
from app.orders.schemas import OrderLineRead, OrderRead

_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_IDEMPOTENCY = ["resident_id", "idempotency_key"]
_ORDER_COLUMNS = (
    "resident_id",
    "window_id",
    "neighborhood_id",
    "currency",
    "paid_minor",
    "idempotency_key",
    "request_fingerprint",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class NewLine:
    group_buy_id: int
    product_id: int
    quantity: int
    paid_unit_price_minor: int


@dataclass(frozen=True)
class NewOrder:
    resident_id: int
    window_id: int
    neighborhood_id: int
    currency: str
    paid_minor: int
    idempotency_key: str | None
    request_fingerprint: str
    created_at: datetime

    def row(self) -> dict[str, Any]:
        return {
            "resident_id": self.resident_id,
            "window_id": self.window_id,
            "neighborhood_id": self.neighborhood_id,
            "currency": self.currency,
            "paid_minor": self.paid_minor,
            "idempotency_key": self.idempotency_key,
            "request_fingerprint": self.request_fingerprint,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


def insert_order(
    db_session: Session, order: NewOrder, lines: Sequence[NewLine]
) -> tuple[int, list[int]] | None:
    """Insert the order (status placed) and its lines (placed, in this order); the order's id
    and the lines' ids, or None when the resident's Idempotency-Key is taken (nothing written).
    """
    connection = db_session.connection()
    if connection.dialect.name == "postgresql":
        params = order.row() | {
            "line_group_buy": [line.group_buy_id for line in lines],
            "line_product": [line.product_id for line in lines],
            "line_quantity": [line.quantity for line in lines],
            "line_price": [line.paid_unit_price_minor for line in lines],
        }
        rows = connection.execute(_postgresql_statement(), params).all()
        if not rows:
            return None
        return rows[0][0], [row[1] for row in sorted(rows, key=lambda row: row[1])]
    order_id = connection.execute(_sqlite_order_statement(), order.row()).scalar_one_or_none()
    if order_id is None:
        return None
    line_ids = connection.execute(
        insert(_LINES).returning(_LINES.c.id, sort_by_parameter_order=True),
        [
            {
                "order_id": order_id,
                "group_buy_id": line.group_buy_id,
                "product_id": line.product_id,
                "quantity": line.quantity,
                "paid_unit_price_minor": line.paid_unit_price_minor,
                "status": LineStatus.PLACED,
            }
            for line in lines
        ],
    ).scalars()
    return order_id, list(line_ids)


def _order_values() -> dict[str, Any]:
    values: dict[str, Any] = {name: bindparam(name) for name in _ORDER_COLUMNS}
    values["status"] = OrderStatus.PLACED
    return values


@functools.cache
def _postgresql_statement() -> Any:
    new_order = (
        postgresql.insert(_ORDERS)
        .values(_order_values())
        .on_conflict_do_nothing(index_elements=_IDEMPOTENCY)
        .returning(_ORDERS.c.id)
        .cte("new_order")
    )
    arrays = [
        bindparam(name, type_=postgresql.ARRAY(Integer))
        for name in ("line_group_buy", "line_product", "line_quantity", "line_price")
    ]
    given = (
        func.unnest(*arrays)
        .table_valued("group_buy_id", "product_id", "quantity", "price", with_ordinality="n")
        .render_derived()
        .alias("given")
    )
    source = (
        select(
            new_order.c.id,
            given.c.group_buy_id,
            given.c.product_id,
            given.c.quantity,
            given.c.price,
            literal(LineStatus.PLACED, type_=_LINES.c.status.type),
        )
        .select_from(new_order)
        .join(given, literal(True))
        .order_by(given.c.n)
    )
    columns = ["order_id", "group_buy_id", "product_id", "quantity", "paid_unit_price_minor"]
    return (
        insert(_LINES)
        .from_select([*columns, "status"], source)
        .returning(_LINES.c.order_id, _LINES.c.id)
        .add_cte(new_order)
    )


@functools.cache
def _sqlite_order_statement() -> Any:
    return (
        sqlite.insert(_ORDERS)
        .values(_order_values())
        .on_conflict_do_nothing(index_elements=_IDEMPOTENCY)
        .returning(_ORDERS.c.id)
    )


@dataclass(frozen=True)
class Charged:
    """What the ledger needs of the order just placed."""

    id: int
    resident_id: int
    currency: str


def placed_read(
    order_id: int,
    order: NewOrder,
    lines: Sequence[NewLine],
    line_ids: Sequence[int],
    product_names: Mapping[int, str],
) -> OrderRead:
    """The order just inserted as its resident reads it, from the values in hand."""
    return OrderRead(
        id=order_id,
        window_id=order.window_id,
        neighborhood_id=order.neighborhood_id,
        status=OrderStatus.PLACED,
        currency=order.currency,
        paid_minor=order.paid_minor,
        paid_display=pricing.format_money(order.paid_minor, order.currency),
        charged_minor=None,
        charged_display=None,
        created_at=order.created_at,
        lines=[
            OrderLineRead(
                id=line_id,
                group_buy_id=line.group_buy_id,
                product_id=line.product_id,
                product_name=product_names[line.group_buy_id],
                quantity=line.quantity,
                paid_unit_price_minor=line.paid_unit_price_minor,
                final_unit_price_minor=None,
                status=LineStatus.PLACED,
            )
            for line, line_id in zip(lines, line_ids, strict=True)
        ],
    )


class _PayloadLine(Protocol):
    @property
    def group_buy_id(self) -> int: ...
    @property
    def product_id(self) -> int: ...
    @property
    def quantity(self) -> int: ...
    @property
    def status(self) -> LineStatus: ...
    @property
    def paid_unit_price_minor(self) -> int: ...
    @property
    def final_unit_price_minor(self) -> int | None: ...


class _PayloadOrder(Protocol):
    """An order as stored (`Order`) or as answered (`OrderRead`): what its events carry."""

    @property
    def id(self) -> int: ...
    @property
    def window_id(self) -> int: ...
    @property
    def neighborhood_id(self) -> int: ...
    @property
    def status(self) -> OrderStatus: ...
    @property
    def currency(self) -> str: ...
    @property
    def paid_minor(self) -> int: ...
    @property
    def charged_minor(self) -> int | None: ...
    @property
    def lines(self) -> Sequence[_PayloadLine]: ...


def event_payload(order: _PayloadOrder, resident_id: int) -> dict[str, Any]:
    """The payload of an order's events (`order.placed`, `order.cancelled`)."""
    return {
        "order_id": order.id,
        "resident_id": resident_id,
        "window_id": order.window_id,
        "neighborhood_id": order.neighborhood_id,
        "status": order.status.value,
        "currency": order.currency,
        "paid_minor": order.paid_minor,
        "charged_minor": order.charged_minor,
        "lines": [
            {
                "group_buy_id": line.group_buy_id,
                "product_id": line.product_id,
                "quantity": line.quantity,
                "status": line.status.value,
                "paid_unit_price_minor": line.paid_unit_price_minor,
                "final_unit_price_minor": line.final_unit_price_minor,
            }
            for line in order.lines
        ],
    }
