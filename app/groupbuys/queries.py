"""Reading group buys for other packages: plain values, never the models."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.groupbuys.models import GroupBuy, PriceTier


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
