"""The windows' id subqueries other packages filter by."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.windows import queries as window_queries
from tests.factories import Factory


def test_windows_of_a_city_and_past_their_pickup_deadline(db: Session, make: Factory) -> None:
    city = make.city()
    past = make.window(city, cutoff_in=timedelta(hours=-40))
    ahead = make.window(city)
    elsewhere = make.window(make.city(), cutoff_in=timedelta(hours=-40))
    assert set(db.scalars(window_queries.window_ids_of_city(city.id))) == {past.id, ahead.id}
    done = set(db.scalars(window_queries.window_ids_past_pickup_deadline(utcnow())))
    assert past.id in done and elsewhere.id in done and ahead.id not in done
