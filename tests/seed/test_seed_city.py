"""The city generator: deterministic from its seed, consistent with the domain rules."""

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import func, select

from app.catalog.models import Product
from app.cities.models import City
from app.groupbuys import pricing
from app.groupbuys.models import GroupBuy, PriceTier
from app.neighborhoods.models import Compartment, LockerBank, Neighborhood
from app.orders.models import Order, OrderLine
from app.payments.models import LedgerEntry
from app.residents import service as residents_service
from app.residents.models import Resident
from app.seed.city import CitySpec, build_city
from app.windows.models import DeliveryWindow

# 08:00 in Shanghai on 1 March 2027: that morning's 06:00 cut-off has passed.
NOW = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
SMALL = CitySpec(
    name="Testville",
    neighborhoods=3,
    residents=50,
    bank_code_prefix="TV",
    window_days=2,
    group_buys_per_window=5,
    order_share=0.5,
)


def _snapshot(db, city_id: int) -> dict:  # type: ignore[no-untyped-def]
    """What a build produced, without ids."""
    hoods = db.scalars(
        select(Neighborhood).where(Neighborhood.city_id == city_id).order_by(Neighborhood.id)
    )
    residents = db.execute(
        select(Resident.phone, Resident.name, Resident.language, Neighborhood.name)
        .join(Neighborhood)
        .where(Neighborhood.city_id == city_id)
        .order_by(Resident.id)
    ).all()
    products = db.execute(
        select(Product.sku, Product.price_minor)
        .where(Product.city_id == city_id)
        .order_by(Product.id)
    ).all()
    group_buys = db.execute(
        select(
            Neighborhood.name,
            Product.sku,
            GroupBuy.min_quantity,
            GroupBuy.stock_cap,
            GroupBuy.ordered_quantity,
        )
        .join(Neighborhood, Neighborhood.id == GroupBuy.neighborhood_id)
        .join(Product, Product.id == GroupBuy.product_id)
        .where(Neighborhood.city_id == city_id)
        .order_by(GroupBuy.id)
    ).all()
    return {
        "hoods": [(h.name, h.lat, h.lon) for h in hoods],
        "residents": [tuple(r) for r in residents],
        "products": [tuple(p) for p in products],
        "group_buys": [tuple(g) for g in group_buys],
    }


def test_same_seed_builds_the_same_city(db) -> None:  # type: ignore[no-untyped-def]
    builds = []
    for _ in range(2):
        savepoint = db.begin_nested()
        summary = build_city(db_session=db, spec=SMALL, seed=7, now=NOW)
        builds.append(
            (summary.counts(), summary.first_resident_phone, _snapshot(db, summary.city_id))
        )
        savepoint.rollback()
    assert builds[0] == builds[1]
    counts = builds[0][0]
    assert counts["neighborhoods"] == 3 and counts["residents"] == 50
    assert counts["windows"] == 3  # the first morning's cut-off had passed
    assert counts["group_buys"] == 3 * 3 * 5 and counts["price_tiers"] == 3 * counts["group_buys"]
    assert counts["orders"] > 0 and counts["order_lines"] >= counts["orders"]


def test_another_seed_builds_another_city(db) -> None:  # type: ignore[no-untyped-def]
    savepoint = db.begin_nested()
    first = build_city(db_session=db, spec=SMALL, seed=7, now=NOW)
    first_snapshot = _snapshot(db, first.city_id)
    savepoint.rollback()
    second = build_city(db_session=db, spec=SMALL, seed=8, now=NOW)
    assert second.first_resident_phone != first.first_resident_phone
    assert _snapshot(db, second.city_id)["hoods"] != first_snapshot["hoods"]


