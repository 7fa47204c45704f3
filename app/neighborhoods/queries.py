"""Reads of the neighborhoods' tables for other packages: plain values and id subqueries,
never the models."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.neighborhoods.models import Compartment, LockerBank, Neighborhood


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


def neighborhood_names(db_session: Session, neighborhood_ids: Collection[int]) -> dict[int, str]:
    """The names of these neighborhoods (those that exist), by id."""
    if not neighborhood_ids:
        return {}
    rows = db_session.execute(
        select(Neighborhood.id, Neighborhood.name).where(Neighborhood.id.in_(neighborhood_ids))
    )
    return {neighborhood_id: name for neighborhood_id, name in rows}


def neighborhood_ids_in_city(city_id: int) -> Select[int]:
    """The ids of the city's neighborhoods, for use inside another query."""
    return select(Neighborhood.id).where(Neighborhood.city_id == city_id)


@dataclass(frozen=True)
class BankLabel:
    """A locker bank's id, code and name."""

    id: int
    code: str
    name: str


def bank_labels(db_session: Session, bank_ids: Collection[int]) -> dict[int, BankLabel]:
    """The code and name of these locker banks (those that exist), by id."""
    if not bank_ids:
        return {}
    rows = db_session.execute(
        select(LockerBank.id, LockerBank.code, LockerBank.name).where(LockerBank.id.in_(bank_ids))
    )
    return {bank_id: BankLabel(bank_id, code, name) for bank_id, code, name in rows}


@dataclass(frozen=True)
class CompartmentLabel:
    """A compartment's label, size and temperature zone (as string values)."""

    id: int
    label: str
    size: str
    zone: str


def compartment_labels(
    db_session: Session, compartment_ids: Collection[int]
) -> dict[int, CompartmentLabel]:
    """The label, size and zone of these compartments (those that exist), by id."""
    if not compartment_ids:
        return {}
    rows = db_session.execute(
        select(Compartment.id, Compartment.label, Compartment.size, Compartment.zone).where(
            Compartment.id.in_(compartment_ids)
        )
    )
    return {
        c_id: CompartmentLabel(c_id, label, str(size), str(zone))
        for c_id, label, size, zone in rows
    }
