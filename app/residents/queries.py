"""Reading residents for other packages: plain values, never the model."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.neighborhoods.queries import neighborhood_ids_in_city
from app.residents.models import Resident


@dataclass(frozen=True)
class ResidentContact:
    """A resident's phone (whole: mask it before showing it), name and neighborhood."""

    id: int
    phone: str
    name: str
    neighborhood_id: int


def resident_contacts(
    db_session: Session, resident_ids: Collection[int]
) -> dict[int, ResidentContact]:
    """The phone, name and neighborhood of these residents (those that exist), by id."""
    if not resident_ids:
        return {}
    rows = db_session.execute(
        select(Resident.id, Resident.phone, Resident.name, Resident.neighborhood_id).where(
            Resident.id.in_(resident_ids)
        )
    )
    return {r_id: ResidentContact(r_id, phone, name, hood) for r_id, phone, name, hood in rows}


def resident_id_in_city(db_session: Session, phone: str, city_id: int) -> int | None:
    """The id of the city's resident with this phone (exact, in E.164), if any."""
    return db_session.scalar(
        select(Resident.id).where(
            Resident.phone == phone, Resident.neighborhood_id.in_(neighborhood_ids_in_city(city_id))
        )
    )
