"""Scenario: the cut-off pipeline killed (SIGKILL) between steps, or inside one, and run again.

Two databases are built the same way (same seed): a city whose window's cut-off has passed,
orders placed through the order service (each charged), group buys that form with a lower tier
(partial refunds) and some that fail (full refunds). On the first, the cut-off runs once,
uninterrupted, in a subprocess. On the second, a subprocess runs it and SIGKILLs itself at the
given point; another subprocess runs it again (after the dead run's lease expired), and so on
for every kill point. The outcome is then compared: orders, ledger entries (charges, refunds),
parcels, compartment bookings, stops, unassigned stops, outbox events. Whatever the killed run
has fewer of is lost; whatever it has more of is duplicated.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import dbtools
from app.core.db import make_engine
from app.core.enums import CompartmentSize, TemperatureClass
from app.events.models import OutboxEvent
from app.groupbuys.models import GroupBuy
from app.neighborhoods.models import Compartment, CompartmentStatus
from app.orders import service as order_service
from app.orders.models import Order
from app.orders.schemas import OrderCreate
from app.payments.models import LedgerEntry
from app.schema import load_all_models
from logistics.models import Parcel, PipelineRun, RouteStop, UnassignedStop
from tests.factories import Factory
from tests.logistics.conftest import World

REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 1
KILLED = -signal.SIGKILL

# Run in a fresh interpreter: the cut-off as `pickup logistics cutoff` runs it, killing itself
# with SIGKILL at the named point ("after:<step>" once the step is committed, "during:<step>"
# at its first progress report), or "none".
_CHILD = """
import os, signal, sys
from app.core.db import get_sessionmaker
from app.schema import load_all_models
from logistics.pipeline import PipelineBusy, run_cutoff
load_all_models()
window_id, kill_at = int(sys.argv[1]), sys.argv[2]
when, _, where = kill_at.partition(":")
def on_event(step, phase, done, total):
    if step == where and phase == {"after": "done", "during": "progress"}.get(when):
        os.kill(os.getpid(), signal.SIGKILL)
try:
    report = run_cutoff(session_factory=get_sessionmaker(), window_id=window_id, on_event=on_event)
except PipelineBusy:
    sys.exit(3)
print(report.status)
sys.exit(0 if report.status == "succeeded" else 1)
"""

LOCKERS = {
    TemperatureClass.CHILLED: {CompartmentSize.S: 6, CompartmentSize.M: 3},
    TemperatureClass.FROZEN: {CompartmentSize.S: 4, CompartmentSize.M: 2},
}


@dataclass
class KillResult:
    kill_points: list[str]
    orders: int
    kills: int = 0
    runs: int = 0
    lost: int = 0
    duplicated: int = 0
    same_outcome: bool = False
    differences: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Counter[Any]] = field(default_factory=dict)
    wall_s: float = 0.0

    def row(self) -> dict[str, Any]:
        return {
            "kill_points": ", ".join(self.kill_points),
            "orders": self.orders,
            "kills": self.kills,
            "runs": self.runs,
            "charges": sum(self.reference["charges"].values()),
            "refunds": sum(self.reference["refunds"].values()),
            "parcels": sum(self.reference["parcels"].values()),
            "lost": self.lost,
            "duplicated": self.duplicated,
            "same_outcome": self.same_outcome,
            "wall_s": round(self.wall_s, 1),
        }


@contextmanager
def fresh_databases(count: int, server_url: str | None = None) -> Iterator[list[str]]:
    """`count` migrated, empty databases: SQLite files, or new databases on the PostgreSQL at
    `server_url` (dropped afterwards)."""
    load_all_models()
    if not (server_url or "").startswith("postgresql"):
        folder = Path(tempfile.mkdtemp(prefix="pickup-fault-cutoff-"))
        urls = [f"sqlite:///{folder}/db{i}.db" for i in range(count)]
        try:
            for url in urls:
                dbtools.upgrade(url)
            yield urls
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    base = make_url(str(server_url)).set(drivername="postgresql+psycopg")
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    names = [f"pickup_fault_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    urls = []
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            urls.append(base.set(database=name).render_as_string(hide_password=False))
    try:
        for url in urls:
            dbtools.upgrade(url)
        yield urls
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def build_city(database_url: str, *, hoods: int, orders_per_hood: int, seed: int) -> int:
    """The city of the scenario (the same for the same seed); the window's id."""
    rng = random.Random(seed)
    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            world = World(Factory(session))
            world.van()
            world.van()
            ordering_time = world.window.cutoff_at - timedelta(hours=2)
            for n in range(hoods):
                hood, _bank = world.hood(km_north=1.0 + n, km_east=0.4 * n, lockers=LOCKERS)
                forms = n % 3 != 2  # every third neighborhood's group buys fail
                gbs = [
                    world.make.group_buy(
                        neighborhood=hood,
                        window=world.window,
                        product=product,
                        min_quantity=3 if forms else 500,
                        tiers=[(1, 1200), (4, 990), (8, 890)],
                    )
                    for product in (world.chilled, world.frozen)
                ]
                for i in range(orders_per_hood):
                    lines = [
                        {"group_buy_id": gb.id, "quantity": rng.randint(1, 2)}
                        for gb in gbs
                        if rng.random() < 0.8
                    ] or [{"group_buy_id": gbs[0].id, "quantity": 1}]
                    order_service.place(
                        db_session=session,
                        resident=world.resident(hood),
                        order_in=OrderCreate.model_validate(
                            {"window_id": world.window.id, "lines": lines}
                        ),
                        idempotency_key=f"cutoff-{n}-{i}",
                        now=ordering_time,
                    )
            session.commit()
            return world.window.id
    finally:
        engine.dispose()


