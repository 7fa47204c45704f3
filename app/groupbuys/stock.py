"""Group-buy stock: single conditional UPDATEs, never read-then-write.

Ordering adds to a group buy's `ordered_quantity` only while it is open and stays within its
cap, in one statement, so concurrent orders can never oversell it; cancelling gives it back.
"""

from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from app.groupbuys.models import GroupBuy, GroupBuyStatus


def reserve_stock(*, db_session: Session, group_buy_id: int, quantity: int) -> bool:
    """Add `quantity` to an open group buy if it stays within the cap; False if it would not."""
    statement = (
        sql_update(GroupBuy)
        .where(
            GroupBuy.id == group_buy_id,
            GroupBuy.status == GroupBuyStatus.OPEN,
            (GroupBuy.stock_cap.is_(None))
            | (GroupBuy.ordered_quantity + quantity <= GroupBuy.stock_cap),
        )
        .values(ordered_quantity=GroupBuy.ordered_quantity + quantity)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], db_session.execute(statement))
    _expire_quantity(db_session, group_buy_id)
    return result.rowcount == 1


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
