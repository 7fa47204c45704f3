"""Reads of the group buys for other packages: plain values, never the models.

`GroupBuyStatus` is re-exported as a value."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Subquery, case, func, select
from sqlalchemy.orm import Session, joinedload

from app.catalog import queries as catalog_queries
from app.groupbuys import pricing
from app.groupbuys.models import GroupBuy, PriceTier
from app.groupbuys.models import GroupBuyStatus as GroupBuyStatus
from app.groupbuys.pricing import Tier
from app.neighborhoods import queries as neighborhood_queries


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


@dataclass(frozen=True)
class GroupBuyOutcome:
    """Where a group buy stands: its status (as a string), units ordered, the minimum, and the
    lowest quantity of each price tier it has."""

    id: int
    status: str
    ordered_quantity: int
    min_quantity: int
    tier_minimums: tuple[int, ...]

    @property
    def tier_reached(self) -> int | None:
        """The highest tier minimum the units ordered reached, if any."""
        reached = [m for m in self.tier_minimums if m <= self.ordered_quantity]
        return max(reached) if reached else None


def group_buy_outcomes(
    db_session: Session, group_buy_ids: Collection[int]
) -> dict[int, GroupBuyOutcome]:
    """The outcome of these group buys (those that exist), by id."""
    if not group_buy_ids:
        return {}
    tiers: dict[int, list[int]] = {}
    for gb_id, min_quantity in db_session.execute(
        select(PriceTier.group_buy_id, PriceTier.min_quantity).where(
            PriceTier.group_buy_id.in_(group_buy_ids)
        )
    ):
        tiers.setdefault(gb_id, []).append(min_quantity)
    rows = db_session.execute(
        select(
            GroupBuy.id, GroupBuy.status, GroupBuy.ordered_quantity, GroupBuy.min_quantity
        ).where(GroupBuy.id.in_(group_buy_ids))
    )
    return {
        gb_id: GroupBuyOutcome(gb_id, str(status), ordered, minimum, tuple(tiers.get(gb_id, ())))
        for gb_id, status, ordered, minimum in rows
    }


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


def cutoff_formed_unit_prices() -> Subquery:
    """SQL rows (group_buy_id, unit_price_minor) for use inside another query: the unit price
    each group buy formed at, NULL while it is open or when it failed."""
    formed_price = case(
        (GroupBuy.status == GroupBuyStatus.FORMED, GroupBuy.final_unit_price_minor), else_=None
    )
    return select(
        GroupBuy.id.label("group_buy_id"), formed_price.label("unit_price_minor")
    ).subquery("formed_prices")


def group_buy_counts_by_window(
    db_session: Session, window_ids: Collection[int]
) -> list[tuple[int, GroupBuyStatus, bool, int]]:
    """(window id, status, below its minimum, group buys) over these windows' group buys."""
    if not window_ids:
        return []
    below = GroupBuy.ordered_quantity < GroupBuy.min_quantity
    rows = db_session.execute(
        select(GroupBuy.window_id, GroupBuy.status, below, func.count())
        .where(GroupBuy.window_id.in_(list(window_ids)))
        .group_by(GroupBuy.window_id, GroupBuy.status, below)
    )
    return [(w_id, GroupBuyStatus(status), bool(low), int(n)) for w_id, status, low, n in rows]


@dataclass(frozen=True)
class NeighborhoodGroupBuys:
    """A neighborhood's group buys in one window, counted by how they stand."""

    id: int
    name: str
    forming: int
    at_risk: int
    formed: int
    failed: int


def group_buys_by_neighborhood(
    db_session: Session, window_id: int, *, count_at_risk: bool, limit: int
) -> tuple[list[NeighborhoodGroupBuys], int]:
    """The window's group buys by neighborhood, worst first (failed, at risk), the top `limit`,
    and how many neighborhoods have one failed or at risk. At risk: open and below its minimum,
    counted only when `count_at_risk` (else such a group buy is forming)."""
    hood = neighborhood_queries.neighborhood_names_subquery()
    is_open = GroupBuy.status == GroupBuyStatus.OPEN
    below = GroupBuy.ordered_quantity < GroupBuy.min_quantity
    at_risk = func.sum(case((is_open & below, 1), else_=0)) if count_at_risk else func.sum(0)
    forming = func.sum(case((is_open, 1), else_=0)) - at_risk
    formed = func.sum(case((GroupBuy.status == GroupBuyStatus.FORMED, 1), else_=0))
    failed = func.sum(case((GroupBuy.status == GroupBuyStatus.FAILED, 1), else_=0))
    trouble = failed + at_risk
    query = (
        select(hood.c.id, hood.c.name, forming, at_risk, formed, failed)
        .join(GroupBuy, GroupBuy.neighborhood_id == hood.c.id)
        .where(GroupBuy.window_id == window_id)
        .group_by(hood.c.id, hood.c.name)
    )
    rows = db_session.execute(
        query.order_by(trouble.desc(), forming.desc(), hood.c.name).limit(limit)
    ).all()
    counted = db_session.scalar(
        select(func.count()).select_from(query.having(trouble > 0).subquery())
    )
    hoods = [
        NeighborhoodGroupBuys(hood_id, name, int(a), int(b), int(c), int(d))
        for hood_id, name, a, b, c, d in rows
    ]
    return hoods, int(counted or 0)
