"""Statements and CPU of one order placement and one catalog read, in-process (issue 16).

    .venv/bin/python bench/order_cost.py [DATABASE_URL]   # default: a temporary SQLite file

Seeds a city with one neighborhood, 5 open windows of 20 group buys each, places 150 orders
(one line, quantity 1, a fresh Idempotency-Key) through `order_service.place` and reads the
catalog 50 times (all open windows, then one window); each call in an empty session
with the caller lookup, as a request; prints statements per call (BEGIN counted on SQLite),
mean ms, and mean CPU ms of this process (the database server's own time left out).
"""

import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import dbtools  # noqa: E402
from app.core.db import make_engine  # noqa: E402
from app.groupbuys import resident_catalog  # noqa: E402
from app.orders import service as order_service  # noqa: E402
from app.orders.schemas import OrderCreate, OrderLineCreate  # noqa: E402
from app.residents.models import Resident  # noqa: E402
from app.schema import load_all_models  # noqa: E402
from tests.factories import Factory  # noqa: E402


def _timed(session: Session, call: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(runs):
        call()
        session.commit()
        session.expunge_all()  # each call starts as a request does, with an empty session
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    event.remove(engine, "before_cursor_execute", count)
    return statements / runs, elapsed * 1000 / runs, cpu * 1000 / runs


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/cost.db"
    load_all_models()
    dbtools.upgrade(url)
    engine = make_engine(url)
    session = Session(bind=engine, expire_on_commit=False)
    make = Factory(session)
    city = make.city(name=f"Bench {uuid.uuid4().hex[:6]}")
    hood = make.neighborhood(city)
    windows = [make.window(city, cutoff_in=timedelta(hours=3 + i)) for i in range(5)]
    gbs = [
        make.group_buy(neighborhood=hood, window=w, product=make.product(city), stock_cap=100000)
        for w in windows
        for _ in range(20)
    ]
    residents = [make.resident(hood) for _ in range(150)]
    session.commit()
    resident_ids = [r.id for r in residents]
    first_gb, first_window = gbs[0].id, gbs[0].window_id
    window_id = windows[0].id
    orders = iter(resident_ids)

    def place() -> None:
        resident = session.get_one(Resident, next(orders))  # the caller lookup
        order_in = OrderCreate(
            window_id=first_window,
            lines=[OrderLineCreate(group_buy_id=first_gb, quantity=1)],
        )
        result = order_service.place(
            db_session=session,
            resident=resident,
            order_in=order_in,
            idempotency_key=uuid.uuid4().hex,
        )
        assert result.order.id  # the answer, built by `place` from the values in hand

    def read_catalog() -> None:
        resident = session.get_one(Resident, resident_ids[0])
        resident_catalog.catalog(db_session=session, resident=resident).model_dump_json()

    def read_one_window() -> None:
        resident = session.get_one(Resident, resident_ids[0])
        resident_catalog.catalog(
            db_session=session, resident=resident, window_id=window_id
        ).model_dump_json()

    place()
    session.commit()
    session.expunge_all()
    orders = iter(resident_ids[1:])
    per_order = _timed(session, place, 149)
    per_catalog = _timed(session, read_catalog, 50)
    per_window = _timed(session, read_one_window, 50)
    for name, (statements, ms, cpu_ms) in (
        ("order:  ", per_order),
        ("catalog, 5 windows:", per_catalog),
        ("catalog, 1 window:", per_window),
    ):
        print(f"{name} {statements:.1f} statements, {ms:.1f} ms ({cpu_ms:.1f} ms CPU here)")


if __name__ == "__main__":
    main()
