"""Build a believable city from a seed, fast: the demo city and the full-size benchmark city.

Plain functions so that benchmarks can call them: `build_city(db_session=..., spec=..., seed=...)`
adds a city with its depots and schedule, neighborhoods with a locker bank each (compartments in
three zones and sizes), residents, products, today's and the next days' windows, group buys for
every neighborhood x window x a sample of products, orders so that group buys show progress,
and a fleet of refrigerated vans with their drivers sized for that demand. Each step lives in
its own module (places, people, demand, fleet). Rows go in with bulk inserts in batches;
nothing is committed here (the caller commits).

Everything drawn at random comes from `random.Random(seed)` in a fixed order (the fleet from
its own generator of the same seed, drawn last), so the same seed, spec and `now` build the
same city (ids aside) on SQLite and PostgreSQL. Share tokens are the exception: they are
capabilities, so they come from `secrets`.

The seed sits above every package (as `app.main` does): it writes logistics' vans too.
"""

import random
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cities.models import City, Depot
from app.core.db import utcnow
from app.seed.demand import add_group_buys_and_orders, plan_group_buys_and_orders
from app.seed.fleet import add_fleet, busiest_window_load
from app.seed.people import add_products, add_residents
from app.seed.places import add_city, add_lockers, add_neighborhoods, neighborhood_names
from app.seed.rows import Steps
from app.seed.spec import DEFAULT_LAYOUT, DEFAULT_SLOTS, CitySpec, CitySummary, SlotSpec
from app.windows import schedule
from app.windows import service as window_service

__all__ = [
    "DEFAULT_LAYOUT",
    "DEFAULT_SLOTS",
    "CitySpec",
    "CitySummary",
    "SlotSpec",
    "build_city",
    "neighborhood_names",
]


def add_windows(
    db_session: Session, steps: Steps, spec: CitySpec, *, city_id: int, now: datetime
) -> list[int]:
    """The city's delivery windows from today (in its zone) for `spec.window_days` days."""
    with steps.step("Delivery windows", len(spec.slots) * spec.window_days) as advance:
        today = schedule.local_today(ZoneInfo(spec.timezone), now)
        windows = window_service.generate(
            db_session=db_session, city_id=city_id, start=today, days=spec.window_days, now=now
        )
        advance(len(windows))
    return [w.id for w in windows]


def residents_by_hood(homes: list[int], neighborhoods: int) -> list[list[int]]:
    """Resident indexes per neighborhood index, from each resident's home neighborhood."""
    by_hood: list[list[int]] = [[] for _ in range(neighborhoods)]
    for index, home in enumerate(homes):
        by_hood[home].append(index)
    return by_hood


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
    steps = Steps(progress, timings)

    city = add_city(db_session, steps, rng, spec)
    summary = CitySummary(city_id=city.id, name=city.name, timezone=city.timezone, timings=timings)
    hood_ids, hood_rows = add_neighborhoods(db_session, steps, rng, spec, city.id)
    summary.neighborhoods = len(hood_ids)
    summary.locker_banks, summary.compartments = add_lockers(
        db_session, steps, rng, spec, city_id=city.id, hood_ids=hood_ids, hood_rows=hood_rows
    )
    product_ids, product_rows = add_products(db_session, steps, rng, spec, city.id)
    summary.products = len(product_ids)
    resident_ids, homes, phones = add_residents(
        db_session, steps, rng, spec, city_id=city.id, hood_ids=hood_ids, now=now
    )
    summary.residents = len(resident_ids)
    summary.first_resident_phone = phones[0]

    window_ids = add_windows(db_session, steps, spec, city_id=city.id, now=now)
    summary.windows = len(window_ids)
    plans, orders = plan_group_buys_and_orders(
        rng=rng,
        spec=spec,
        now=now,
        hood_ids=hood_ids,
        residents_by_hood=residents_by_hood(homes, len(hood_ids)),
        product_rows=product_rows,
        product_ids=product_ids,
        window_ids=window_ids,
    )
    add_group_buys_and_orders(
        db_session,
        steps,
        spec=spec,
        summary=summary,
        plans=plans,
        orders=orders,
        window_ids=window_ids,
        resident_ids=resident_ids,
    )

    central = db_session.scalars(select(Depot).where(Depot.city_id == city.id)).one()
    summary.depots, summary.driver_usernames = add_fleet(
        db_session,
        steps,
        random.Random(f"{seed}:fleet"),
        spec,
        city_id=city.id,
        central_depot=central,
        load=busiest_window_load(plans, orders, product_ids, product_rows),
    )
    summary.vans = summary.drivers = len(summary.driver_usernames)
    db_session.flush()
    return summary
