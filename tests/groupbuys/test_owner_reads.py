"""The group buys' reads the day board uses: counts by window, standing by neighborhood."""

from sqlalchemy.orm import Session

from app.groupbuys import queries as groupbuy_queries
from app.groupbuys.queries import GroupBuyStatus, NeighborhoodGroupBuys
from tests.factories import Factory


def test_group_buys_counted_by_window_and_by_neighborhood(db: Session, make: Factory) -> None:
    window = make.window()
    calm, trouble = make.neighborhood(name="Calm"), make.neighborhood(name="Trouble")
    full = make.group_buy(neighborhood=calm, window=window, min_quantity=2)
    full.ordered_quantity = 3
    make.group_buy(neighborhood=trouble, window=window, min_quantity=9)
    make.group_buy(neighborhood=trouble, window=window, status=GroupBuyStatus.FAILED)
    db.flush()
    counts = groupbuy_queries.group_buy_counts_by_window(db, [window.id])
    assert sorted(counts) == [
        (window.id, GroupBuyStatus.FAILED, True, 1),
        (window.id, GroupBuyStatus.OPEN, False, 1),
        (window.id, GroupBuyStatus.OPEN, True, 1),
    ]
    hoods, trouble_count = groupbuy_queries.group_buys_by_neighborhood(
        db, window.id, count_at_risk=True, limit=10
    )
    assert hoods == [
        NeighborhoodGroupBuys(trouble.id, "Trouble", 0, 1, 0, 1),
        NeighborhoodGroupBuys(calm.id, "Calm", 1, 0, 0, 0),
    ]
    assert trouble_count == 1
    calmer, _ = groupbuy_queries.group_buys_by_neighborhood(
        db, window.id, count_at_risk=False, limit=1
    )
    assert calmer == [NeighborhoodGroupBuys(trouble.id, "Trouble", 1, 0, 0, 1)]
