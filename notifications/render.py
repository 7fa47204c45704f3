"""Templates (TOML files per language, kept apart from code) rendered into one or two SMS segments.

Segments: a body of GSM-7 characters fits 160 septets in one SMS, 153 per part when split (the
rest is the concatenation header); anything else is sent as UCS-2: 70 UTF-16 units in one SMS,
67 per part. Characters of the GSM-7 extension table (e.g. `{`, `€`) take two septets.
"""

import math
import string
import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.groupbuys import pricing

MAX_SEGMENTS = 2
TEMPLATE_DIR = Path(__file__).parent / "templates"
LANGUAGE_FILES = {"en": "en.toml", "zh": "zh-Hans.toml"}
DEFAULT_LANGUAGE = "en"
REDACTED_DIGIT = "*"

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class TemplateSpec:
    """What a template needs, which parameters are secret, which may be shortened to fit."""

    secret: tuple[str, ...] = ()
    shrinkable: tuple[str, ...] = ()
    quiet_hours: bool = False


SPECS: dict[str, TemplateSpec] = {
    "login_code": TemplateSpec(secret=("code",)),
    "group_formed": TemplateSpec(),
    "group_formed_refund": TemplateSpec(),
    "group_failed": TemplateSpec(),
    "parcel_ready": TemplateSpec(secret=("code",), shrinkable=("address", "bank_name")),
    "pickup_reminder": TemplateSpec(secret=("code",), shrinkable=("bank_name",), quiet_hours=True),
    "parcel_expired": TemplateSpec(shrinkable=("bank_name",)),
    "parcel_overflow": TemplateSpec(shrinkable=("address", "from_bank", "to_bank")),
    "cold_chain_flag": TemplateSpec(),
    "parcel_undelivered": TemplateSpec(),
    "parcel_not_routed": TemplateSpec(),
    "undelivered_refund": TemplateSpec(),
    "deadline_extended": TemplateSpec(shrinkable=("bank_name",)),
    "nudge_minimum": TemplateSpec(shrinkable=("product",), quiet_hours=True),
    "nudge_tier": TemplateSpec(shrinkable=("product",), quiet_hours=True),
    "help_reply": TemplateSpec(),
    "stop_reply": TemplateSpec(),
    "start_reply": TemplateSpec(),
}


@dataclass(frozen=True)
class Segments:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int


@dataclass(frozen=True)
class Rendered:
    """A body ready to send, its copy safe to store, and how many SMS it costs."""

    body: str
    redacted: str
    segments: int
    encoding: str

    def __repr__(self) -> str:  # never print the body: it may carry a code
        return f"Rendered(redacted={self.redacted!r}, segments={self.segments})"


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM 03.38 alphabet (basic or extension table)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def count_segments(text: str) -> Segments:
    """The encoding Twilio will use for `text` and how many SMS segments it takes."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        count = 1 if units <= GSM7_SINGLE else math.ceil(units / GSM7_PART)
        return Segments("gsm7", units, count)
    units = len(text.encode("utf-16-le")) // 2
    count = 1 if units <= UCS2_SINGLE else math.ceil(units / UCS2_PART)
    return Segments("ucs2", units, count)


def language_of(value: str | None) -> str:
    """Our template language for a resident's language (unknown ones fall back to English)."""
    return value if value in LANGUAGE_FILES else DEFAULT_LANGUAGE


@lru_cache
def load_templates(language: str) -> dict[str, str]:
    """The template bodies of one language, read from its TOML file."""
    with (TEMPLATE_DIR / LANGUAGE_FILES[language]).open("rb") as handle:
        data = tomllib.load(handle)
    return {key: str(value["body"]) for key, value in data.items()}


def placeholders(body: str) -> set[str]:
    """The `{name}` fields a template body uses."""
    return {field for _, field, _, _ in string.Formatter().parse(body) if field}


def _fill(body: str, params: dict[str, Any]) -> str:
    missing = placeholders(body) - params.keys()
    if missing:
        raise KeyError(f"template parameters missing: {sorted(missing)}")
    return body.format_map(params)


def _shorten(value: str, by: int, *, gsm: bool) -> str:
    ellipsis = "..." if gsm else "…"
    keep = max(4, len(value) - by - len(ellipsis))
    return value if keep >= len(value) else value[:keep].rstrip() + ellipsis


def render(template: str, language: str, params: dict[str, Any]) -> Rendered:
    """Render a template in a language, shortening long names until it fits two segments."""
    spec = SPECS[template]
    body = load_templates(language_of(language))[template]
    values = {key: str(value) for key, value in params.items()}
    text = _fill(body, values)
    for _ in range(20):
        segments = count_segments(text)
        if segments.count <= MAX_SEGMENTS:
            break
        limit = MAX_SEGMENTS * (GSM7_PART if segments.encoding == "gsm7" else UCS2_PART)
        longest = max(spec.shrinkable, key=lambda k: len(values.get(k, "")), default=None)
        if longest is None or len(values[longest]) <= 8:
            raise ValueError(f"{template} does not fit {MAX_SEGMENTS} segments even shortened")
        values[longest] = _shorten(
            values[longest], segments.units - limit, gsm=segments.encoding == "gsm7"
        )
        text = _fill(body, values)
    masked = {
        key: (REDACTED_DIGIT * len(val) if key in spec.secret else val)
        for key, val in values.items()
    }
    segments = count_segments(text)
    return Rendered(
        body=text,
        redacted=_fill(body, masked),
        segments=segments.count,
        encoding=segments.encoding,
    )


WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_local_time(at: datetime, timezone: str, language: str) -> str:
    """A short local date and time for an SMS, e.g. `Fri 14 Mar 18:00` or `3月14日 18:00`."""
    local = at.astimezone(ZoneInfo(timezone))
    if language_of(language) == "zh":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{WEEKDAYS_EN[local.weekday()]} {local.day} {MONTHS_EN[local.month - 1]} {local:%H:%M}"


def format_money(amount_minor: int, currency: str) -> str:
    """An amount in minor units with its currency, e.g. `¥12.50` (the group buys' own format)."""
    return pricing.format_money(amount_minor, currency)
