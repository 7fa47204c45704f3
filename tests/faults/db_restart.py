"""Scenario: PostgreSQL restarted in the middle of a burst of orders.

The API runs in uvicorn (a thread of this process) on a PostgreSQL of our own; clients place
orders over HTTP, each with its own Idempotency-Key, and retry after a 503 as its Retry-After
says. Part-way through, the database is restarted (`pg_ctl stop -m fast`: every session is
ended, as an operator's restart or a failover does). Afterwards:

- every answer was 201 or 503 with Retry-After (never a 500, never a dropped connection);
- every order exists exactly once (lost 0, duplicated 0), whole: its lines, its charge in the
  ledger and the group buys' ordered quantities agree (nothing half-written);
- the service recovered by itself: orders succeed again after the restart without any
  restart of the API (the pool pings idle connections and invalidates itself on a disconnect).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import dbtools
from app.core import db as core_db
from app.core.db import make_engine
from app.core.settings import get_settings
from app.groupbuys.models import GroupBuy
from app.main import create_app
from app.orders.models import Order, OrderLine
from app.payments.models import EntryKind, LedgerEntry
from app.schema import load_all_models
from lockers.broker import free_port
from tests.conftest import token_for
from tests.factories import Factory
from tests.faults.servers import PostgresProcess


@dataclass
class BurstResult:
    orders: int
    restart_after: int
    created: int = 0
    replayed: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    half_written: int = 0
    recovered_after_s: float | None = None
    restart_s: float = 0.0
    wall_s: float = 0.0

    def row(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "answers": dict(sorted(self.answers.items())),
            "replayed": self.replayed,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "half_written": self.half_written,
            "unexpected": len(self.unexpected),
            "restart_s": round(self.restart_s, 2),
            "recovered_after_s": self.recovered_after_s,
            "wall_s": round(self.wall_s, 1),
        }


@dataclass
class _Shop:
    tokens: list[str]
    window_id: int
    group_buy_ids: list[int]


def _seed(factory: sessionmaker[Session], residents: int) -> _Shop:
    with factory() as session:
        make = Factory(session)
        hood = make.neighborhood()
        window = make.window()
        gbs = [make.group_buy(neighborhood=hood, window=window) for _ in range(2)]
        people = [make.resident(hood) for _ in range(residents)]
        session.commit()
        return _Shop([token_for(p) for p in people], window.id, [gb.id for gb in gbs])


class _Api:
    """The API in uvicorn, in a thread, configured for the given database as in production
    (DATABASE_URL: its own engine and pool, the request sessions of `app.core.db.get_db`)."""

    def __init__(self, database_url: str) -> None:
        self._saved = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = database_url
        clear_caches()
        app = create_app()
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        if self._saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = self._saved
        clear_caches()


def clear_caches() -> None:
    get_settings.cache_clear()
    if core_db.get_engine.cache_info().currsize:
        core_db.get_engine().dispose()
    core_db.get_engine.cache_clear()
    core_db.get_sessionmaker.cache_clear()


def run(
    *,
    orders: int = 120,
    workers: int = 6,
    restart_after: int | None = None,
    down_for: float = 1.0,
    mode: str = "fast",
    workdir: Path | None = None,
) -> BurstResult:
    """The whole scenario on a PostgreSQL of its own (initdb'd in a temp directory)."""
    load_all_models()
    restart_after = orders // 3 if restart_after is None else restart_after
    folder = workdir or Path(tempfile.mkdtemp(prefix="pickup-fault-pg-"))
    pg = PostgresProcess(folder)
    pg.init().start()
    try:
        url = pg.create_database("faults")
        dbtools.upgrade(url)
        engine = make_engine(url)
        try:
            return _burst(engine, url, pg, orders, workers, restart_after, down_for, mode)
        finally:
            engine.dispose()
    finally:
        pg.stop(mode="immediate")
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)


