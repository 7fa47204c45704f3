"""Neighborhoods, their locker banks and the banks' compartments (static data)."""

from collections import Counter

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.core import pagination, persistence
from app.core.enums import CompartmentSize, TemperatureClass
from app.core.errors import Conflict, InvalidInput, NotFound
from app.neighborhoods.models import Compartment, CompartmentStatus, LockerBank, Neighborhood
from app.neighborhoods.schemas import (
    CompartmentBulkCreate,
    LockerBankCreate,
    LockerBankUpdate,
    NeighborhoodCreate,
    NeighborhoodUpdate,
)

DEFAULT_INNER_VOLUME_ML = {
    CompartmentSize.S: 20_000,
    CompartmentSize.M: 45_000,
    CompartmentSize.L: 90_000,
}
ZONE_LETTER = {
    TemperatureClass.AMBIENT: "A",
    TemperatureClass.CHILLED: "C",
    TemperatureClass.FROZEN: "F",
}


def compartment_label(zone: TemperatureClass, number: int) -> str:
    """The label of the `number`-th compartment of a zone: A01, C12, F03..."""
    return f"{ZONE_LETTER[zone]}{number:02d}"


# Neighborhoods


def get(*, db_session: Session, neighborhood_id: int) -> Neighborhood | None:
    """The neighborhood with this id, if any."""
    return db_session.get(Neighborhood, neighborhood_id)


class NeighborhoodNotFound(NotFound):
    """No neighborhood (of the city) has this id."""

    case = "neighborhood_not_found"


class UnknownNeighborhood(InvalidInput):
    """The `neighborhood_id` given in the body names no neighborhood (of the city)."""

    case = "unknown_neighborhood"


class NeighborhoodNameTaken(Conflict):
    """The city has another neighborhood of this name."""

    case = "neighborhood_name_taken"


class LockerBankNotFound(NotFound):
    """No locker bank (of the city) has this id."""

    case = "locker_bank_not_found"


class LockerBankCodeTaken(Conflict):
    """Another locker bank has this code."""

    case = "locker_bank_code_taken"


class LockerBankInUse(Conflict):
    """A compartment of the bank is reserved or occupied; the bank cannot be deleted."""

    case = "locker_bank_in_use"


class CompartmentNotFound(NotFound):
    """The locker bank has no compartment with this id."""

    case = "compartment_not_found"


def get_required(
    *,
    db_session: Session,
    neighborhood_id: int,
    city_id: int | None = None,
    field: str = "neighborhood_id",
) -> Neighborhood:
    """The neighborhood with this id (of `city_id` if given), or NeighborhoodNotFound."""
    hood = db_session.get(Neighborhood, neighborhood_id)
    if hood is None or (city_id is not None and hood.city_id != city_id):
        raise NeighborhoodNotFound(f"no neighborhood with id {neighborhood_id}", field=field)
    return hood


def get_by_name(*, db_session: Session, city_id: int, name: str) -> Neighborhood | None:
    """The city's neighborhood with this exact name, if any."""
    return db_session.scalar(
        select(Neighborhood).where(Neighborhood.city_id == city_id, Neighborhood.name == name)
    )


def get_all(
    *,
    db_session: Session,
    city_id: int | None = None,
    active: bool | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Neighborhood], int]:
    """Neighborhoods by name, filtered by city, active flag and part of the name."""
    query = select(Neighborhood).order_by(Neighborhood.name, Neighborhood.id)
    if city_id is not None:
        query = query.where(Neighborhood.city_id == city_id)
    if active is not None:
        query = query.where(Neighborhood.active == active)
    if q:
        query = query.where(func.lower(Neighborhood.name).contains(q.lower(), autoescape=True))
    return pagination.page(db_session=db_session, query=query, limit=limit, offset=offset)


