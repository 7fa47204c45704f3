"""Reads of the group buys for other packages: plain values, never the models."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.groupbuys.models import GroupBuy, GroupBuyStatus, PriceTier
from app.groupbuys.pricing import Tier


@dataclass(frozen=True)
class GroupBuyStanding:
    """How far an open group buy has come: its tiers (by quantity), minimum and stock."""

    id: int
    product_id: int
    ordered_quantity: int
    min_quantity: int
    stock_cap: int | None
    tiers: tuple[Tier, ...]


def open_group_buys_of_window(db_session: Session, window_id: int) -> list[GroupBuyStanding]:
    """The window's open group buys with their tiers (two queries)."""
    rows = db_session.execute(
        select(
            GroupBuy.id,
            GroupBuy.product_id,
            GroupBuy.ordered_quantity,
            GroupBuy.min_quantity,
            GroupBuy.stock_cap,
        ).where(GroupBuy.window_id == window_id, GroupBuy.status == GroupBuyStatus.OPEN)
    ).all()
    tiers: dict[int, list[Tier]] = {row[0]: [] for row in rows}
    if tiers:
        for group_buy_id, quantity, price in db_session.execute(
            select(PriceTier.group_buy_id, PriceTier.min_quantity, PriceTier.unit_price_minor)
            .where(PriceTier.group_buy_id.in_(tiers))
            .order_by(PriceTier.group_buy_id, PriceTier.min_quantity)
        ):
            tiers[group_buy_id].append(Tier(quantity, price))
    return [GroupBuyStanding(*row, tiers=tuple(tiers[row[0]])) for row in rows]
