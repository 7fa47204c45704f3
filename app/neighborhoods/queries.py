"""Reads of neighborhoods, locker banks and compartments for other packages: plain values and
id subqueries, never the models."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.neighborhoods.models import Compartment, LockerBank, Neighborhood


def neighborhood_ids_in_city(city_id: int) -> Select[int]:
    """The ids of the city's neighborhoods, as a subquery."""
    return select(Neighborhood.id).where(Neighborhood.city_id == city_id)


def neighborhood_cities(db_session: Session, neighborhood_ids: Collection[int]) -> dict[int, int]:
    """Each neighborhood's city id, by neighborhood id."""
    if not neighborhood_ids:
        return {}
    rows = db_session.execute(
        select(Neighborhood.id, Neighborhood.city_id).where(
            Neighborhood.id.in_(set(neighborhood_ids))
        )
    )
    return {hood_id: city_id for hood_id, city_id in rows}


@dataclass(frozen=True)
class BankAddress:
    """A locker bank as a resident is told where to go."""

    id: int
    name: str
    address: str


def bank_addresses(db_session: Session, bank_ids: Collection[int]) -> dict[int, BankAddress]:
    """The banks with these ids, by id."""
    if not bank_ids:
        return {}
    rows = db_session.execute(
        select(LockerBank.id, LockerBank.name, LockerBank.address).where(
            LockerBank.id.in_(set(bank_ids))
        )
    )
    return {row[0]: BankAddress(*row) for row in rows}


def compartment_labels(db_session: Session, compartment_ids: Collection[int]) -> dict[int, str]:
    """Each compartment's label, by id."""
    if not compartment_ids:
        return {}
    rows = db_session.execute(
        select(Compartment.id, Compartment.label).where(Compartment.id.in_(set(compartment_ids)))
    )
    return {compartment_id: label for compartment_id, label in rows}
