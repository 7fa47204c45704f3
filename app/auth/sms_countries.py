"""Which countries' phones may be texted a login code (against SMS pumping).

`AUTH_SMS_ALLOWED_COUNTRIES` lists ISO 3166 alpha-2 codes (`CN,HK`) or `*` for any; unset, the
countries of the cities served. A number of any other country is refused with 422 naming `phone`
before anything is counted or sent.
"""

import phonenumbers
from sqlalchemy.orm import Session

from app.auth.errors import SmsCountryNotAllowed
from app.cities import queries as cities_queries
from app.core.settings import get_settings

ANY = "*"


def allowed_countries(db_session: Session) -> frozenset[str] | None:
    """The allowed ISO country codes, or None when any country is allowed."""
    configured = get_settings().auth_sms_allowed_countries
    if configured is not None:
        codes = {part.strip().upper() for part in configured.split(",") if part.strip()}
        return None if ANY in codes else frozenset(codes)
    return cities_queries.country_codes(db_session)


def check_destination(db_session: Session, e164: str) -> None:
    """SmsCountryNotAllowed naming `phone` when codes are not sent to the number's country."""
    allowed = allowed_countries(db_session)
    if allowed is None:
        return
    country = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    if country not in allowed:
        shown = ", ".join(sorted(allowed)) or "none configured"
        raise SmsCountryNotAllowed(
            f"login codes are not sent to numbers of {country or 'this country'}; allowed: {shown}",
            field="phone",
        )