def _burst(
    engine: Any,
    url: str,
    pg: PostgresProcess,
    orders: int,
    workers: int,
    restart_after: int,
    down_for: float,
    mode: str,
) -> BurstResult:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    shop = _seed(factory, workers)
    result = BurstResult(orders=orders, restart_after=restart_after)
    run_id = uuid.uuid4().hex[:8]
    keys = [f"fault-{run_id}-{i}" for i in range(orders)]
    lock = threading.Lock()
    restarted = threading.Event()
    restart_done: list[float] = []

    def restart() -> None:
        started = time.monotonic()
        pg.restart(down_for=down_for, mode=mode)
        result.restart_s = time.monotonic() - started
        restart_done.append(time.monotonic())

    restarter = threading.Thread(target=restart)

    def place(index: int) -> None:
        token = shop.tokens[index % len(shop.tokens)]
        body = {
            "window_id": shop.window_id,
            "lines": [{"group_buy_id": gb, "quantity": 1 + index % 2} for gb in shop.group_buy_ids],
        }
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": keys[index]}
        with httpx.Client(timeout=30) as client:
            for _attempt in range(200):
                try:
                    answer = client.post(f"{base}/orders", json=body, headers=headers)
                except httpx.HTTPError as exc:
                    with lock:
                        result.answers["connection error"] += 1
                        result.unexpected.append(f"{keys[index]}: {exc!r}")
                    time.sleep(0.2)
                    continue
                retry_after = answer.headers.get("Retry-After")
                label = str(answer.status_code) + (
                    " + Retry-After" if answer.status_code == 503 and retry_after else ""
                )
                with lock:
                    result.answers[label] += 1
                    if answer.status_code == 201:
                        result.created += 1
                        result.replayed += answer.headers.get("Idempotent-Replayed") == "true"
                        if restart_done and result.recovered_after_s is None:
                            result.recovered_after_s = round(time.monotonic() - restart_done[0], 2)
                        if result.created >= restart_after and not restarted.is_set():
                            restarted.set()
                            restarter.start()
                        return
                    if answer.status_code != 503 or not retry_after:
                        result.unexpected.append(f"{keys[index]}: {answer.status_code}")
                time.sleep(float(retry_after or 0.2))
            with lock:
                result.unexpected.append(f"{keys[index]}: gave up")

    started = time.monotonic()
    with _Api(url) as base, ThreadPoolExecutor(workers) as pool:
        list(pool.map(place, range(orders)))
        if restarter.is_alive():
            restarter.join()
    result.wall_s = time.monotonic() - started
    _count(factory, keys, result)
    return result


def _count(factory: sessionmaker[Session], keys: list[str], result: BurstResult) -> None:
    """Lost, duplicated and half-written orders, read back from the database."""
    with factory() as session:
        per_key = Counter(
            session.scalars(select(Order.idempotency_key).where(Order.idempotency_key.in_(keys)))
        )
        result.lost = sum(1 for key in keys if per_key[key] == 0)
        result.duplicated = sum(n - 1 for n in per_key.values() if n > 1)
        placed = session.scalars(select(Order).where(Order.idempotency_key.in_(keys))).all()
        charges = Counter(
            session.scalars(
                select(LedgerEntry.order_id).where(LedgerEntry.kind == EntryKind.CHARGE)
            )
        )
        charged = dict(
            session.execute(
                select(LedgerEntry.order_id, func.sum(LedgerEntry.amount_minor))
                .where(LedgerEntry.kind == EntryKind.CHARGE)
                .group_by(LedgerEntry.order_id)
            ).all()
        )
        for order in placed:
            paid = sum(line.quantity * line.paid_unit_price_minor for line in order.lines)
            whole = (
                len(order.lines) == 2
                and paid == order.paid_minor
                and charges[order.id] == 1
                and charged.get(order.id) == order.paid_minor
            )
            result.half_written += not whole
        ordered = dict(
            session.execute(
                select(OrderLine.group_buy_id, func.sum(OrderLine.quantity)).group_by(
                    OrderLine.group_buy_id
                )
            ).all()
        )
        for gb in session.scalars(select(GroupBuy)):
            result.half_written += gb.ordered_quantity != ordered.get(gb.id, 0)
