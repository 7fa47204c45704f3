"""Group-buy stock: single conditional UPDATEs, never read-then-write.

Ordering adds to a group buy's `ordered_quantity` only while it is open and stays within its
cap, in one statement, so concurrent orders can never oversell it; cancelling gives it back.
"""

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from app.groupbuys.models import GroupBuy, GroupBuyStatus


def reserve_stock(*, db_session: Session, group_buy_id: int, quantity: int) -> bool:
    """Add `quantity` to an open group buy if it stays within the cap; False if it would not."""
    return reserve_stock_many(db_session=db_session, quantities={group_buy_id: quantity})


def reserve_stock_many(*, db_session: Session, quantities: Mapping[int, int]) -> bool:
    """Add each group buy's quantity as `reserve_stock` does, in one executemany, in group-buy
    id order (two orders never wait on each other's rows); True only if every row took it.

    On False some rows may have taken theirs: the caller rolls its savepoint back.
    """
    table: Table = cast(Table, GroupBuy.__table__)
    statement = (
        sql_update(table)
        .where(
            table.c.id == bindparam("gb_id"),
            table.c.status == GroupBuyStatus.OPEN.value,
            (table.c.stock_cap.is_(None))
            | (table.c.ordered_quantity + bindparam("gb_quantity") <= table.c.stock_cap),
        )
        .values(ordered_quantity=table.c.ordered_quantity + bindparam("gb_quantity"))
    )
    rows = [{"gb_id": gb_id, "gb_quantity": quantities[gb_id]} for gb_id in sorted(quantities)]
    result = cast(CursorResult[Any], db_session.execute(statement, rows))
    for gb_id in quantities:
        _expire_quantity(db_session, gb_id)
    return result.rowcount == len(rows)


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
