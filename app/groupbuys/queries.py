"""Reads of the group buys for other packages: plain values, never the models.

`GroupBuyStatus` is re-exported as a value."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.groupbuys import pricing
from app.groupbuys.models import GroupBuy
from app.groupbuys.models import GroupBuyStatus as GroupBuyStatus


@dataclass(frozen=True)
class GroupBuyOffer:
    """A group buy as an order line sees it: where, what, its state, stock and entry price."""

    id: int
    neighborhood_id: int
    window_id: int
    product_id: int
    product_name: str
    product_active: bool
    status: GroupBuyStatus
    stock_cap: int | None
    ordered_quantity: int
    entry_price_minor: int


def group_buy_offers(
    db_session: Session, group_buy_ids: Collection[int], *, fresh: bool = False
) -> dict[int, GroupBuyOffer]:
    """The group buys with these ids, by id (`fresh`: read again past the session's copies)."""
    if not group_buy_ids:
        return {}
    query = (
        select(GroupBuy)
        .where(GroupBuy.id.in_(set(group_buy_ids)))
        .options(joinedload(GroupBuy.tiers), joinedload(GroupBuy.product))
    )
    if fresh:
        query = query.execution_options(populate_existing=True)
    return {
        gb.id: GroupBuyOffer(
            id=gb.id,
            neighborhood_id=gb.neighborhood_id,
            window_id=gb.window_id,
            product_id=gb.product_id,
            product_name=gb.product.name,
            product_active=gb.product.active,
            status=gb.status,
            stock_cap=gb.stock_cap,
            ordered_quantity=gb.ordered_quantity,
            entry_price_minor=pricing.entry_price(gb.tiers),
        )
        for gb in db_session.scalars(query).unique()
    }
