"""Reads of the neighborhoods' tables for other packages: plain values and id subqueries,
never the models."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnExpressionArgument, ScalarSelect, Select, Subquery, select
from sqlalchemy.orm import Session

from app.neighborhoods.compartment_queries import (
    CompartmentLabel as CompartmentLabel,
)
from app.neighborhoods.compartment_queries import (
    CompartmentView as CompartmentView,
)
from app.neighborhoods.compartment_queries import (
    compartment as compartment,
)
from app.neighborhoods.compartment_queries import (
    compartment_by_label as compartment_by_label,
)
from app.neighborhoods.compartment_queries import (
    compartment_counts_by_bank_zone_status as compartment_counts_by_bank_zone_status,
)
from app.neighborhoods.compartment_queries import (
    compartment_ids_in_bank_zone as compartment_ids_in_bank_zone,
)
from app.neighborhoods.compartment_queries import (
    compartment_label_query as compartment_label_query,
)
from app.neighborhoods.compartment_queries import (
    compartment_labels as compartment_labels,
)
from app.neighborhoods.compartment_queries import (
    compartment_labels_in_status as compartment_labels_in_status,
)
from app.neighborhoods.compartment_queries import (
    compartments_by_ids as compartments_by_ids,
)
from app.neighborhoods.compartment_queries import (
    compartments_of_banks as compartments_of_banks,
)
from app.neighborhoods.compartment_queries import (
    count_free_compartments as count_free_compartments,
)
from app.neighborhoods.compartment_queries import (
    free_compartment_counts_in_neighborhood as free_compartment_counts_in_neighborhood,
)
from app.neighborhoods.compartment_queries import (
    smallest_inner_volumes_in_city as smallest_inner_volumes_in_city,
)
from app.neighborhoods.models import CompartmentStatus as CompartmentStatus
from app.neighborhoods.models import LockerBank, Neighborhood


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
class LockerBankView:
    """A locker bank: its identity (the code is its MQTT name) and where it stands."""

    id: int
    neighborhood_id: int
    code: str
    name: str
    address: str
    lat: float
    lon: float


def _bank_view(bank: LockerBank) -> LockerBankView:
    return LockerBankView(
        bank.id, bank.neighborhood_id, bank.code, bank.name, bank.address, bank.lat, bank.lon
    )


def locker_bank(*, db_session: Session, bank_id: int) -> LockerBankView | None:
    """A locker bank by id, if any."""
    bank = db_session.get(LockerBank, bank_id)
    return _bank_view(bank) if bank is not None else None


def locker_banks_by_ids(
    *, db_session: Session, bank_ids: Collection[int]
) -> dict[int, LockerBankView]:
    """The locker banks with these ids (those that exist), by id."""
    if not bank_ids:
        return {}
    rows = db_session.scalars(select(LockerBank).where(LockerBank.id.in_(list(bank_ids))))
    return {bank.id: _bank_view(bank) for bank in rows}


def locker_bank_by_code(*, db_session: Session, code: str) -> LockerBankView | None:
    """A locker bank by its code, if any."""
    bank = db_session.scalar(select(LockerBank).where(LockerBank.code == code))
    return _bank_view(bank) if bank is not None else None


def locker_banks(
    *, db_session: Session, city_id: int | None = None, limit: int | None = None
) -> list[LockerBankView]:
    """Every locker bank (of one city, or all), by id; the first `limit` of them if given."""
    query = select(LockerBank).order_by(LockerBank.id).limit(limit)
    if city_id is not None:
        query = query.join(Neighborhood, Neighborhood.id == LockerBank.neighborhood_id).where(
            Neighborhood.city_id == city_id
        )
    return [_bank_view(bank) for bank in db_session.scalars(query)]


def bank_city_id(*, db_session: Session, bank_id: int) -> int | None:
    """The city of a locker bank's neighborhood, if the bank exists."""
    return db_session.scalar(
        select(Neighborhood.city_id)
        .join(LockerBank, LockerBank.neighborhood_id == Neighborhood.id)
        .where(LockerBank.id == bank_id)
    )


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


