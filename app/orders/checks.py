"""An order's checks before it is placed, and why a stock reservation was refused."""

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.catalog import queries as catalog_queries
from app.core.errors import Conflict
from app.groupbuys.errors import GroupBuyNotOpen
from app.groupbuys.models import GroupBuy, GroupBuyStatus
from app.orders.errors import (
    DuplicateOrderLine,
    GroupBuyOfOtherNeighborhood,
    GroupBuyOfOtherWindow,
    ProductDiscontinued,
    StockExhausted,
    UnknownGroupBuy,
)
from app.orders.schemas import OrderCreate
from app.residents.models import Resident
from app.windows.models import DeliveryWindow


def validated_group_buys(
    db_session: Session, resident: Resident, window: DeliveryWindow, order_in: OrderCreate
) -> dict[int, GroupBuy]:
    """The lines' group buys, each checked; the first problem raises naming its line."""
    seen: dict[int, int] = {}
    for i, line in enumerate(order_in.lines):
        if line.group_buy_id in seen:
            raise DuplicateOrderLine(
                f"group buy {line.group_buy_id} is already in lines.{seen[line.group_buy_id]}",
                field=f"lines.{i}.group_buy_id",
            )
        seen[line.group_buy_id] = i
    group_buys = {
        gb.id: gb
        for gb in db_session.scalars(
            select(GroupBuy).where(GroupBuy.id.in_(seen)).options(joinedload(GroupBuy.tiers))
        ).unique()
    }
    products = catalog_queries.product_cards(
        db_session, {gb.product_id for gb in group_buys.values()}
    )
    for i, line in enumerate(order_in.lines):
        field = f"lines.{i}.group_buy_id"
        gb = group_buys.get(line.group_buy_id)
        if gb is None:
            raise UnknownGroupBuy("unknown group buy", field=field)
        if gb.neighborhood_id != resident.neighborhood_id:
            raise GroupBuyOfOtherNeighborhood(
                "this group buy belongs to another neighborhood", field=field
            )
        if gb.window_id != window.id:
            raise GroupBuyOfOtherWindow(
                f"this group buy is for window {gb.window_id}, not window_id {window.id}",
                field=field,
            )
        if not products[gb.product_id].active:
            raise ProductDiscontinued("this product is not sold any more", field=field)
        if gb.status != GroupBuyStatus.OPEN:
            raise GroupBuyNotOpen(f"this group buy has already {gb.status.value}", field=field)
        if gb.stock_cap is not None and gb.ordered_quantity + line.quantity > gb.stock_cap:
            raise over_stock(gb, i)
    return group_buys


def over_stock(gb: GroupBuy, i: int) -> Conflict:
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
    fresh = {
        gb.id: gb
        for gb in db_session.scalars(
            select(GroupBuy).where(GroupBuy.id.in_(ids)).execution_options(populate_existing=True)
        )
    }
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
