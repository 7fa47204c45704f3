"""Render a page: one Jinja2 environment per page package over the shared layout.

A package makes `pages = PageTemplates(Path(__file__).parent)`; its `templates/` and
`locales/` come first, the shared ones (`app/web/templates`, `app/web/locales`) after, so a
package's page `{% extends "base.html" %}` and uses the shared macros and messages.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from app.core.db import utcnow
from app.core.enums import Language
from app.core.settings import get_settings
from app.web.i18n import HTML_LANG, request_language, translator

WEB_DIR = Path(__file__).parent
CURRENCY_SIGNS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$"}


def city_zone() -> ZoneInfo:
    """The city's time zone, in which every time is shown."""
    return ZoneInfo(get_settings().city_timezone)


def local_time(value: datetime | None, fmt: str = "%H:%M") -> str:
    """A UTC time shown in the city's zone (`""` for none)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(city_zone()).strftime(fmt)


def money(minor: int | None, currency: str = "CNY") -> str:
    """Integer minor units as `¥8.90`."""
    if minor is None:
        return ""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(int(minor)), 100)
    return f"{sign}{CURRENCY_SIGNS.get(currency, currency + ' ')}{whole:,}.{cents:02d}"


def minutes_until(value: datetime | None, now: datetime | None = None) -> int | None:
    """Whole minutes from now until `value` (negative once past)."""
    if value is None:
        return None
    delta: timedelta = value - (now or utcnow())
    return int(delta.total_seconds() // 60)


def mask_phone(phone: str | None) -> str:
    """`+8613800138000` as `+86 138****8000`: enough to tell residents apart, not to call."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return f"{phone[:-8]}****{phone[-4:]}" if len(phone) > 8 else f"****{phone[-4:]}"


class PageTemplates:
    """The templates and messages of one page package, over the shared layout."""

    def __init__(self, package_dir: Path) -> None:
        folders = [package_dir / "templates", WEB_DIR / "templates"]
        self.locale_dirs = (WEB_DIR / "locales", package_dir / "locales")
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(folder)) for folder in folders]),
            autoescape=select_autoescape(["html", "xml", "svg"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            local_time=local_time, money=money, mask_phone=mask_phone, minutes_until=minutes_until
        )

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        language: Language | None = None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """The page `name` rendered for this request, in its language."""
        lang = language or request_language(request)
        values = {
            "request": request,
            "lang": lang.value,
            "html_lang": HTML_LANG[lang],
            "_": translator(self.locale_dirs, lang),
            "now": utcnow(),
            "city_zone": get_settings().city_timezone,
            "is_htmx": request.headers.get("hx-request") == "true",
            **(context or {}),
        }
        html = self.env.get_template(name).render(values)
        return HTMLResponse(html, status_code=status_code, headers=headers)