def run_child(database_url: str, window_id: int, kill_at: str = "none") -> int:
    """One cut-off in a subprocess; its exit code (-9 when it killed itself)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOGISTICS_LEASE_SECONDS": str(LEASE_SECONDS),
        "LOGISTICS_SOLVER_TIME_LIMIT_S": os.environ.get("LOGISTICS_SOLVER_TIME_LIMIT_S", "1"),
        "LOGISTICS_SOLVER_WORKERS": "1",
        "LOGISTICS_PACKING_MINUTES": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(window_id), kill_at],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    if done.returncode not in (0, 3, KILLED):
        raise RuntimeError(f"cut-off exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return done.returncode


def outcome(database_url: str, window_id: int) -> dict[str, Counter[Any]]:
    """What the cut-off did, by natural keys (the same in both databases)."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as s:
            key_of = dict(s.execute(select(Order.id, Order.idempotency_key)).all())
            ledger = [(key_of[e.order_id], e.kind.value, e.amount_minor) for e in s.scalars(
                select(LedgerEntry))]  # fmt: skip
            parcels = s.scalars(select(Parcel).where(Parcel.window_id == window_id)).all()
            return {
                "orders": Counter(
                    (o.idempotency_key, o.status.value, o.charged_minor)
                    for o in s.scalars(select(Order))
                ),
                "charges": Counter(e for e in ledger if e[1] == "charge"),
                "refunds": Counter(e for e in ledger if e[1] == "refund"),
                "group_buys": Counter(gb.status.value for gb in s.scalars(select(GroupBuy))),
                "parcels": Counter(
                    (key_of[p.order_id], p.temperature_class.value, p.sequence) for p in parcels
                ),
                "parcels_booked": Counter(p.compartment_id is not None for p in parcels),
                "parcels_on_a_stop": Counter(p.route_stop_id is not None for p in parcels),
                "compartments_reserved": Counter(
                    c.bank_id
                    for c in s.scalars(
                        select(Compartment).where(Compartment.status == CompartmentStatus.RESERVED)
                    )
                ),
                "banks_served": Counter(set(s.scalars(select(RouteStop.bank_id)))),
                "banks_unassigned": Counter(
                    (u.bank_id, u.reason_code) for u in s.scalars(select(UnassignedStop))
                ),
                "events": Counter(e.kind for e in s.scalars(select(OutboxEvent))),
                "runs": Counter(r.status.value for r in s.scalars(select(PipelineRun))),
            }
    finally:
        engine.dispose()


def run(
    *,
    kill_points: list[str],
    hoods: int = 4,
    orders_per_hood: int = 4,
    seed: int = 15,
    server_url: str | None = None,
) -> KillResult:
    """Uninterrupted on one database, killed at every point and resumed on the other."""
    started = time.monotonic()
    result = KillResult(kill_points=kill_points, orders=hoods * orders_per_hood)
    with fresh_databases(2, server_url) as (reference_url, killed_url):
        window_ids = [
            build_city(url, hoods=hoods, orders_per_hood=orders_per_hood, seed=seed)
            for url in (reference_url, killed_url)
        ]
        if run_child(reference_url, window_ids[0]) != 0:
            raise RuntimeError("the uninterrupted cut-off did not succeed")
        for kill_at in [*kill_points, "none"]:
            while True:
                code = run_child(killed_url, window_ids[1], kill_at)
                result.runs += 1
                if code != 3:
                    break
                time.sleep(LEASE_SECONDS / 2)  # the dead run's lease has not expired yet
            result.kills += code == KILLED
        result.reference = outcome(reference_url, window_ids[0])
        resumed = outcome(killed_url, window_ids[1])
    for name, expected in result.reference.items():
        got = resumed[name]
        result.lost += sum((expected - got).values())
        result.duplicated += sum((got - expected).values())
        if got != expected:
            result.differences[name] = {"missing": expected - got, "extra": got - expected}
    result.same_outcome = not result.differences
    result.wall_s = time.monotonic() - started
    return result