def create(
    *, db_session: Session, city_id: int, neighborhood_in: NeighborhoodCreate
) -> Neighborhood:
    """A new neighborhood of the city; its name must be free there."""
    fields = neighborhood_in.model_dump(exclude={"city_id"})
    if get_by_name(db_session=db_session, city_id=city_id, name=fields["name"]) is not None:
        raise NeighborhoodNameTaken(
            f"the city has a neighborhood named {fields['name']!r}", field="name"
        )
    hood = Neighborhood(city_id=city_id, **fields)
    persistence.save(
        db_session=db_session,
        obj=hood,
        field="name",
        reason="name taken",
        refusal=NeighborhoodNameTaken,
    )
    return hood


def update(
    *, db_session: Session, neighborhood: Neighborhood, neighborhood_in: NeighborhoodUpdate
) -> Neighborhood:
    """Apply the given changes to a neighborhood."""
    changes = neighborhood_in.changes()
    new_name = changes.get("name", neighborhood.name)
    if new_name != neighborhood.name and get_by_name(
        db_session=db_session, city_id=neighborhood.city_id, name=new_name
    ):
        raise NeighborhoodNameTaken(f"the city has a neighborhood named {new_name!r}", field="name")
    persistence.apply(neighborhood, changes)
    persistence.save(
        db_session=db_session,
        obj=neighborhood,
        field="name",
        reason="name taken",
        refusal=NeighborhoodNameTaken,
    )
    return neighborhood


def delete(*, db_session: Session, neighborhood: Neighborhood) -> None:
    """Delete a neighborhood nothing refers to (else deactivate it with PATCH active=false)."""
    persistence.remove(
        db_session=db_session,
        obj=neighborhood,
        field="neighborhood_id",
        reason="residents, locker banks or group buys still refer to this neighborhood; "
        "set active=false instead",
    )


# Locker banks


def get_bank(*, db_session: Session, bank_id: int, city_id: int | None = None) -> LockerBank:
    """The locker bank with this id (in `city_id` if given), or LockerBankNotFound."""
    bank = db_session.get(LockerBank, bank_id)
    if bank is None or (city_id is not None and bank.neighborhood.city_id != city_id):
        raise LockerBankNotFound(f"no locker bank with id {bank_id}", field="bank_id")
    return bank


def get_bank_by_code(*, db_session: Session, code: str) -> LockerBank | None:
    """The locker bank with this code, if any."""
    return db_session.scalar(select(LockerBank).where(LockerBank.code == code))


def get_all_banks(
    *,
    db_session: Session,
    city_id: int | None = None,
    neighborhood_id: int | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[LockerBank], int]:
    """Locker banks by code, filtered by city, neighborhood and part of code or name."""
    query = select(LockerBank).order_by(LockerBank.code)
    if neighborhood_id is not None:
        query = query.where(LockerBank.neighborhood_id == neighborhood_id)
    if city_id is not None:
        query = query.join(Neighborhood).where(Neighborhood.city_id == city_id)
    if q:
        needle = q.lower()
        query = query.where(
            or_(
                func.lower(LockerBank.code).contains(needle, autoescape=True),
                func.lower(LockerBank.name).contains(needle, autoescape=True),
            )
        )
    return pagination.page(db_session=db_session, query=query, limit=limit, offset=offset)


def create_bank(
    *, db_session: Session, neighborhood: Neighborhood, bank_in: LockerBankCreate
) -> LockerBank:
    """A new locker bank in the neighborhood; its code must be unique."""
    if get_bank_by_code(db_session=db_session, code=bank_in.code) is not None:
        raise LockerBankCodeTaken(f"a locker bank with code {bank_in.code!r} exists", field="code")
    fields = bank_in.model_dump()
    fields["lat"] = neighborhood.lat if fields["lat"] is None else fields["lat"]
    fields["lon"] = neighborhood.lon if fields["lon"] is None else fields["lon"]
    bank = LockerBank(neighborhood_id=neighborhood.id, **fields)
    persistence.save(
        db_session=db_session,
        obj=bank,
        field="code",
        reason="code taken",
        refusal=LockerBankCodeTaken,
    )
    return bank


