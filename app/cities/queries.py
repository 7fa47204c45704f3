"""Reads of the cities' tables for other packages: plain values, never the models."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cities.models import City


def city_timezone(db_session: Session, city_id: int) -> str | None:
    """The city's time zone name, or None when there is no such city."""
    return db_session.scalar(select(City.timezone).where(City.id == city_id))


@dataclass(frozen=True)
class CityLocale:
    """How a city tells time and money."""

    id: int
    timezone: str
    currency: str


def city_locales(db_session: Session, city_ids: Collection[int]) -> dict[int, CityLocale]:
    """The cities with these ids, by id."""
    if not city_ids:
        return {}
    rows = db_session.execute(
        select(City.id, City.timezone, City.currency).where(City.id.in_(set(city_ids)))
    )
    return {row[0]: CityLocale(*row) for row in rows}


def country_codes(db_session: Session) -> frozenset[str]:
    """The ISO country codes of the cities served, upper case."""
    served = db_session.scalars(select(City.country_code).distinct())
    return frozenset(code.upper() for code in served if code)
