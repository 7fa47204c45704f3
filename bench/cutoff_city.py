"""The cut-off benchmark's city: `app.seed.city.build_city` with one window whose cut-off has
just passed, exactly `--orders` orders placed, more depots and a van fleet of its own. The city's
time zone makes its local time early morning whenever the benchmark runs."""

from __future__ import annotations

import argparse
import math
import random
import uuid
from datetime import datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.cities.models import Depot
from app.groupbuys.models import GroupBuy
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus
from app.seed.city import CitySpec, SlotSpec, build_city
from app.windows.models import DeliveryWindow
from logistics.models import Vehicle


def morning_zone(now: datetime) -> str:
    """An Etc/GMT zone whose local time now is between 06:00 and 07:59."""
    for offset in range(-12, 15):
        if 6 <= (now.hour + offset) % 24 <= 7:
            return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    raise AssertionError("unreachable")


def build(session: Session, args: argparse.Namespace, now: datetime) -> int:
    """The benchmark city with one window whose cut-off has just passed; returns the window id."""
    zone = morning_zone(now)
    spec = CitySpec(
        name=f"Cutoff Bench {uuid.uuid4().hex[:6]}",
        neighborhoods=args.neighborhoods,
        residents=int(args.orders * 1.03) + 50,
        timezone=zone,
        bank_code_prefix="CB" + uuid.uuid4().hex[:4].upper(),
        window_days=1,
        group_buys_per_window=20,
        order_share=1.0,
        radius_km=args.radius_km,
        slots=(SlotSpec("bench", clock_time(23, 59), 1, 24),),
        vans=0,  # the benchmark adds its own fleet below
        depots=1,
    )
    summary = build_city(db_session=session, spec=spec, seed=args.seed, now=now)
    window = session.scalar(select(DeliveryWindow).where(DeliveryWindow.city_id == summary.city_id))
    assert window is not None
    # The cut-off has just passed; lockers must be ready five hours later.
    window.cutoff_at = now - timedelta(minutes=1)
    window.ready_by = now + timedelta(hours=5)
    window.pickup_deadline = window.ready_by + timedelta(hours=24)
    window.local_date = now.astimezone(ZoneInfo(zone)).date()
    # Exactly `orders` orders stay placed (the rest were cancelled by their residents), and every
    # group forms, so the close step confirms all of them.
    order_ids = list(
        session.scalars(select(Order.id).where(Order.window_id == window.id).order_by(Order.id))
    )
    if len(order_ids) < args.orders:
        raise SystemExit(f"the seed made only {len(order_ids)} orders; raise residents")
    extra = order_ids[args.orders :]
    for start in range(0, len(extra), 1000):
        chunk = extra[start : start + 1000]
        for gb_id, qty in session.execute(
            select(OrderLine.group_buy_id, func.sum(OrderLine.quantity))
            .where(OrderLine.order_id.in_(chunk))
            .group_by(OrderLine.group_buy_id)
        ).all():
            session.execute(
                update(GroupBuy)
                .where(GroupBuy.id == gb_id)
                .values(ordered_quantity=GroupBuy.ordered_quantity - qty)
            )
        session.execute(
            update(OrderLine)
            .where(OrderLine.order_id.in_(chunk))
            .values(status=LineStatus.CANCELLED)
        )
        session.execute(
            update(Order).where(Order.id.in_(chunk)).values(status=OrderStatus.CANCELLED)
        )
    session.execute(update(GroupBuy).where(GroupBuy.window_id == window.id).values(min_quantity=1))
    # Depots: the seeded one plus more around the city; vans spread over them.
    rng = random.Random(args.seed)
    first = session.scalar(select(Depot).where(Depot.city_id == summary.city_id))
    assert first is not None
    depots = [first]
    for k in range(1, args.depots):
        angle = 2 * 3.14159 * k / args.depots
        depots.append(
            Depot(
                city_id=summary.city_id,
                name=f"Depot {k + 1}",
                lat=31.23 + 0.6 * args.radius_km / 111 * math.sin(angle),
                lon=121.47 + 0.6 * args.radius_km / 95 * math.cos(angle),
            )
        )
    session.add_all(depots[1:])
    session.flush()
    for n in range(args.vans):
        session.add(
            Vehicle(
                city_id=summary.city_id,
                depot_id=depots[n % len(depots)].id,
                code=f"{spec.bank_code_prefix}-VAN-{n + 1:03d}",
                name=f"Van {n + 1}",
                ambient_volume_ml=2_000_000,
                ambient_weight_g=700_000,
                chilled_volume_ml=2_000_000,
                chilled_weight_g=700_000,
                frozen_volume_ml=800_000,
                frozen_weight_g=300_000,
                shift_start_local=clock_time(5, 0),
                shift_end_local=clock_time(14, 0),
                fixed_cost_minor=20_000 + rng.randint(0, 2000),
            )
        )
    session.flush()
    return window.id