def update_bank(*, db_session: Session, bank: LockerBank, bank_in: LockerBankUpdate) -> LockerBank:
    """Apply the given changes to a locker bank (a move stays within the city)."""
    changes = bank_in.changes()
    code = changes.get("code", bank.code)
    if code != bank.code and get_bank_by_code(db_session=db_session, code=code) is not None:
        raise LockerBankCodeTaken(f"a locker bank with code {code!r} exists", field="code")
    if "neighborhood_id" in changes:
        # Only within the bank's own city: another city's neighborhood is "not found" here.
        get_required(
            db_session=db_session,
            neighborhood_id=changes["neighborhood_id"],
            city_id=bank.neighborhood.city_id,
        )
    persistence.apply(bank, changes)
    persistence.save(
        db_session=db_session,
        obj=bank,
        field="code",
        reason="code taken",
        refusal=LockerBankCodeTaken,
    )
    return bank


def delete_bank(*, db_session: Session, bank: LockerBank) -> None:
    """Delete a locker bank and its compartments, unless parcels or commands refer to them."""
    for compartment in bank.compartments:
        if compartment.status in (CompartmentStatus.RESERVED, CompartmentStatus.OCCUPIED):
            raise LockerBankInUse(
                f"compartment {compartment.label} is {compartment.status.value}", field="bank_id"
            )
    persistence.remove(
        db_session=db_session,
        obj=[*bank.compartments, bank],
        field="bank_id",
        reason="parcels, reservations or commands still refer to this bank or its compartments",
    )


# Compartments


def get_compartment(*, db_session: Session, bank_id: int, compartment_id: int) -> Compartment:
    """The bank's compartment with this id, or CompartmentNotFound."""
    compartment = db_session.get(Compartment, compartment_id)
    if compartment is None or compartment.bank_id != bank_id:
        raise CompartmentNotFound(
            f"no compartment {compartment_id} in locker bank {bank_id}", field="compartment_id"
        )
    return compartment


def get_all_compartments(
    *,
    db_session: Session,
    bank_id: int,
    zone: TemperatureClass | None = None,
    size: CompartmentSize | None = None,
    status: CompartmentStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Compartment], int]:
    """The bank's compartments by label, filtered by zone, size and status."""
    query = select(Compartment).where(Compartment.bank_id == bank_id)
    if zone is not None:
        query = query.where(Compartment.zone == zone)
    if size is not None:
        query = query.where(Compartment.size == size)
    if status is not None:
        query = query.where(Compartment.status == status)
    query = query.order_by(Compartment.zone, Compartment.label)
    return pagination.page(db_session=db_session, query=query, limit=limit, offset=offset)


def create_compartments(
    *, db_session: Session, bank: LockerBank, compartments_in: CompartmentBulkCreate
) -> list[Compartment]:
    """Add compartments to a bank, labelled after the ones its zones already have."""
    labels = set(
        db_session.scalars(select(Compartment.label).where(Compartment.bank_id == bank.id))
    )
    last: Counter[str] = Counter()
    for label in labels:
        if label[:1] in ZONE_LETTER.values() and label[1:].isdigit():
            last[label[0]] = max(last[label[0]], int(label[1:]))
    created = []
    for group in compartments_in.groups:
        volume = group.inner_volume_ml or DEFAULT_INNER_VOLUME_ML[group.size]
        letter = ZONE_LETTER[group.zone]
        for _ in range(group.count):
            last[letter] += 1
            created.append(
                Compartment(
                    bank_id=bank.id,
                    label=compartment_label(group.zone, last[letter]),
                    size=group.size,
                    zone=group.zone,
                    inner_volume_ml=volume,
                )
            )
    persistence.save(
        db_session=db_session,
        obj=created,
        field="groups",
        reason="another request added compartments to this bank at the same time; retry",
    )
    return created
