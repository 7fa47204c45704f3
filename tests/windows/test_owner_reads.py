"""The windows' reads the operators' pages use: a day's windows and the next, by cut-off or
ready time, and a window's city inside another query."""

from datetime import date, timedelta

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.windows import queries as window_queries
from tests.factories import Factory


def test_a_days_windows_and_the_next_by_cutoff(db: Session, make: Factory) -> None:
    city = make.city()
    day = date(2031, 3, 1)
    evening = make.window(city, cutoff_in=timedelta(hours=8), local_date=day, slot_name="evening")
    morning = make.window(city, cutoff_in=timedelta(hours=2), local_date=day)
    later = make.window(city, cutoff_in=timedelta(days=3), local_date=day + timedelta(days=2))
    following = make.window(city, cutoff_in=timedelta(days=1), local_date=day + timedelta(days=1))
    assert window_queries.window_ids_of_day_and_next(db, city.id, day) == [
        morning.id,
        evening.id,
        following.id,
    ]
    by_cutoff = window_queries.windows_by_cutoff(db, [later.id, evening.id, morning.id])
    assert [w.id for w in by_cutoff] == [morning.id, evening.id, later.id]
    now = utcnow()
    ready = window_queries.windows_ready_between(db, city.id, now, now + timedelta(days=2))
    assert [w.id for w in ready] == [morning.id, evening.id, following.id]
    city_of = db.scalar(select(window_queries.window_city_query(literal(later.id))))
    assert city_of == city.id
