"""Build a believable city from a seed, fast: the demo city and the full-size benchmark city.

Plain functions so that benchmarks can call them: `build_city(db_session=..., spec=..., seed=...)`
adds a city with its depot and schedule, neighborhoods with a locker bank each (compartments in
three zones and sizes), residents, products, today's and the next days' windows, group buys for
every neighborhood x window x a sample of products, and orders so that group buys show progress.
Rows go in with bulk inserts in batches; nothing is committed here (the caller commits).

Everything drawn at random comes from `random.Random(seed)` in a fixed order, so the same seed,
spec and `now` build the same city (ids aside) on SQLite and PostgreSQL. Share tokens are the
exception: they are capabilities, so they come from `secrets`.
"""

import math
import random
import re
import secrets
import time as clock
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.progress import Progress
from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.cities.models import City, Depot, WindowSlot
from app.core.db import utcnow
from app.core.enums import CompartmentSize, Language, TemperatureClass
from app.groupbuys.models import GroupBuy, GroupBuyStatus, PriceTier
from app.neighborhoods import service as neighborhood_service
from app.neighborhoods.models import Compartment, CompartmentStatus, LockerBank, Neighborhood
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus
from app.payments.models import EntryKind, LedgerEntry
from app.residents.models import Resident
from app.seed import bulk, data
from app.windows import schedule
from app.windows import service as window_service

KM_PER_DEGREE = 111.32
S, M, L = CompartmentSize.S, CompartmentSize.M, CompartmentSize.L
A, C, F = TemperatureClass.AMBIENT, TemperatureClass.CHILLED, TemperatureClass.FROZEN

# 24 ambient, 24 chilled and 12 frozen compartments per bank, small to large.
DEFAULT_LAYOUT: tuple[tuple[TemperatureClass, CompartmentSize, int], ...] = (
    (A, S, 8), (A, M, 10), (A, L, 6),
    (C, S, 8), (C, M, 10), (C, L, 6),
    (F, S, 4), (F, M, 5), (F, L, 3),
)  # fmt: skip


@dataclass(frozen=True)
class SlotSpec:
    """A daily window of the city's schedule."""

    name: str
    ready_by_local: time
    cutoff_hours_before: int
    pickup_hours_after: int


# Ready by 11:00 (orders close 06:00) and by 18:00 (orders close 13:00), local time.
DEFAULT_SLOTS = (SlotSpec("morning", time(11), 5, 12), SlotSpec("evening", time(18), 5, 16))


