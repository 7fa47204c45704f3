"""City builder steps for people and goods: residents (with unique phones) and products."""

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.core.enums import Language
from app.residents.models import Resident
from app.seed import data
from app.seed.places import city_neighborhood_ids
from app.seed.rows import Steps, insert_then_ids, round10
from app.seed.spec import A, C, CitySpec, F


def unused_phones(db_session: Session, rng: random.Random, count: int) -> list[str]:
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


def add_products(
    db_session: Session, steps: Steps, rng: random.Random, spec: CitySpec, city_id: int
) -> tuple[list[int], list[dict[str, Any]]]:
    """The catalogue's first `spec.products` items at slightly varied prices: ids and rows."""
    with steps.step("Products", spec.products) as advance:
        product_rows = []
        for i, item in enumerate(data.PRODUCTS[: spec.products]):
            prefix = {A: "AMB", C: "CHL", F: "FRZ"}[item.temperature_class]
            product_rows.append(
                {
                    "city_id": city_id,
                    "sku": f"{prefix}-{i + 1:03d}",
                    "name": item.name,
                    "name_zh": item.name_zh,
                    "unit": item.unit,
                    "price_minor": round10(item.price_minor * rng.uniform(0.92, 1.08)),
                    "temperature_class": item.temperature_class,
                    "packed_volume_ml": item.packed_volume_ml,
                    "weight_g": item.weight_g,
                    "max_minutes_out": item.max_minutes_out,
                    "active": True,
                }
            )
        product_ids = insert_then_ids(
            db_session,
            Product,
            product_rows,
            advance,
            keys=("sku",),
            where=Product.city_id == city_id,
        )
    return product_ids, product_rows


def add_residents(
    db_session: Session,
    steps: Steps,
    rng: random.Random,
    spec: CitySpec,
    *,
    city_id: int,
    hood_ids: list[int],
    now: datetime,
) -> tuple[list[int], list[int], list[str]]:
    """Residents spread unevenly over neighborhoods: (ids, home neighborhood index, phones).

    The first is the demo resident: reads English and receives SMS."""
    with steps.step("Residents", spec.residents) as advance:
        phones = unused_phones(db_session, rng, spec.residents)
        weights = [rng.uniform(0.5, 1.5) for _ in hood_ids]
        homes = rng.choices(range(len(hood_ids)), weights=weights, k=spec.residents)
        resident_rows = []
        for i, (phone, home) in enumerate(zip(phones, homes, strict=True)):
            surname, given = rng.choice(data.SURNAMES), rng.choice(data.GIVEN_NAMES)
            chinese = rng.random() < spec.zh_share
            consent = rng.random() < spec.consent_share
            if i == 0:
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
        resident_ids = insert_then_ids(
            db_session,
            Resident,
            resident_rows,
            advance,
            keys=("phone",),
            where=Resident.neighborhood_id.in_(city_neighborhood_ids(city_id)),
        )
    return resident_ids, homes, phones
