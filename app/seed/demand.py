"""City builder steps for demand: group buys for every neighborhood x window x a sample of
products, with price tiers, and orders (lines and charges) so that group buys show progress.

Minimums scale with each neighborhood's expected demand, so some groups form and some fail."""

import math
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.groupbuys.models import GroupBuy, GroupBuyStatus, PriceTier
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus
from app.payments.models import EntryKind, LedgerEntry
from app.seed.rows import Steps, ignore_progress, insert, insert_then_ids, round10
from app.seed.spec import CitySpec, CitySummary


@dataclass
class GroupBuyPlan:
    row: dict[str, Any]
    tiers: list[tuple[int, int]]


@dataclass
class OrderPlan:
    resident_index: int
    window_id: int
    neighborhood_id: int
    created_at: datetime
    paid_minor: int = 0
    lines: list[tuple[int, int, int]] = field(default_factory=list)  # (plan index, qty, price)


def plan_group_buys_and_orders(
    *,
    rng: random.Random,
    spec: CitySpec,
    now: datetime,
    hood_ids: list[int],
    residents_by_hood: list[list[int]],
    product_rows: list[dict[str, Any]],
    product_ids: list[int],
    window_ids: list[int],
) -> tuple[list[GroupBuyPlan], list[OrderPlan]]:
    """Group buys for each window x neighborhood x sampled products, then orders into them.

    Minimums scale with the neighborhood's expected demand, so some groups form and some fail.
    """
    per_window = spec.group_buys_per_window
    plans: list[GroupBuyPlan] = []
    orders: list[OrderPlan] = []
    if per_window == 0:
        return plans, orders
    mean_lines, mean_quantity = 2.5, 5 / 3  # randint(1, 4); choice((1, 1, 1, 2, 2, 3))
    for window_id in window_ids:
        for hood_index, hood_id in enumerate(hood_ids):
            residents = residents_by_hood[hood_index]
            expected = len(residents) * spec.order_share * mean_lines * mean_quantity / per_window
            chosen = rng.sample(range(len(product_ids)), per_window)
            first = len(plans)
            for product_index in chosen:
                price = product_rows[product_index]["price_minor"]
                minimum = max(2, round(expected * rng.uniform(0.6, 1.5)))
                top = max(minimum + 1, math.ceil(minimum * 1.8))
                cap = None if rng.random() < 0.55 else rng.randint(minimum * 2, minimum * 4)
                second = min(round10(price * 0.9), price - 10)
                third = min(round10(price * 0.8), second - 10)
                plans.append(
                    GroupBuyPlan(
                        row={
                            "neighborhood_id": hood_id,
                            "window_id": window_id,
                            "product_id": product_ids[product_index],
                            "min_quantity": minimum,
                            "stock_cap": cap,
                            "ordered_quantity": 0,
                            "status": GroupBuyStatus.OPEN,
                            "share_token": secrets.token_hex(16),
                        },
                        tiers=[(1, price), (minimum, second), (top, third)],
                    )
                )
            choices = range(first, len(plans))
            for resident_index in residents:
                if rng.random() >= spec.order_share:
                    continue
                order = OrderPlan(
                    resident_index=resident_index,
                    window_id=window_id,
                    neighborhood_id=hood_id,
                    created_at=now - timedelta(minutes=rng.randint(3, 600)),
                )
                for plan_index in rng.sample(choices, min(rng.randint(1, 4), per_window)):
                    plan = plans[plan_index]
                    quantity = rng.choice((1, 1, 1, 2, 2, 3))
                    cap = plan.row["stock_cap"]
                    if cap is not None and plan.row["ordered_quantity"] + quantity > cap:
                        continue
                    plan.row["ordered_quantity"] += quantity
                    price = plan.tiers[0][1]
                    order.lines.append((plan_index, quantity, price))
                    order.paid_minor += quantity * price
                if order.lines:
                    orders.append(order)
    return plans, orders


def add_group_buys_and_orders(
    db_session: Session,
    steps: Steps,
    *,
    spec: CitySpec,
    summary: CitySummary,
    plans: list[GroupBuyPlan],
    orders: list[OrderPlan],
    window_ids: list[int],
    resident_ids: list[int],
) -> None:
    """Insert the planned group buys, tiers, orders, lines and charges; count them in `summary`."""
    with steps.step("Group buys and price tiers", len(plans)) as advance:
        gb_ids = insert_then_ids(
            db_session,
            GroupBuy,
            [p.row for p in plans],
            advance,
            keys=("neighborhood_id", "window_id", "product_id"),
            where=GroupBuy.window_id.in_(window_ids),
        )
        tier_rows = [
            {"group_buy_id": gb_id, "min_quantity": q, "unit_price_minor": price}
            for gb_id, plan in zip(gb_ids, plans, strict=True)
            for q, price in plan.tiers
        ]
        insert(db_session, PriceTier, tier_rows, ignore_progress)
        summary.group_buys, summary.price_tiers = len(gb_ids), len(tier_rows)

    with steps.step("Orders, lines and payments", len(orders)) as advance:
        order_rows = [
            {
                "resident_id": resident_ids[o.resident_index],
                "window_id": o.window_id,
                "neighborhood_id": o.neighborhood_id,
                "status": OrderStatus.PLACED,
                "currency": spec.currency,
                "paid_minor": o.paid_minor,
                "created_at": o.created_at,
                "updated_at": o.created_at,
            }
            for o in orders
        ]
        order_ids = insert_then_ids(
            db_session,
            Order,
            order_rows,
            advance,
            keys=("resident_id", "window_id"),  # one order per resident and window here
            where=Order.window_id.in_(window_ids),
        )
        line_rows = []
        ledger_rows = []
        for order_id, o, row in zip(order_ids, orders, order_rows, strict=True):
            for gb_index, quantity, price in o.lines:
                line_rows.append(
                    {
                        "order_id": order_id,
                        "group_buy_id": gb_ids[gb_index],
                        "product_id": plans[gb_index].row["product_id"],
                        "quantity": quantity,
                        "paid_unit_price_minor": price,
                        "status": LineStatus.PLACED,
                    }
                )
            key = f"order:{order_id}:placed"  # the key orders.service.place charges under
            ledger_rows.append(
                {
                    "idempotency_key": key,
                    "order_id": order_id,
                    "resident_id": row["resident_id"],
                    "kind": EntryKind.CHARGE,
                    "amount_minor": o.paid_minor,
                    "currency": spec.currency,
                    "provider": "internal",
                    "provider_reference": f"internal:{key}",
                    "reason": "order placed at entry prices",
                    "created_at": o.created_at,
                }
            )
        insert(db_session, OrderLine, line_rows, ignore_progress)
        insert(db_session, LedgerEntry, ledger_rows, ignore_progress)
        summary.orders, summary.order_lines = len(order_ids), len(line_rows)