@dataclass(frozen=True)
class CitySpec:
    """What to build. The defaults are the demo city; the benchmark city scales them up."""

    name: str = "Shanghai"
    neighborhoods: int = 60
    residents: int = 2_000
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    country_code: str = "CN"
    centre_lat: float = 31.23
    centre_lon: float = 121.47
    radius_km: float = 15.0
    bank_code_prefix: str = "SH"
    products: int = len(data.PRODUCTS)
    window_days: int = 3
    group_buys_per_window: int = 20
    order_share: float = 0.35
    zh_share: float = 0.6
    consent_share: float = 0.92
    compartment_layout: tuple[tuple[TemperatureClass, CompartmentSize, int], ...] = DEFAULT_LAYOUT
    slots: tuple[SlotSpec, ...] = DEFAULT_SLOTS

    def validate(self) -> None:
        """Raise ValueError naming the first field that makes no sense."""
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"timezone: unknown IANA zone {self.timezone!r}") from exc
        checks = [
            (bool(self.name.strip()) and len(self.name) <= 120, "name: 1-120 characters"),
            (self.neighborhoods >= 1, "neighborhoods: at least 1"),
            (self.residents >= 1, "residents: at least 1"),
            (1 <= self.products <= len(data.PRODUCTS), f"products: 1-{len(data.PRODUCTS)}"),
            (
                0 <= self.group_buys_per_window <= self.products,
                "group_buys_per_window: between 0 and products",
            ),
            (self.window_days >= 1, "window_days: at least 1"),
            (0 <= self.order_share <= 1, "order_share: between 0 and 1"),
            (self.radius_km > 0, "radius_km: positive"),
            (
                bool(re.fullmatch(r"[A-Z0-9]{1,10}", self.bank_code_prefix)),
                "bank_code_prefix: 1-10 upper-case letters or digits",
            ),
            (bool(re.fullmatch(r"[A-Z]{3}", self.currency)), "currency: ISO 4217 code"),
            (bool(self.slots), "slots: at least one"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass
class CitySummary:
    """What was built, how much of it, and how long each step took (seconds)."""

    city_id: int
    name: str
    timezone: str
    neighborhoods: int = 0
    locker_banks: int = 0
    compartments: int = 0
    residents: int = 0
    products: int = 0
    windows: int = 0
    group_buys: int = 0
    price_tiers: int = 0
    orders: int = 0
    order_lines: int = 0
    first_resident_phone: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Total time of all steps."""
        return sum(self.timings.values())

    def counts(self) -> dict[str, int]:
        """The row counts by kind, for printing and comparing."""
        return {
            "neighborhoods": self.neighborhoods,
            "locker_banks": self.locker_banks,
            "compartments": self.compartments,
            "residents": self.residents,
            "products": self.products,
            "windows": self.windows,
            "group_buys": self.group_buys,
            "price_tiers": self.price_tiers,
            "orders": self.orders,
            "order_lines": self.order_lines,
        }


class _Steps:
    """Times each step and drives one progress bar per step (if a Progress is given)."""

    def __init__(self, progress: Progress | None, timings: dict[str, float]) -> None:
        self.progress = progress
        self.timings = timings

    @contextmanager
    def step(self, name: str, total: int) -> Iterator[Callable[[int], None]]:
        task = self.progress.add_task(name, total=max(total, 1)) if self.progress else None

        def advance(n: int) -> None:
            if self.progress is not None and task is not None:
                self.progress.advance(task, n)

        started = clock.perf_counter()
        yield advance
        self.timings[name] = clock.perf_counter() - started
        if self.progress is not None and task is not None:
            self.progress.update(task, completed=max(total, 1))


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _insert(
    db_session: Session, model: Any, rows: Sequence[dict[str, Any]], advance: Callable[[int], None]
) -> None:
    """Bulk insert (COPY on PostgreSQL), advancing the progress bar per batch."""
    bulk.insert_rows(db_session, _table(model), rows, advance)


def _insert_then_ids(
    db_session: Session,
    model: Any,
    rows: Sequence[dict[str, Any]],
    advance: Callable[[int], None],
    *,
    keys: tuple[str, ...],
    where: ColumnElement[bool],
) -> list[int]:
    """Bulk insert, then the new ids in the order of `rows`, found by their unique `keys`.

    (RETURNING in parameter order would make SQLite insert row by row: ten times slower.)"""
    _insert(db_session, model, rows, advance)
    table = _table(model)
    found = db_session.execute(select(table.c.id, *(table.c[k] for k in keys)).where(where))
    ids = {tuple(row[1:]): row[0] for row in found}
    return [ids[tuple(row[k] for k in keys)] for row in rows]


def _round10(amount: float) -> int:
    return max(10, int(round(amount / 10.0)) * 10)


def _point(rng: random.Random, lat: float, lon: float, radius_km: float) -> tuple[float, float]:
    """A point uniformly spread over a disc of `radius_km` around (lat, lon)."""
    r = radius_km * math.sqrt(rng.random())
    theta = rng.random() * 2 * math.pi
    d_lat = (r * math.cos(theta)) / KM_PER_DEGREE
    d_lon = (r * math.sin(theta)) / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    return round(lat + d_lat, 6), round(lon + d_lon, 6)


def neighborhood_names(rng: random.Random, count: int) -> list[str]:
    """`count` distinct estate names like "Gubei Garden" (then "... Phase 2" when short)."""
    names = [f"{area} {estate}" for area in data.AREAS for estate in data.ESTATES]
    rng.shuffle(names)
    result = names[:count]
    phase = 2
    while len(result) < count:
        result.extend(f"{n} Phase {phase}" for n in names[: count - len(result)])
        phase += 1
    return result


def _phones(db_session: Session, rng: random.Random, count: int) -> list[str]:
    """`count` distinct Chinese mobile numbers in E.164 that no stored resident has.

    The stored phones are read once (a few MB even for several full-size cities)."""
    taken = set(db_session.scalars(select(Resident.phone)))
    phones: list[str] = []
    while len(phones) < count:
        phone = f"+86{rng.choice(data.MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        if phone not in taken:
            taken.add(phone)
            phones.append(phone)
    return phones


@dataclass
class _GroupBuyPlan:
    row: dict[str, Any]
    tiers: list[tuple[int, int]]


def build_city(
    *,
    db_session: Session,
    spec: CitySpec,
    seed: int,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> CitySummary:
    """Build the city `spec` describes from `seed` (see the module docstring); no commit."""
    spec.validate()
    if db_session.scalar(select(City.id).where(City.name == spec.name)) is not None:
        raise ValueError(f"name: a city named {spec.name!r} exists")
    now = now or utcnow()
    rng = random.Random(seed)
    timings: dict[str, float] = {}
    steps = _Steps(progress, timings)

    with steps.step("City, depot and schedule", 1) as advance:
        city = City(
            name=spec.name,
            timezone=spec.timezone,
            currency=spec.currency,
            country_code=spec.country_code,
        )
        db_session.add(city)
        db_session.flush()
        depot_lat, depot_lon = _point(rng, spec.centre_lat, spec.centre_lon, spec.radius_km * 0.8)
        db_session.add(
            Depot(
                city_id=city.id,
                name=f"{spec.name} Central Cold Store",
                address=f"{rng.randint(1, 999)} {rng.choice(data.STREETS)}",
                lat=depot_lat,
                lon=depot_lon,
            )
        )
        db_session.add_all(
            WindowSlot(
                city_id=city.id,
                name=slot.name,
                ready_by_local=slot.ready_by_local,
                cutoff_hours_before=slot.cutoff_hours_before,
                pickup_hours_after=slot.pickup_hours_after,
            )
            for slot in spec.slots
        )
        db_session.flush()
        advance(1)
    summary = CitySummary(city_id=city.id, name=city.name, timezone=city.timezone, timings=timings)

    with steps.step("Neighborhoods", spec.neighborhoods) as advance:
        names = neighborhood_names(rng, spec.neighborhoods)
        hood_rows: list[dict[str, Any]] = []
        for name in names:
            lat, lon = _point(rng, spec.centre_lat, spec.centre_lon, spec.radius_km)
            address = f"{rng.randint(1, 1999)} {rng.choice(data.STREETS)}"
            hood_rows.append(
                {
                    "city_id": city.id,
                    "name": name,
                    "address": address,
                    "lat": lat,
                    "lon": lon,
                    "active": True,
                }
            )
        hood_ids = _insert_then_ids(
            db_session,
            Neighborhood,
            hood_rows,
            advance,
            keys=("name",),
            where=Neighborhood.city_id == city.id,
        )
        in_city = Neighborhood.city_id == city.id
        city_hoods = select(Neighborhood.id).where(in_city).scalar_subquery()
        summary.neighborhoods = len(hood_ids)

    per_bank = sum(count for _, _, count in spec.compartment_layout)
    with steps.step("Locker banks and compartments", spec.neighborhoods * per_bank) as advance:
        width = max(3, len(str(spec.neighborhoods)))
        bank_rows = []
        for i, (hood_id, hood) in enumerate(zip(hood_ids, hood_rows, strict=True)):
            bank_rows.append(
                {
                    "neighborhood_id": hood_id,
                    "code": f"{spec.bank_code_prefix}-{i + 1:0{width}d}",
                    "name": f"{hood['name']} lockers",
                    "address": hood["address"],
                    "lat": round(hood["lat"] + rng.uniform(-0.0008, 0.0008), 6),
                    "lon": round(hood["lon"] + rng.uniform(-0.0008, 0.0008), 6),
                }
            )
        bank_ids = _insert_then_ids(
            db_session,
            LockerBank,
            bank_rows,
            lambda n: None,
            keys=("code",),
            where=LockerBank.neighborhood_id.in_(city_hoods),
        )
        compartment_rows = []
        for bank_id in bank_ids:
            numbers: dict[TemperatureClass, int] = {}
            for zone, size, count in spec.compartment_layout:
                volume = neighborhood_service.DEFAULT_INNER_VOLUME_ML[size]
                for _ in range(count):
                    numbers[zone] = numbers.get(zone, 0) + 1
                    compartment_rows.append(
                        {
                            "bank_id": bank_id,
                            "label": neighborhood_service.compartment_label(zone, numbers[zone]),
                            "size": size,
                            "zone": zone,
                            "inner_volume_ml": volume,
                            "status": CompartmentStatus.FREE,
                        }
                    )
        _insert(db_session, Compartment, compartment_rows, advance)
        summary.locker_banks = len(bank_ids)
        summary.compartments = len(compartment_rows)

    with steps.step("Products", spec.products) as advance:
        product_rows = []
        for i, item in enumerate(data.PRODUCTS[: spec.products]):
            prefix = {A: "AMB", C: "CHL", F: "FRZ"}[item.temperature_class]
            product_rows.append(
                {
                    "city_id": city.id,
                    "sku": f"{prefix}-{i + 1:03d}",
                    "name": item.name,
                    "name_zh": item.name_zh,
                    "unit": item.unit,
                    "price_minor": _round10(item.price_minor * rng.uniform(0.92, 1.08)),
                    "temperature_class": item.temperature_class,
                    "packed_volume_ml": item.packed_volume_ml,
                    "weight_g": item.weight_g,
                    "max_minutes_out": item.max_minutes_out,
                    "active": True,
                }
            )
        product_ids = _insert_then_ids(
            db_session,
            Product,
            product_rows,
            advance,
            keys=("sku",),
            where=Product.city_id == city.id,
        )
        summary.products = len(product_ids)

    with steps.step("Residents", spec.residents) as advance:
        phones = _phones(db_session, rng, spec.residents)
        weights = [rng.uniform(0.5, 1.5) for _ in hood_ids]
        homes = rng.choices(range(len(hood_ids)), weights=weights, k=spec.residents)
        resident_rows = []
        for i, (phone, home) in enumerate(zip(phones, homes, strict=True)):
            surname, given = rng.choice(data.SURNAMES), rng.choice(data.GIVEN_NAMES)
            chinese = rng.random() < spec.zh_share
            consent = rng.random() < spec.consent_share
            if i == 0:  # the demo resident: reads English, receives SMS
                chinese, consent = False, True
            resident_rows.append(
                {
                    "neighborhood_id": hood_ids[home],
                    "phone": phone,
                    "name": f"{surname[1]}{given[1]}" if chinese else f"{given[0]} {surname[0]}",
                    "language": Language.ZH if chinese else Language.EN,
                    "sms_consent": consent,
                    "created_at": now - timedelta(days=rng.randint(1, 400)),
                }
            )
        resident_ids = _insert_then_ids(
            db_session,
            Resident,
            resident_rows,
            advance,
            keys=("phone",),
            where=Resident.neighborhood_id.in_(city_hoods),
        )
        summary.residents = len(resident_ids)
        summary.first_resident_phone = phones[0]

    with steps.step("Delivery windows", len(spec.slots) * spec.window_days) as advance:
        today = schedule.local_today(ZoneInfo(spec.timezone), now)
        windows = window_service.generate(
            db_session=db_session, city_id=city.id, start=today, days=spec.window_days, now=now
        )
        advance(len(windows))
        summary.windows = len(windows)

    residents_by_hood: list[list[int]] = [[] for _ in hood_ids]
    for index, home in enumerate(homes):
        residents_by_hood[home].append(index)
    plans, orders = _plan_group_buys_and_orders(
        rng=rng,
        spec=spec,
        now=now,
        hood_ids=hood_ids,
        residents_by_hood=residents_by_hood,
        product_rows=product_rows,
        product_ids=product_ids,
        window_ids=[w.id for w in windows],
    )

    with steps.step("Group buys and price tiers", len(plans)) as advance:
        window_ids = [w.id for w in windows]
        gb_ids = _insert_then_ids(
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
        _insert(db_session, PriceTier, tier_rows, lambda n: None)
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
        order_ids = _insert_then_ids(
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
        _insert(db_session, OrderLine, line_rows, lambda n: None)
        _insert(db_session, LedgerEntry, ledger_rows, lambda n: None)
        summary.orders, summary.order_lines = len(order_ids), len(line_rows)
    db_session.flush()
    return summary


@dataclass
class _OrderPlan:
    resident_index: int
    window_id: int
    neighborhood_id: int
    created_at: datetime
    paid_minor: int = 0
    lines: list[tuple[int, int, int]] = field(default_factory=list)  # (plan index, qty, price)


def _plan_group_buys_and_orders(
    *,
    rng: random.Random,
    spec: CitySpec,
    now: datetime,
    hood_ids: list[int],
    residents_by_hood: list[list[int]],
    product_rows: list[dict[str, Any]],
    product_ids: list[int],
    window_ids: list[int],
) -> tuple[list[_GroupBuyPlan], list[_OrderPlan]]:
    """Group buys for each window x neighborhood x sampled products, then orders into them.

    Minimums scale with the neighborhood's expected demand, so some groups form and some fail.
    """
    per_window = spec.group_buys_per_window
    plans: list[_GroupBuyPlan] = []
    orders: list[_OrderPlan] = []
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
                second = min(_round10(price * 0.9), price - 10)
                third = min(_round10(price * 0.8), second - 10)
                plans.append(
                    _GroupBuyPlan(
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
                order = _OrderPlan(
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
