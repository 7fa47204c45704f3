"""What other packages read of neighborhoods, locker banks and compartments, as plain values.

`CompartmentStatus` is re-exported as a value; compartments move only through
`app.neighborhoods.compartments`.
"""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods.models import Compartment, LockerBank, Neighborhood
from app.neighborhoods.models import CompartmentStatus as CompartmentStatus


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
