"""Who does what on the played day: drawn once from the seed, before the clock starts."""

import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.neighborhoods.models import Neighborhood
from app.residents.models import Resident
from app.windows.models import DeliveryWindow
from simulation.residents import Intent, Person

CANCEL_SHARE = 0.05
SHARE_SHARE = 0.10
EXTEND_SHARE = 0.06
NEVER_SHARE = 0.06


def draw_intents(
    *,
    db_session: Session,
    city_id: int,
    windows: list[DeliveryWindow],
    orders: int,
    start: datetime,
    rng: random.Random,
    spare_phone: str | None = None,
) -> list[Intent]:
    """`orders` residents' plans for the day, spread over its windows by their ordering time."""
    people = [
        Person(rid, phone, hood)
        for rid, phone, hood in db_session.execute(
            select(Resident.id, Resident.phone, Resident.neighborhood_id)
            .join(Neighborhood, Neighborhood.id == Resident.neighborhood_id)
            .where(Neighborhood.city_id == city_id)
            .order_by(Resident.id)
        )
        if phone != spare_phone  # the demo resident is the newcomer's to play
    ]
    spans = [
        (w, start + timedelta(minutes=5), w.cutoff_at - timedelta(minutes=15)) for w in windows
    ]
    spans = [(w, a, b) for w, a, b in spans if b > a]
    weights = [(b - a).total_seconds() for _, a, b in spans]
    intents: list[Intent] = []
    taken: set[tuple[int, int]] = set()
    while len(intents) < orders and len(taken) < len(people) * len(spans):
        window, begin, end = rng.choices(spans, weights=weights)[0]
        person = rng.choice(people)
        if (person.resident_id, window.id) in taken:
            continue
        taken.add((person.resident_id, window.id))
        order_at = begin + (end - begin) * rng.random()
        collect_after = _collect_after(rng)
        cancel = None
        if rng.random() < CANCEL_SHARE:
            cancel = timedelta(minutes=rng.uniform(5, 60))
        intents.append(
            Intent(
                person=person,
                window_id=window.id,
                order_at=order_at.replace(second=0, microsecond=0),
                cancel_after=cancel,
                shares=rng.random() < SHARE_SHARE,
                collect_after=collect_after,
                extends=collect_after is not None and rng.random() < EXTEND_SHARE,
            )
        )
    return intents


def collectors_of_placed_orders(
    *,
    db_session: Session,
    windows: list[DeliveryWindow],
    start: datetime,
    rng: random.Random,
    spare_phone: str | None = None,
) -> list[Intent]:
    """The residents behind orders placed before the day began (the demo city's own): they
    order nothing more, but collect (or extend, or never come) like everyone else."""
    from app.orders.models import Order

    rows = db_session.execute(
        select(Order.id, Order.window_id, Resident.id, Resident.phone, Resident.neighborhood_id)
        .join(Resident, Resident.id == Order.resident_id)
        .where(Order.window_id.in_([w.id for w in windows]))
        .order_by(Order.id)
    ).all()
    intents = []
    for order_id, window_id, rid, phone, hood in rows:
        if phone == spare_phone:
            continue
        collect_after = _collect_after(rng)
        intents.append(
            Intent(
                person=Person(rid, phone, hood),
                window_id=window_id,
                order_at=start,
                cancel_after=None,
                shares=False,
                collect_after=collect_after,
                extends=collect_after is not None and rng.random() < EXTEND_SHARE,
                order_id=order_id,
            )
        )
    return intents


def _collect_after(rng: random.Random) -> timedelta | None:
    """How long after the pickup SMS the resident comes (None: never)."""
    if rng.random() < NEVER_SHARE:
        return None
    return timedelta(minutes=rng.lognormvariate(4.2, 0.8))
