"""Reads of the cities' tables for other packages: plain values, never the models."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import time

from sqlalchemy import ColumnElement, ScalarSelect, select
from sqlalchemy.orm import Session

from app.cities.models import City, Depot, WindowSlot


def city_timezones(db_session: Session, city_ids: Collection[int]) -> dict[int, str]:
    """Each city's time zone name, by city id."""
    if not city_ids:
        return {}
    rows = db_session.execute(select(City.id, City.timezone).where(City.id.in_(set(city_ids))))
    return {city_id: timezone for city_id, timezone in rows}


def city_currency_query(city_id: ColumnElement[int]) -> ScalarSelect[str]:
    """The currency code of the city `city_id` names, to read along with other tables."""
    return select(City.currency).where(City.id == city_id).scalar_subquery()


@dataclass(frozen=True)
class DailySlot:
    """One daily delivery window of a city's schedule, in local wall-clock time."""

    name: str
    ready_by_local: time
    cutoff_hours_before: int
    pickup_hours_after: int


def daily_slots(db_session: Session, city_id: int) -> list[DailySlot]:
    """The city's daily window slots, earliest ready-by first."""
    rows = db_session.execute(
        select(
            WindowSlot.name,
            WindowSlot.ready_by_local,
            WindowSlot.cutoff_hours_before,
            WindowSlot.pickup_hours_after,
        )
        .where(WindowSlot.city_id == city_id)
        .order_by(WindowSlot.ready_by_local, WindowSlot.id)
    )
    return [DailySlot(*row) for row in rows]


def city_timezone_query(city_id: ColumnElement[int]) -> ScalarSelect[str]:
    """The time zone name of the city `city_id` names, to read along with other tables."""
    return select(City.timezone).where(City.id == city_id).scalar_subquery()


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


@dataclass(frozen=True)
class DepotPlace:
    """A depot: its city, name and where it stands."""

    id: int
    city_id: int
    name: str
    lat: float
    lon: float


def depot_points(db_session: Session, city_id: int) -> list[DepotPlace]:
    """The city's depots with their position."""
    rows = db_session.execute(
        select(Depot.id, Depot.city_id, Depot.name, Depot.lat, Depot.lon).where(
            Depot.city_id == city_id
        )
    )
    return [DepotPlace(*row) for row in rows]


def _depot_place(depot: Depot) -> DepotPlace:
    return DepotPlace(depot.id, depot.city_id, depot.name, depot.lat, depot.lon)


def depot_place(db_session: Session, depot_id: int) -> DepotPlace | None:
    """The depot with this id, or None."""
    depot = db_session.get(Depot, depot_id)
    return _depot_place(depot) if depot is not None else None


def depot_places(db_session: Session, depot_ids: Collection[int]) -> dict[int, DepotPlace]:
    """The depots with these ids (those that exist), by id."""
    if not depot_ids:
        return {}
    found = db_session.scalars(select(Depot).where(Depot.id.in_(set(depot_ids))))
    return {depot.id: _depot_place(depot) for depot in found}
