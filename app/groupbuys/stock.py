"""Group-buy stock: single conditional UPDATEs, never read-then-write.

Ordering adds to a group buy's `ordered_quantity` only while it is open and stays within its
cap, in one statement, so concurrent orders can never oversell it; cancelling gives it back.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, exists, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from app.catalog import queries as catalog_queries
from app.groupbuys.models import GroupBuy, GroupBuyStatus, PriceTier


def release_stock(*, db_session: Session, group_buy_id: int, quantity: int) -> bool:
    """Give `quantity` back to an open group buy; False if it is no longer open."""
    statement = (
        sql_update(GroupBuy)
        .where(
            GroupBuy.id == group_buy_id,
            GroupBuy.status == GroupBuyStatus.OPEN,
            GroupBuy.ordered_quantity >= quantity,
        )
        .values(ordered_quantity=GroupBuy.ordered_quantity - quantity)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], db_session.execute(statement))
    _expire_quantity(db_session, group_buy_id)
    return result.rowcount == 1


def _expire_quantity(db_session: Session, group_buy_id: int) -> None:
    """Let a loaded group buy read its quantity again after the UPDATE behind its back."""
    gb = db_session.identity_map.get(db_session.identity_key(GroupBuy, group_buy_id))
    if gb is not None:
        db_session.expire(gb, ["ordered_quantity"])


@dataclass(frozen=True)
class Reserved:
    """A group buy an order line just took its units from: what the line records."""

    id: int
    product_id: int
    product_name: str
    entry_price_minor: int


def _line_extras() -> tuple[Any, Any]:
    """The product's name and the entry price (the first tier's) of the group buy row."""
    table: Table = cast(Table, GroupBuy.__table__)
    tiers: Table = cast(Table, PriceTier.__table__)
    cards = catalog_queries.product_card_query().subquery()
    product_name = select(cards.c.name).where(cards.c.id == table.c.product_id).scalar_subquery()
    entry_price = (
        select(tiers.c.unit_price_minor)
        .where(tiers.c.group_buy_id == table.c.id)
        .order_by(tiers.c.min_quantity)
        .limit(1)
        .scalar_subquery()
    )
    return product_name, entry_price


@functools.cache
def _reserve_offer_statement(with_extras: bool) -> Any:
    """The guarded UPDATE of one line: it adds the quantity only to an open group buy of this
    neighborhood and window, of a product still sold, within its cap; RETURNING the product
    (and, `with_extras`, its name and the entry price: PostgreSQL; SQLite renders RETURNING
    unqualified, so a correlated subquery there would read its own columns)."""
    table: Table = cast(Table, GroupBuy.__table__)
    cards = catalog_queries.product_card_query().subquery()
    quantity: Any = bindparam("gb_quantity")
    returning = [table.c.id, table.c.product_id, *(_line_extras() if with_extras else ())]
    return (
        sql_update(table)
        .where(
            table.c.id == bindparam("gb_id"),
            table.c.neighborhood_id == bindparam("gb_neighborhood"),
            table.c.window_id == bindparam("gb_window"),
            table.c.status == GroupBuyStatus.OPEN.value,
            (table.c.stock_cap.is_(None))
            | (table.c.ordered_quantity + quantity <= table.c.stock_cap),
            exists().where(cards.c.id == table.c.product_id, cards.c.active.is_(True)),
        )
        .values(ordered_quantity=table.c.ordered_quantity + quantity)
        .returning(*returning)
    )


@functools.cache
def _extras_statement() -> Any:
    table: Table = cast(Table, GroupBuy.__table__)
    ids: Any = bindparam("gb_ids", expanding=True)
    return select(table.c.id, table.c.product_id, *_line_extras()).where(table.c.id.in_(ids))


def reserve_offers(
    *, db_session: Session, neighborhood_id: int, window_id: int, quantities: Mapping[int, int]
) -> dict[int, Reserved] | None:
    """Add each line's quantity to its group buy while it stays within the cap, only to an
    open group buy of this neighborhood and window whose product is still sold. One guarded
    UPDATE a line, in group-buy id order (two orders never wait on each other's rows), each
    RETURNING what the line records (on SQLite read after the updates). None when a line was
    refused: the lines taken before it are given back (nothing of this call stays), so the
    caller needs no savepoint; it then reads why.
    """
    connection = db_session.connection()
    on_postgresql = connection.dialect.name == "postgresql"
    statement = _reserve_offer_statement(on_postgresql)
    taken: dict[int, Any] = {}
    for gb_id in sorted(quantities):
        row = connection.execute(
            statement,
            {
                "gb_id": gb_id,
                "gb_quantity": quantities[gb_id],
                "gb_neighborhood": neighborhood_id,
                "gb_window": window_id,
            },
        ).one_or_none()
        if row is None:
            give_back(db_session=db_session, quantities={i: quantities[i] for i in taken})
            return None
        taken[gb_id] = row
    if not on_postgresql:
        taken = {
            row[0]: row for row in connection.execute(_extras_statement(), {"gb_ids": list(taken)})
        }
    for gb_id in quantities:
        _expire_quantity(db_session, gb_id)
    return {gb_id: Reserved(*row) for gb_id, row in taken.items()}


def give_back(*, db_session: Session, quantities: Mapping[int, int]) -> None:
    """Undo `reserve_offers` in this transaction (its rows are still ours: no guard needed)."""
    if not quantities:
        return
    table: Table = cast(Table, GroupBuy.__table__)
    statement = (
        sql_update(table)
        .where(table.c.id == bindparam("gb_id"))
        .values(ordered_quantity=table.c.ordered_quantity - bindparam("gb_quantity"))
    )
    rows = [{"gb_id": gb_id, "gb_quantity": quantities[gb_id]} for gb_id in sorted(quantities)]
    db_session.connection().execute(statement, rows)
    for gb_id in quantities:
        _expire_quantity(db_session, gb_id)
