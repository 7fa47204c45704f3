"""Two operators closing the same window at once: each neighborhood is settled exactly once."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.events.models import OutboxEvent
from app.groupbuys import closing
from app.orders import service as order_service
from app.orders.models import Order, OrderStatus
from app.orders.schemas import OrderCreate
from app.payments.models import EntryKind, LedgerEntry
from app.windows.models import DeliveryWindow, WindowStatus
from tests.factories import Factory

RUNS = 3
HOODS = 4


def _world(committed: sessionmaker[Session]) -> tuple[int, int]:
    """A window with 4 neighborhoods x 2 group buys and 3 orders each; (window id, orders)."""
    with committed() as session:
        make = Factory(session)
        window = make.window()
        before_cutoff = window.cutoff_at - timedelta(hours=1)
        orders = 0
        for _ in range(HOODS):
            hood = make.neighborhood()
            strong = make.group_buy(neighborhood=hood, window=window, min_quantity=3)
            weak = make.group_buy(neighborhood=hood, window=window, min_quantity=100)
            for quantity in (1, 2, 3):
                order_in = OrderCreate.model_validate(
                    {
                        "window_id": window.id,
                        "lines": [
                            {"group_buy_id": strong.id, "quantity": quantity},
                            {"group_buy_id": weak.id, "quantity": 1},
                        ],
                    }
                )
                order_service.place(
                    db_session=session,
                    resident=make.resident(hood),
                    order_in=order_in,
                    now=before_cutoff,
                )
                orders += 1
        session.commit()
        return window.id, orders


def test_concurrent_closes_settle_each_neighborhood_once(committed) -> None:  # type: ignore[no-untyped-def]
    window_id, orders = _world(committed)
    with committed() as session:
        window = session.get(DeliveryWindow, window_id)
        assert window is not None
        now = window.cutoff_at + timedelta(minutes=1)
    barrier = threading.Barrier(RUNS)

    def run(_: int) -> closing.CloseSummary:
        barrier.wait()
        with committed() as session:
            return closing.close_window(db_session=session, window_id=window_id, now=now)

    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        summaries = list(pool.map(run, range(RUNS)))

    assert sum(s.neighborhoods_finalized_now for s in summaries) == HOODS
    assert sum(s.orders_finalized_now for s in summaries) == orders
    with committed() as session:
        final = closing.summarize(db_session=session, window_id=window_id)
        assert final.window_status == WindowStatus.CLOSED
        assert (final.group_buys_formed, final.group_buys_failed) == (HOODS, HOODS)
        assert final.orders_confirmed == orders
        refunds = session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.kind == EntryKind.REFUND)
        )
        assert refunds == orders  # one close-diff refund per order, never two
        confirmed_events = session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.kind == "order.confirmed")
        )
        assert confirmed_events == orders
        statuses = set(session.scalars(select(Order.status)))
        assert statuses == {OrderStatus.CONFIRMED}
