"""Reads of cities for other packages: plain values, never the rows."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cities.models import City


@dataclass(frozen=True)
class CityLocale:
    """How a city shows times and money."""

    timezone: str
    currency: str


def city_locales(*, db_session: Session, city_ids: Collection[int]) -> dict[int, CityLocale]:
    """{city id: its time zone and currency} for the cities that exist among `city_ids`."""
    if not city_ids:
        return {}
    rows = db_session.execute(
        select(City.id, City.timezone, City.currency).where(City.id.in_(list(city_ids)))
    )
    return {city_id: CityLocale(timezone, currency) for city_id, timezone, currency in rows}
