"""Reads of the neighborhoods' tables for other packages: plain values and id subqueries,
never the models."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnExpressionArgument, ScalarSelect, Select, func, select
from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods.models import Compartment, LockerBank, Neighborhood
from app.neighborhoods.models import CompartmentStatus as CompartmentStatus


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


@dataclass(frozen=True)
class CompartmentView:
    """A compartment of a bank, with its status when read."""

    id: int
    bank_id: int
    label: str
    size: CompartmentSize
    zone: TemperatureClass
    inner_volume_ml: int
    status: CompartmentStatus


def _bank_view(bank: LockerBank) -> LockerBankView:
    return LockerBankView(
        bank.id, bank.neighborhood_id, bank.code, bank.name, bank.address, bank.lat, bank.lon
    )


def _compartment_view(compartment: Compartment) -> CompartmentView:
    return CompartmentView(
        id=compartment.id,
        bank_id=compartment.bank_id,
        label=compartment.label,
        size=CompartmentSize(compartment.size),
        zone=TemperatureClass(compartment.zone),
        inner_volume_ml=compartment.inner_volume_ml,
        status=CompartmentStatus(compartment.status),
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


def compartment(*, db_session: Session, compartment_id: int) -> CompartmentView | None:
    """A compartment by id, if any."""
    found = db_session.get(Compartment, compartment_id)
    return _compartment_view(found) if found is not None else None


def compartment_by_label(
    *, db_session: Session, bank_id: int, label: str
) -> CompartmentView | None:
    """A bank's compartment by its label, if any."""
    found = db_session.scalar(
        select(Compartment).where(Compartment.bank_id == bank_id, Compartment.label == label)
    )
    return _compartment_view(found) if found is not None else None


def compartments_by_ids(
    *, db_session: Session, compartment_ids: Collection[int]
) -> dict[int, CompartmentView]:
    """The compartments with these ids (those that exist), by id."""
    if not compartment_ids:
        return {}
    rows = db_session.scalars(select(Compartment).where(Compartment.id.in_(list(compartment_ids))))
    return {found.id: _compartment_view(found) for found in rows}


def compartments_of_banks(
    *, db_session: Session, bank_ids: Collection[int]
) -> dict[int, list[CompartmentView]]:
    """Each listed bank's compartments by label (a bank without any maps to an empty list)."""
    found: dict[int, list[CompartmentView]] = {bank_id: [] for bank_id in bank_ids}
    if not found:
        return found
    rows = db_session.scalars(
        select(Compartment)
        .where(Compartment.bank_id.in_(list(found)))
        .order_by(Compartment.bank_id, Compartment.label)
    )
    for row in rows:
        found[row.bank_id].append(_compartment_view(row))
    return found


def compartment_labels_in_status(
    *, db_session: Session, bank_id: int, status: CompartmentStatus
) -> list[str]:
    """The labels of a bank's compartments in `status`, in label order."""
    return list(
        db_session.scalars(
            select(Compartment.label)
            .where(Compartment.bank_id == bank_id, Compartment.status == status)
            .order_by(Compartment.label)
        )
    )


def count_free_compartments(
    *,
    db_session: Session,
    bank_id: int,
    zone: TemperatureClass,
    size: CompartmentSize,
    excluding_id: int | None = None,
) -> int:
    """How many of a bank's compartments of one zone and size are free (but `excluding_id`)."""
    query = select(func.count(Compartment.id)).where(
        Compartment.bank_id == bank_id,
        Compartment.zone == zone,
        Compartment.size == size,
        Compartment.status == CompartmentStatus.FREE,
    )
    if excluding_id is not None:
        query = query.where(Compartment.id != excluding_id)
    return int(db_session.scalar(query) or 0)


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


def free_compartment_counts_in_neighborhood(
    db_session: Session, neighborhood_id: int
) -> dict[tuple[TemperatureClass, CompartmentSize], int]:
    """How many compartments of the neighborhood's banks are free, by zone and size."""
    rows = db_session.execute(
        select(Compartment.zone, Compartment.size, func.count())
        .join(LockerBank, LockerBank.id == Compartment.bank_id)
        .where(
            LockerBank.neighborhood_id == neighborhood_id,
            Compartment.status == CompartmentStatus.FREE,
        )
        .group_by(Compartment.zone, Compartment.size)
    )
    return {
        (TemperatureClass(zone), CompartmentSize(size)): int(count) for zone, size, count in rows
    }


def smallest_inner_volumes_in_city(
    db_session: Session, city_id: int
) -> dict[tuple[TemperatureClass, CompartmentSize], int]:
    """The smallest inner volume (ml) of the city's compartments, by zone and size."""
    rows = db_session.execute(
        select(Compartment.zone, Compartment.size, func.min(Compartment.inner_volume_ml))
        .join(LockerBank, LockerBank.id == Compartment.bank_id)
        .join(Neighborhood, Neighborhood.id == LockerBank.neighborhood_id)
        .where(Neighborhood.city_id == city_id)
        .group_by(Compartment.zone, Compartment.size)
    )
    return {
        (TemperatureClass(zone), CompartmentSize(size)): int(inner) for zone, size, inner in rows
    }


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


def compartment_label_query() -> Select[int, str]:
    """Every compartment's id and label, to join along with other tables."""
    return select(Compartment.id, Compartment.label)


def compartment_ids_in_bank_zone(bank_id: int, zone: str) -> Select[int]:
    """The ids of a bank's compartments of one temperature zone, as a subquery."""
    return select(Compartment.id).where(Compartment.bank_id == bank_id, Compartment.zone == zone)


def neighborhood_city_query(neighborhood_id: ColumnExpressionArgument[int]) -> ScalarSelect[int]:
    """The city id of the neighborhood `neighborhood_id` names, to read along with other tables."""
    return select(Neighborhood.city_id).where(Neighborhood.id == neighborhood_id).scalar_subquery()
