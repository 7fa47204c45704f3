"""Reads of the neighborhoods' tables for other packages: plain values and id subqueries,
never the models."""

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.neighborhoods.models import Neighborhood


def neighborhood_ids_in_city(city_id: int) -> Select[int]:
    """The ids of the city's neighborhoods, as a subquery."""
    return select(Neighborhood.id).where(Neighborhood.city_id == city_id)


@dataclass(frozen=True)
class NeighborhoodStanding:
    """A neighborhood's city and whether it is served."""

    id: int
    city_id: int
    active: bool


def neighborhood_standing_query(neighborhood_id: int) -> Select[int, int, bool]:
    """The neighborhood's id, city_id and active flag, to read along with other tables."""
    return select(Neighborhood.id, Neighborhood.city_id, Neighborhood.active).where(
        Neighborhood.id == neighborhood_id
    )


def neighborhood_standing(db_session: Session, neighborhood_id: int) -> NeighborhoodStanding | None:
    """The neighborhood's city and active flag, or None when there is no such neighborhood."""
    row = db_session.execute(neighborhood_standing_query(neighborhood_id)).one_or_none()
    return None if row is None else NeighborhoodStanding(*row)


def neighborhood_place_query(neighborhood_id: int) -> Select[int, str, int]:
    """The neighborhood's id, name and city_id, to read along with other tables."""
    return select(Neighborhood.id, Neighborhood.name, Neighborhood.city_id).where(
        Neighborhood.id == neighborhood_id
    )