@dataclass(frozen=True)
class BankCodeAndCity:
    """A locker bank's code and the city of its neighborhood."""

    code: str
    city_id: int


def bank_codes_and_cities(
    db_session: Session, bank_ids: Collection[int]
) -> dict[int, BankCodeAndCity]:
    """The code and city of these locker banks (those that exist), by bank id."""
    if not bank_ids:
        return {}
    rows = db_session.execute(
        select(LockerBank.id, LockerBank.code, Neighborhood.city_id)
        .join(Neighborhood, Neighborhood.id == LockerBank.neighborhood_id)
        .where(LockerBank.id.in_(list(bank_ids)))
    )
    return {bank_id: BankCodeAndCity(code, city_id) for bank_id, code, city_id in rows}


def city_banks_with_neighborhood_names(
    db_session: Session, city_id: int
) -> list[tuple[LockerBankView, str]]:
    """Every locker bank of the city with its neighborhood's name, by bank code."""
    rows = db_session.execute(
        select(LockerBank, Neighborhood.name)
        .join(Neighborhood, Neighborhood.id == LockerBank.neighborhood_id)
        .where(Neighborhood.city_id == city_id)
        .order_by(LockerBank.code)
    )
    return [(_bank_view(bank), name) for bank, name in rows]


@dataclass(frozen=True)
class NeighborhoodPoint:
    """A neighborhood's name and where it lies."""

    id: int
    name: str
    lat: float
    lon: float


def active_neighborhood_points(db_session: Session, city_id: int) -> list[NeighborhoodPoint]:
    """The city's served neighborhoods with their position."""
    rows = db_session.execute(
        select(Neighborhood.id, Neighborhood.name, Neighborhood.lat, Neighborhood.lon).where(
            Neighborhood.city_id == city_id, Neighborhood.active.is_(True)
        )
    )
    return [NeighborhoodPoint(*row) for row in rows]


def neighborhood_names_subquery() -> Subquery:
    """Every neighborhood's `id` and `name`, as a subquery to join in another query."""
    return select(Neighborhood.id, Neighborhood.name).subquery()


def neighborhood_place_columns_query() -> Select[int, str, int]:
    """Every neighborhood's id, name and city_id, to filter and read along with other tables."""
    return select(Neighborhood.id, Neighborhood.name, Neighborhood.city_id)


@dataclass(frozen=True)
class BankSite:
    """A locker bank's neighborhood and place, and whether that neighborhood is served."""

    id: int
    neighborhood_id: int
    lat: float
    lon: float
    neighborhood_active: bool


def bank_sites_in_city(db_session: Session, city_id: int) -> list[BankSite]:
    """The city's locker banks with their place, by id."""
    rows = db_session.execute(
        select(
            LockerBank.id,
            LockerBank.neighborhood_id,
            LockerBank.lat,
            LockerBank.lon,
            Neighborhood.active,
        )
        .join(Neighborhood, Neighborhood.id == LockerBank.neighborhood_id)
        .where(Neighborhood.city_id == city_id)
        .order_by(LockerBank.id)
    )
    return [BankSite(*row) for row in rows]


def neighborhood_points_in_city(
    db_session: Session, city_id: int
) -> dict[int, tuple[float, float]]:
    """Each of the city's neighborhoods' (lat, lon), by id."""
    rows = db_session.execute(
        select(Neighborhood.id, Neighborhood.lat, Neighborhood.lon).where(
            Neighborhood.city_id == city_id
        )
    )
    return {hood_id: (lat, lon) for hood_id, lat, lon in rows}


def neighborhood_city_query(neighborhood_id: ColumnExpressionArgument[int]) -> ScalarSelect[int]:
    """The city id of the neighborhood `neighborhood_id` names, to read along with other tables."""
    return select(Neighborhood.city_id).where(Neighborhood.id == neighborhood_id).scalar_subquery()
