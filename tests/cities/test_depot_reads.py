"""The depots as other packages read them: plain values, one by id or many."""

from sqlalchemy.orm import Session

from app.cities import queries as city_queries
from tests.factories import Factory


def test_depot_places_by_id(db: Session, make: Factory) -> None:
    city = make.city()
    depot = make.depot(city, name="North", lat=31.3, lon=121.5)
    place = city_queries.DepotPlace(depot.id, city.id, "North", 31.3, 121.5)
    assert city_queries.depot_place(db, depot.id) == place
    assert city_queries.depot_place(db, 0) is None
    assert city_queries.depot_places(db, [depot.id, 0]) == {depot.id: place}
    assert city_queries.depot_places(db, []) == {}
