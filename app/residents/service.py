"""Residents: look up, register and update, with phones always stored in E.164."""

from dataclasses import replace
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from sqlalchemy import select
from sqlalchemy import update as update_statement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.enums import Language
from app.core.errors import Conflict, InvalidInput, NotFound
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.service import UnknownNeighborhood
from app.residents.models import Resident
from app.residents.queries import ResidentAccount

_SMS_CAPABLE = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.PERSONAL_NUMBER,
}
_FORMAT_HINT = "use international format with the country code, e.g. +8613812345678"
_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "missing or unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


class InvalidPhone(InvalidInput):
    """The phone number is empty, unreadable or not a valid number."""

    case = "invalid_phone"


class PhoneHasExtension(InvalidInput):
    """A number with an extension cannot receive the SMS login code."""

    case = "phone_has_extension"


class PhoneNotMobile(InvalidInput):
    """Not a mobile number: login codes are sent by SMS."""

    case = "phone_not_mobile"


class PhoneTaken(Conflict):
    """A resident with this phone number exists."""

    case = "phone_taken"


class ResidentNotFound(NotFound):
    """No resident has this id."""

    case = "resident_not_found"


class NeighborhoodNotOpen(InvalidInput):
    """The neighborhood is not open to residents (active=false)."""

    case = "neighborhood_not_open"


def normalize_phone(raw: str, *, region: str | None = None, field: str = "phone") -> str:
    """The number in E.164 (e.g. +8613812345678), or InvalidInput naming `field`.

    Without `region` the number must carry its country code (`+86...`). Only numbers that can
    receive SMS (mobile) are accepted.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(f"phone number is empty; {_FORMAT_HINT}", field=field)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        problem = _PARSE_ERRORS.get(exc.error_type, "not a phone number")
        raise InvalidPhone(f"{problem}; {_FORMAT_HINT}", field=field) from exc
    if number.extension:
        raise PhoneHasExtension("phone numbers with an extension cannot receive SMS", field=field)
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"not a valid phone number; {_FORMAT_HINT}", field=field)
    if phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise PhoneNotMobile("not a mobile number; login codes are sent by SMS", field=field)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def get(*, db_session: Session, resident_id: int) -> Resident | None:
    """The resident with this id, if any."""
    return db_session.get(Resident, resident_id)


def get_by_phone(*, db_session: Session, phone: str) -> Resident | None:
    """The resident with this phone (normalised first), if any."""
    e164 = normalize_phone(phone)
    return db_session.scalar(select(Resident).where(Resident.phone == e164))


def get_in_city(*, db_session: Session, resident_id: int, city_id: int) -> Resident:
    """The resident if they live in the city, else NotFound (the same answer as a missing id)."""
    resident = db_session.scalar(
        select(Resident).where(
            Resident.id == resident_id,
            Resident.neighborhood_id.in_(neighborhood_queries.neighborhood_ids_in_city(city_id)),
        )
    )
    if resident is None:
        raise ResidentNotFound(f"no resident {resident_id}", field="resident_id")
    return resident


def get_all(
    *,
    db_session: Session,
    city_id: int | None = None,
    neighborhood_id: int | None = None,
    phone: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Resident]:
    """Residents by id, optionally of one city, neighborhood or phone, one page at a time."""
    query = select(Resident)
    if city_id is not None:
        query = query.where(
            Resident.neighborhood_id.in_(neighborhood_queries.neighborhood_ids_in_city(city_id))
        )
    if neighborhood_id is not None:
        query = query.where(Resident.neighborhood_id == neighborhood_id)
    if phone is not None:
        query = query.where(Resident.phone == normalize_phone(phone))
    query = query.order_by(Resident.id).limit(limit).offset(offset)
    return list(db_session.scalars(query))


def check_neighborhood(
    *, db_session: Session, neighborhood_id: int, city_id: int | None = None
) -> None:
    """Refuse a neighborhood a resident may not join (InvalidInput naming `neighborhood_id`)."""
    hood = neighborhood_queries.neighborhood_standing(db_session, neighborhood_id)
    if hood is None or (city_id is not None and hood.city_id != city_id):
        raise UnknownNeighborhood(f"no neighborhood {neighborhood_id}", field="neighborhood_id")
    if not hood.active:
        raise NeighborhoodNotOpen(
            f"neighborhood {neighborhood_id} is not open to residents", field="neighborhood_id"
        )


def create(
    *,
    db_session: Session,
    phone: str,
    neighborhood_id: int,
    name: str = "",
    language: Language = Language.EN,
    sms_consent: bool = True,
    city_id: int | None = None,
) -> Resident:
    """Register a resident; PhoneTaken naming `phone` if the number is taken."""
    e164 = normalize_phone(phone)
    check_neighborhood(db_session=db_session, neighborhood_id=neighborhood_id, city_id=city_id)
    if db_session.scalar(select(Resident.id).where(Resident.phone == e164)) is not None:
        raise PhoneTaken(f"a resident with phone {e164} already exists", field="phone")
    resident = Resident(
        phone=e164,
        neighborhood_id=neighborhood_id,
        name=name.strip(),
        language=Language(language),
        sms_consent=sms_consent,
    )
    try:
        with db_session.begin_nested():
            db_session.add(resident)
            db_session.flush()
    except IntegrityError as exc:
        raise PhoneTaken(f"a resident with phone {e164} already exists", field="phone") from exc
    return resident


def update(
    *,
    db_session: Session,
    resident: Resident,
    name: str | None = None,
    language: Language | None = None,
    sms_consent: bool | None = None,
    neighborhood_id: int | None = None,
    city_id: int | None = None,
    active: bool | None = None,
) -> Resident:
    """Change the given fields (None leaves a field as it is); a new neighborhood is checked.

    `active=False` deactivates the resident: no login, and every token issued so far is revoked.
    """
    if neighborhood_id is not None and neighborhood_id != resident.neighborhood_id:
        check_neighborhood(db_session=db_session, neighborhood_id=neighborhood_id, city_id=city_id)
        resident.neighborhood_id = neighborhood_id
    if name is not None:
        resident.name = name.strip()
    if language is not None:
        resident.language = Language(language)
    if sms_consent is not None:
        resident.sms_consent = sms_consent
    if active is not None:
        if resident.active and not active:
            resident.token_version += 1
        resident.active = active
    db_session.flush()
    return resident


def revoke_tokens(*, db_session: Session, resident_id: int) -> None:
    """Revoke every token the resident holds (they log in again); nothing if there is none."""
    db_session.execute(
        update_statement(Resident)
        .where(Resident.id == resident_id)
        .values(token_version=Resident.token_version + 1)
    )


def update_own_profile(
    *,
    db_session: Session,
    account: ResidentAccount,
    name: str | None = None,
    language: Language | None = None,
    sms_consent: bool | None = None,
) -> ResidentAccount:
    """Change the signed-in resident's name, language or SMS consent (None leaves a field as it
    is); the account as it is now. Nothing is written when nothing changes."""
    changes: dict[str, Any] = {}
    if name is not None and name.strip() != account.name:
        changes["name"] = name.strip()
    if language is not None and Language(language) != account.language:
        changes["language"] = Language(language)
    if sms_consent is not None and sms_consent != account.sms_consent:
        changes["sms_consent"] = sms_consent
    if changes:
        db_session.execute(
            update_statement(Resident).where(Resident.id == account.id).values(**changes)
        )
    return replace(account, **changes)
