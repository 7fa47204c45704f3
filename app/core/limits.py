"""The bounds every value the API reads is held to, as annotated types shared by every schema and
every Query/Path parameter: ids, counts, money, text, dates, times of day, ISO codes.

A value outside them is a 422 naming the field, never a 500 further down (an integer PostgreSQL
cannot store, a date Python cannot add a day to, a NUL byte a database refuses)."""

import datetime as dt
import re
import unicodedata
from typing import Annotated, Any

import pycountry
from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, PlainSerializer
from pydantic.json_schema import WithJsonSchema

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in PostgreSQL; larger numbers are refused as input."""
MAX_INT = 2**31 - 1
"""Counts, quantities, amounts in minor units and capacities are stored as 32-bit integers."""
MIN_YEAR, MAX_YEAR = 2000, 2100
"""Dates and instants outside these years are typos or probes, and break arithmetic near 9999."""

DbId = Annotated[int, Ge(1), Le(MAX_ID)]
"""A row's id: 1 to 2**31 - 1."""
Offset = Annotated[int, Ge(0), Le(MAX_INT)]
"""Items to skip in a list."""
BoundedInt = Annotated[int, Ge(-MAX_INT), Le(MAX_INT)]
"""Any other integer the API reads; narrow it further with Field(ge=..., le=...)."""
NonNegativeInt = Annotated[int, Ge(0), Le(MAX_INT)]
"""A count, a capacity or an amount in minor units."""


def unsafe_character(text: str) -> str | None:
    """Why `text` cannot be stored or echoed (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character"
    if any("\ud800" <= char <= "\udfff" for char in text):
        return "contains a lone surrogate (not valid Unicode text)"
    return None


def _safe(value: str) -> str:
    reason = unsafe_character(value)
    if reason:
        raise ValueError(reason)
    return value


def _no_control(value: str) -> str:
    _safe(value)
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("contains a control character (tab, newline, escape...)")
    return value


SafeStr = Annotated[str, AfterValidator(_safe)]
"""Free text (a comment, an address): any Unicode text without NUL or lone surrogates."""
SafeName = Annotated[str, AfterValidator(_no_control)]
"""A name shown on pages, SMS and lists: no control characters either."""


def _sane_instant(value: dt.datetime) -> dt.datetime:
    if not MIN_YEAR <= value.astimezone(dt.UTC).year <= MAX_YEAR:
        raise ValueError(f"must fall between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


def _sane_date(value: dt.date) -> dt.date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must fall between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


SaneDatetime = Annotated[AwareDatetime, AfterValidator(_sane_instant)]
"""An instant with its UTC offset, between the years 2000 and 2100 (in UTC)."""
SaneDate = Annotated[dt.date, AfterValidator(_sane_date)]
"""A calendar date between the years 2000 and 2100."""

LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_LOCAL_TIME = re.compile(LOCAL_TIME_PATTERN)


def _parse_local_time(value: Any) -> Any:
    if isinstance(value, dt.time):
        if value.tzinfo is not None or value.second or value.microsecond:
            raise ValueError("a wall-clock time HH:MM, without seconds or a UTC offset")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(":00") and len(text) == 8:  # HH:MM:00 as older clients send it
            text = text[:5]
        if not _LOCAL_TIME.match(text):
            raise ValueError("a wall-clock time HH:MM (00:00 to 23:59), e.g. 11:00")
        return dt.time(int(text[:2]), int(text[3:]))
    raise ValueError("a wall-clock time HH:MM as a string, e.g. 11:00")


LocalTime = Annotated[
    dt.time,
    BeforeValidator(_parse_local_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCAL_TIME_PATTERN,
            "description": "A wall-clock time of day, HH:MM, in the city's own time zone "
            "(not UTC, no offset: it follows the city's daylight-saving changes)",
            "examples": ["11:00"],
        }
    ),
]
"""A time of day on the city's wall clock, "HH:MM": what a schedule means (11:00 in Shanghai
stays 11:00 across daylight-saving changes), so it carries no UTC offset, and says so."""


def _currency(value: str) -> str:
    if not re.fullmatch("[A-Z]{3}", value) or pycountry.currencies.get(alpha_3=value) is None:
        raise ValueError("not an ISO 4217 currency code")
    return value


def _country(value: str) -> str:
    if not re.fullmatch("[A-Z]{2}", value) or pycountry.countries.get(alpha_2=value) is None:
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return value


CurrencyCode = Annotated[
    str,
    AfterValidator(_currency),
    WithJsonSchema(
        {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code, e.g. CNY"}
    ),
]
CountryCode = Annotated[
    str,
    AfterValidator(_country),
    WithJsonSchema(
        {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2, e.g. CN"}
    ),
]