def test_the_built_city_keeps_the_domain_rules(db) -> None:  # type: ignore[no-untyped-def]
    summary = build_city(db_session=db, spec=SMALL, seed=3, now=NOW)
    city = db.get(City, summary.city_id)
    assert (city.timezone, city.currency) == ("Asia/Shanghai", "CNY")
    assert [(s.name, s.ready_by_local) for s in city.window_slots] == [
        ("morning", time(11)),
        ("evening", time(18)),
    ]
    assert len(city.depots) == 1

    hoods = db.scalars(select(Neighborhood).where(Neighborhood.city_id == city.id)).all()
    for hood in hoods:  # within ~15 km of the centre
        d_lat = (hood.lat - SMALL.centre_lat) * 111.32
        d_lon = (hood.lon - SMALL.centre_lon) * 111.32 * math.cos(math.radians(SMALL.centre_lat))
        assert math.hypot(d_lat, d_lon) <= SMALL.radius_km + 0.01
    banks = db.scalars(
        select(LockerBank)
        .where(LockerBank.neighborhood_id.in_([h.id for h in hoods]))
        .order_by(LockerBank.code)
    ).all()
    assert [b.code for b in banks] == ["TV-001", "TV-002", "TV-003"]
    zones = Counter(
        c.zone.value
        for c in db.scalars(select(Compartment).where(Compartment.bank_id == banks[0].id))
    )
    assert zones == {"ambient": 24, "chilled": 24, "frozen": 12}

    residents = db.scalars(
        select(Resident)
        .join(Neighborhood)
        .where(Neighborhood.city_id == city.id)
        .order_by(Resident.id)
    ).all()
    assert all(residents_service.normalize_phone(r.phone) == r.phone for r in residents)
    assert residents[0].phone == summary.first_resident_phone
    assert residents[0].language.value == "en" and residents[0].sms_consent

    classes = Counter(
        p.temperature_class.value
        for p in db.scalars(select(Product).where(Product.city_id == city.id))
    )
    assert classes == {"ambient": 30, "chilled": 32, "frozen": 18}

    windows = db.scalars(select(DeliveryWindow).where(DeliveryWindow.city_id == city.id)).all()
    assert all(w.cutoff_at > NOW for w in windows)

    group_buys = db.scalars(
        select(GroupBuy).join(Neighborhood).where(Neighborhood.city_id == city.id)
    ).all()
    lines_by_gb: dict[int, int] = defaultdict(int)
    for line in db.scalars(
        select(OrderLine).join(Order).where(Order.window_id.in_([w.id for w in windows]))
    ):
        lines_by_gb[line.group_buy_id] += line.quantity
    for gb in group_buys:
        pricing.validate_tiers(gb.tiers)
        assert gb.tiers[1].min_quantity == gb.min_quantity
        assert gb.ordered_quantity == lines_by_gb[gb.id]
        assert gb.stock_cap is None or gb.min_quantity <= gb.stock_cap
        assert gb.stock_cap is None or gb.ordered_quantity <= gb.stock_cap

    orders = db.scalars(select(Order).where(Order.window_id.in_([w.id for w in windows]))).all()
    charges = {e.order_id: e for e in db.scalars(select(LedgerEntry))}
    for order in orders:
        assert order.paid_minor == sum(li.quantity * li.paid_unit_price_minor for li in order.lines)
        hood_of_resident = db.get(Resident, order.resident_id).neighborhood_id
        assert order.neighborhood_id == hood_of_resident
        entry = charges[order.id]
        assert entry.idempotency_key == f"order:{order.id}:placed"
        assert entry.amount_minor == order.paid_minor
    assert db.scalar(select(func.count()).select_from(PriceTier)) >= 3 * len(group_buys)


def test_phones_never_clash_with_stored_residents(db) -> None:  # type: ignore[no-untyped-def]
    first = build_city(db_session=db, spec=SMALL, seed=11, now=NOW)
    other = CitySpec(name="Othertown", neighborhoods=2, residents=40, bank_code_prefix="OT")
    second = build_city(db_session=db, spec=other, seed=11, now=NOW)
    assert second.first_resident_phone != first.first_resident_phone
    phones = db.scalars(select(Resident.phone)).all()
    assert len(phones) == len(set(phones))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Moon/Base"}, "timezone"),
        ({"neighborhoods": 0}, "neighborhoods"),
        ({"bank_code_prefix": "a b"}, "bank_code_prefix"),
        ({"group_buys_per_window": 99}, "group_buys_per_window"),
        ({"order_share": 1.5}, "order_share"),
    ],
)
def test_nonsense_specs_are_refused(db, change, field) -> None:  # type: ignore[no-untyped-def]
    spec = CitySpec(**{**SMALL.__dict__, **change})
    with pytest.raises(ValueError, match=field):
        build_city(db_session=db, spec=spec, seed=1, now=NOW)


def test_an_existing_city_name_is_refused(db, make) -> None:  # type: ignore[no-untyped-def]
    make.city(name=SMALL.name)
    with pytest.raises(ValueError, match="exists"):
        build_city(db_session=db, spec=SMALL, seed=1, now=NOW)
