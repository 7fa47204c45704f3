"""The stock cap holds under concurrency: real commits, 50 residents at once (SQLite and PG)."""

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.errors import Conflict
from app.groupbuys.models import GroupBuy
from app.orders import service as order_service
from app.orders.models import Order, OrderLine
from app.orders.schemas import OrderCreate
from app.payments.models import EntryKind, LedgerEntry
from app.residents.models import Resident
from tests.factories import Factory

THREADS = 50


@dataclass(frozen=True)
class Setup:
    window_id: int
    group_buy_id: int
    resident_ids: list[int]


def _setup(committed: sessionmaker[Session], *, cap: int, residents: int) -> Setup:
    with committed() as session:
        make = Factory(session)
        hood = make.neighborhood()
        window = make.window()
        gb = make.group_buy(neighborhood=hood, window=window, stock_cap=cap, min_quantity=1)
        people = [make.resident(hood) for _ in range(residents)]
        session.commit()
        return Setup(window.id, gb.id, [r.id for r in people])


def _place(
    committed: sessionmaker[Session],
    barrier: threading.Barrier,
    setup: Setup,
    resident_id: int,
    quantity: int,
    key: str | None = None,
) -> tuple[str, int]:
    """('ok', order id) or ('refused', remaining stock said in the error)."""
    order_in = OrderCreate.model_validate(
        {
            "window_id": setup.window_id,
            "lines": [{"group_buy_id": setup.group_buy_id, "quantity": quantity}],
        }
    )
    barrier.wait()
    with committed() as session:
        resident = session.get(Resident, resident_id)
        assert resident is not None
        try:
            result = order_service.place(
                db_session=session, resident=resident, order_in=order_in, idempotency_key=key
            )
            session.commit()
            return "ok", result.order.id
        except Conflict as exc:
            session.rollback()
            assert exc.field == "lines.0.quantity"
            return "refused", int(exc.extra["remaining"])


def _totals(committed: sessionmaker[Session], gb_id: int) -> tuple[int, int, int, int]:
    with committed() as session:
        ordered = session.scalar(select(GroupBuy.ordered_quantity).where(GroupBuy.id == gb_id))
        lines = session.scalar(
            select(func.coalesce(func.sum(OrderLine.quantity), 0)).where(
                OrderLine.group_buy_id == gb_id
            )
        )
        orders = session.scalar(select(func.count()).select_from(Order))
        charges = session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.kind == EntryKind.CHARGE)
        )
        return int(ordered or 0), int(lines or 0), int(orders or 0), int(charges or 0)


def test_sequential_orders_stop_at_the_cap(committed) -> None:  # type: ignore[no-untyped-def]
    setup = _setup(committed, cap=5, residents=3)
    barrier = threading.Barrier(1)
    outcomes = [_place(committed, barrier, setup, rid, 2) for rid in setup.resident_ids]
    assert [o[0] for o in outcomes] == ["ok", "ok", "refused"]
    assert outcomes[2][1] == 1
    assert _totals(committed, setup.group_buy_id) == (4, 4, 2, 2)


def test_fifty_residents_racing_for_the_last_units_never_oversell(committed) -> None:  # type: ignore[no-untyped-def]
    cap = 20
    setup = _setup(committed, cap=cap, residents=THREADS)
    barrier = threading.Barrier(THREADS)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(
            pool.map(lambda rid: _place(committed, barrier, setup, rid, 1), setup.resident_ids)
        )
    counts = Counter(kind for kind, _ in outcomes)
    assert counts == {"ok": cap, "refused": THREADS - cap}
    assert all(remaining == 0 for kind, remaining in outcomes if kind == "refused")
    assert _totals(committed, setup.group_buy_id) == (cap, cap, cap, cap)


def test_fifty_mixed_quantities_never_exceed_the_cap(committed) -> None:  # type: ignore[no-untyped-def]
    cap = 37
    setup = _setup(committed, cap=cap, residents=THREADS)
    rng = random.Random(7)
    quantities = {rid: rng.randint(1, 3) for rid in setup.resident_ids}
    barrier = threading.Barrier(THREADS)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(
            pool.map(
                lambda rid: (rid, _place(committed, barrier, setup, rid, quantities[rid])),
                setup.resident_ids,
            )
        )
    sold = sum(quantities[rid] for rid, (kind, _) in outcomes if kind == "ok")
    ordered, lines, orders, charges = _totals(committed, setup.group_buy_id)
    assert sold == ordered == lines <= cap
    assert orders == charges == sum(1 for _, (kind, _) in outcomes if kind == "ok")
    # Whoever was refused was refused for a good reason: their quantity did not fit any more.
    assert cap - sold < max(quantities.values())


def test_concurrent_retries_with_one_key_make_one_order(committed) -> None:  # type: ignore[no-untyped-def]
    setup = _setup(committed, cap=100, residents=1)
    tries = 10
    barrier = threading.Barrier(tries)
    rid = setup.resident_ids[0]
    with ThreadPoolExecutor(max_workers=tries) as pool:
        outcomes = list(
            pool.map(lambda _: _place(committed, barrier, setup, rid, 3, "tap-tap"), range(tries))
        )
    assert {kind for kind, _ in outcomes} == {"ok"}
    assert len({order_id for _, order_id in outcomes}) == 1
    assert _totals(committed, setup.group_buy_id) == (3, 3, 1, 1)
