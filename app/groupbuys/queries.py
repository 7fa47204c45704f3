"""Reads of the group buys for other packages: plain values, never the models.

`GroupBuyStatus` is re-exported as a value."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.catalog import queries as catalog_queries
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
        .options(joinedload(GroupBuy.tiers))
    )
    if fresh:
        query = query.execution_options(populate_existing=True)
    group_buys = list(db_session.scalars(query).unique())
    cards = catalog_queries.product_cards(db_session, {gb.product_id for gb in group_buys})
    return {
        gb.id: GroupBuyOffer(
            id=gb.id,
            neighborhood_id=gb.neighborhood_id,
            window_id=gb.window_id,
            product_id=gb.product_id,
            product_name=cards[gb.product_id].name,
            product_active=cards[gb.product_id].active,
            status=gb.status,
            stock_cap=gb.stock_cap,
            ordered_quantity=gb.ordered_quantity,
            entry_price_minor=pricing.entry_price(gb.tiers),
        )
        for gb in group_buys
    }
