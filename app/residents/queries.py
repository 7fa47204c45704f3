"""Reading residents for other packages: plain values, never the model."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.orm import Session

from app.core.enums import Language
from app.neighborhoods.queries import neighborhood_ids_in_city
from app.residents.models import Resident


@dataclass(frozen=True)
class ResidentCard:
    """A resident's phone (whole: mask it before showing it), name and neighborhood."""

    id: int
    phone: str
    name: str
    neighborhood_id: int


def resident_contacts(
    db_session: Session, resident_ids: Collection[int]
) -> dict[int, ResidentCard]:
    """The phone, name and neighborhood of these residents (those that exist), by id."""
    if not resident_ids:
        return {}
    rows = db_session.execute(
        select(Resident.id, Resident.phone, Resident.name, Resident.neighborhood_id).where(
            Resident.id.in_(resident_ids)
        )
    )
    return {r_id: ResidentCard(r_id, phone, name, hood) for r_id, phone, name, hood in rows}


def resident_id_in_city(db_session: Session, phone: str, city_id: int) -> int | None:
    """The id of the city's resident with this phone (exact, in E.164), if any."""
    return db_session.scalar(
        select(Resident.id).where(
            Resident.phone == phone, Resident.neighborhood_id.in_(neighborhood_ids_in_city(city_id))
        )
    )


CHUNK = 500


@dataclass(frozen=True)
class ResidentContact:
    """Where and how a resident is texted."""

    id: int
    phone: str
    language: Language
    neighborhood_id: int
    sms_consent: bool


_CONTACT_COLUMNS = (
    Resident.id,
    Resident.phone,
    Resident.language,
    Resident.neighborhood_id,
    Resident.sms_consent,
)


def contacts(db_session: Session, resident_ids: Collection[int]) -> dict[int, ResidentContact]:
    """The residents with these ids, by id."""
    ids = sorted(set(resident_ids))
    found: dict[int, ResidentContact] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = db_session.execute(select(*_CONTACT_COLUMNS).where(Resident.id.in_(chunk)))
        found.update((row[0], ResidentContact(*row)) for row in rows)
    return found


def contact(db_session: Session, resident_id: int) -> ResidentContact | None:
    """One resident, or None."""
    return contacts(db_session, [resident_id]).get(resident_id)


def contact_by_phone(db_session: Session, phone: str) -> ResidentContact | None:
    """The resident with this E.164 phone, or None."""
    row = db_session.execute(select(*_CONTACT_COLUMNS).where(Resident.phone == phone)).first()
    return ResidentContact(*row) if row is not None else None


def ids_without_sms_consent(db_session: Session, resident_ids: Collection[int]) -> set[int]:
    """Those of these residents who refused SMS."""
    if not resident_ids:
        return set()
    return set(
        db_session.scalars(
            select(Resident.id).where(
                Resident.id.in_(set(resident_ids)), Resident.sms_consent.is_(False)
            )
        )
    )


def resident_ids_in_city(city_id: int) -> Select[int]:
    """The ids of the residents of the city's neighborhoods, as a subquery."""
    hoods = neighborhood_ids_in_city(city_id)
    return select(Resident.id).where(Resident.neighborhood_id.in_(hoods))


@dataclass(frozen=True)
class ResidentAccount:
    """A resident's account as the signed-in caller: profile, state and token version."""

    id: int
    neighborhood_id: int
    phone: str
    name: str
    language: Language
    sms_consent: bool
    active: bool
    token_version: int
    created_at: datetime


_RESIDENT_ACCOUNT_COLUMNS = (
    Resident.id,
    Resident.neighborhood_id,
    Resident.phone,
    Resident.name,
    Resident.language,
    Resident.sms_consent,
    Resident.active,
    Resident.token_version,
    Resident.created_at,
)


def resident_account(db_session: Session, resident_id: int) -> ResidentAccount | None:
    """The resident's account, if there is one with this id."""
    row = db_session.execute(
        select(*_RESIDENT_ACCOUNT_COLUMNS).where(Resident.id == resident_id)
    ).first()
    return None if row is None else ResidentAccount(*row)


class ResidentAccountCheck:
    """A resident's account and whether `condition` holds, read in one statement that is built
    once: the condition names its values as bind parameters, given at each read. Run on the
    session's connection (plain rows, no ORM step): it is every signed-in request's read."""

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self._statement = select(*_RESIDENT_ACCOUNT_COLUMNS, condition).where(
            Resident.id == bindparam("resident_id")
        )

    def __call__(
        self, db_session: Session, resident_id: int, **params: Any
    ) -> tuple[ResidentAccount, bool] | None:
        """The account and whether the condition holds; None when there is no such resident."""
        row = (
            db_session.connection()
            .execute(self._statement, {"resident_id": resident_id, **params})
            .first()
        )
        if row is None:
            return None
        *account, holds = tuple[Any, ...](row)
        return ResidentAccount(*account), bool(holds)


def resident_phones_in_city(city_id: int) -> Select[str]:
    """The phones of the residents of the city's neighborhoods, as a subquery."""
    hoods = neighborhood_ids_in_city(city_id)
    return select(Resident.phone).where(Resident.neighborhood_id.in_(hoods))
