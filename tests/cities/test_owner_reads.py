"""The cities' reads the routes map uses: a city's depots with their position."""

from sqlalchemy.orm import Session

from app.cities.queries import DepotPlace, depot_points
from tests.factories import Factory


def test_a_citys_depots_read_as_points(db: Session, make: Factory) -> None:
    city, other = make.city(), make.city()
    depot = make.depot(city, lat=31.2, lon=121.5)
    make.depot(other)
    assert depot_points(db, city.id) == [DepotPlace(depot.id, city.id, depot.name, 31.2, 121.5)]
