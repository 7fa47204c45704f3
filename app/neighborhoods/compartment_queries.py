"""Reading compartments for other packages: plain values, never the model."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods.models import Compartment, CompartmentStatus, LockerBank, Neighborhood


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
class CompartmentView:
    """A compartment of a bank, with its status when read."""

    id: int
    bank_id: int
    label: str
    size: CompartmentSize
    zone: TemperatureClass
    inner_volume_ml: int
    status: CompartmentStatus


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


def compartment_counts_by_bank_zone_status(
    db_session: Session, bank_ids: Collection[int]
) -> list[tuple[int, str, str, int]]:
    """(bank id, zone, status, compartments) over these banks' compartments (as string values)."""
    if not bank_ids:
        return []
    rows = db_session.execute(
        select(Compartment.bank_id, Compartment.zone, Compartment.status, func.count())
        .where(Compartment.bank_id.in_(list(bank_ids)))
        .group_by(Compartment.bank_id, Compartment.zone, Compartment.status)
    )
    return [
        (bank_id, str(getattr(zone, "value", zone)), CompartmentStatus(status).value, int(n))
        for bank_id, zone, status, n in rows
    ]


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


def compartment_label_query() -> Select[int, str]:
    """Every compartment's id and label, to join along with other tables."""
    return select(Compartment.id, Compartment.label)


def compartment_ids_in_bank_zone(bank_id: int, zone: str) -> Select[int]:
    """The ids of a bank's compartments of one temperature zone, as a subquery."""
    return select(Compartment.id).where(Compartment.bank_id == bank_id, Compartment.zone == zone)
