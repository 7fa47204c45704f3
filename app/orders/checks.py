"""An order's checks before it is placed, and why a stock reservation was refused."""

import functools
from typing import Any, cast

from sqlalchemy import Integer, String, bindparam, select
from sqlalchemy.orm import Session

from app.cities import queries as city_queries
from app.core.errors import Conflict
from app.groupbuys import queries as groupbuy_queries
from app.groupbuys.errors import GroupBuyNotOpen
from app.groupbuys.queries import GroupBuyOffer, GroupBuyStatus
from app.neighborhoods.queries import NeighborhoodStanding, neighborhood_standing_query
from app.orders.errors import (
    DuplicateOrderLine,
    GroupBuyOfOtherNeighborhood,
    GroupBuyOfOtherWindow,
    ProductDiscontinued,
    StockExhausted,
    UnknownGroupBuy,
)
from app.orders.models import Order
from app.orders.schemas import OrderCreate
from app.windows.queries import WindowCutoff, window_cutoff_query


def neighborhood_and_window(
    db_session: Session, neighborhood_id: int, window_id: int
) -> tuple[NeighborhoodStanding | None, str | None, WindowCutoff | None]:
    """The neighborhood, its city's currency, and the window if it is of that city (one query)."""
    return order_context(db_session, neighborhood_id, window_id)[:3]


def order_context(
    db_session: Session,
    neighborhood_id: int,
    window_id: int,
    resident_id: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[NeighborhoodStanding | None, str | None, WindowCutoff | None, int | None]:
    """As `neighborhood_and_window`, with the id of the resident's order already placed with
    this Idempotency-Key (None without a key), in the same query."""
    params = {
        "ctx_hood": neighborhood_id,
        "ctx_window": window_id,
        "ctx_resident": resident_id,
        "ctx_key": idempotency_key,
    }
    row = db_session.connection().execute(_context_statement(), params).one_or_none()
    if row is None:
        return None, None, None, None
    found_window = None if row[4] is None else WindowCutoff(*row[4:8])
    return NeighborhoodStanding(*row[:3]), row[3], found_window, row[8]


@functools.cache
def _context_statement() -> Any:
    """Built once: bound parameters stand for the ids and the key (the owners' builders take
    an id; the comparison they make takes a parameter as well)."""
    hood_id = cast(int, bindparam("ctx_hood", type_=Integer))
    window_id = cast(int, bindparam("ctx_window", type_=Integer))
    hood = neighborhood_standing_query(hood_id).subquery()
    window = window_cutoff_query(window_id).subquery()
    existing = (
        select(Order.id)
        .where(
            Order.resident_id == bindparam("ctx_resident", type_=Integer),
            Order.idempotency_key == bindparam("ctx_key", type_=String),
        )
        .scalar_subquery()
    )
    return (
        select(hood, city_queries.city_currency_query(hood.c.city_id), window, existing)
        .select_from(hood)
        .outerjoin(window, window.c.city_id == hood.c.city_id)
    )


def line_quantities(order_in: OrderCreate) -> dict[int, int]:
    """Each line's quantity by group buy; a group buy named twice is refused naming the line."""
    seen: dict[int, int] = {}
    quantities: dict[int, int] = {}
    for i, line in enumerate(order_in.lines):
        if line.group_buy_id in seen:
            raise DuplicateOrderLine(
                f"group buy {line.group_buy_id} is already in lines.{seen[line.group_buy_id]}",
                field=f"lines.{i}.group_buy_id",
            )
        seen[line.group_buy_id] = i
        quantities[line.group_buy_id] = line.quantity
    return quantities


def validated_group_buys(
    db_session: Session, neighborhood_id: int, window_id: int, order_in: OrderCreate
) -> dict[int, GroupBuyOffer]:
    """The lines' group buys, each checked; the first problem raises naming its line."""
    group_buys = groupbuy_queries.group_buy_offers(db_session, line_quantities(order_in))
    for i, line in enumerate(order_in.lines):
        field = f"lines.{i}.group_buy_id"
        gb = group_buys.get(line.group_buy_id)
        if gb is None:
            raise UnknownGroupBuy("unknown group buy", field=field)
        if gb.neighborhood_id != neighborhood_id:
            raise GroupBuyOfOtherNeighborhood(
                "this group buy belongs to another neighborhood", field=field
            )
        if gb.window_id != window_id:
            raise GroupBuyOfOtherWindow(
                f"this group buy is for window {gb.window_id}, not window_id {window_id}",
                field=field,
            )
        if not gb.product_active:
            raise ProductDiscontinued("this product is not sold any more", field=field)
        if gb.status != GroupBuyStatus.OPEN:
            raise GroupBuyNotOpen(f"this group buy has already {gb.status.value}", field=field)
        if gb.stock_cap is not None and gb.ordered_quantity + line.quantity > gb.stock_cap:
            raise over_stock(gb, i)
    return group_buys


def over_stock(gb: GroupBuyOffer, i: int) -> Conflict:
    remaining = max((gb.stock_cap or 0) - gb.ordered_quantity, 0)
    return StockExhausted(
        f"only {remaining} left in this group buy",
        field=f"lines.{i}.quantity",
        remaining=remaining,
        group_buy_id=gb.id,
    )


class StockRaceLost(Exception):
    """A conditional stock update matched no row: the savepoint is rolled back."""


def not_reserved(db_session: Session, order_in: OrderCreate) -> Conflict:
    """Why the stock updates did not all match (read again after the rollback): a group buy
    closed meanwhile, or sold out; the first such line in group-buy id order."""
    ids = [line.group_buy_id for line in order_in.lines]
    fresh = groupbuy_queries.group_buy_offers(db_session, ids, fresh=True)
    index = {line.group_buy_id: i for i, line in enumerate(order_in.lines)}
    for gb_id in sorted(ids):
        gb, i = fresh[gb_id], index[gb_id]
        if gb.status != GroupBuyStatus.OPEN:
            return GroupBuyNotOpen(
                f"this group buy has already {gb.status.value}", field=f"lines.{i}.group_buy_id"
            )
        quantity = order_in.lines[i].quantity
        if gb.stock_cap is not None and gb.ordered_quantity + quantity > gb.stock_cap:
            return over_stock(gb, i)
    # Stock came back between the update and this read: still, this order was not placed.
    first = min(ids)
    return over_stock(fresh[first], index[first])
