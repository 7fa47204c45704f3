"""English and Simplified Chinese for every page: catalogs keyed by the English text.

Each page package keeps `locales/zh.json` (and, per view, `locales/zh.<view>.json`) beside its
templates, mapping the English text of a message to its Chinese; English needs no catalog.
A message missing from a catalog shows in English (and `tests/web/test_i18n.py` fails, so a
page never ships half translated).
"""

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request

from app.core.enums import Language

LANG_COOKIE = "pickup_lang"
SUPPORTED = (Language.EN, Language.ZH)
HTML_LANG = {Language.EN: "en", Language.ZH: "zh-Hans"}

Translate = Callable[..., str]


@lru_cache(maxsize=32)
def load_catalog(locale_dirs: tuple[Path, ...], language: Language) -> dict[str, str]:
    """The merged catalog of `language` from every directory (later ones win)."""
    merged: dict[str, str] = {}
    if language == Language.EN:
        return merged
    for folder in locale_dirs:
        for path in sorted(folder.glob(f"{language.value}.json")) + sorted(
            folder.glob(f"{language.value}.*.json")
        ):
            merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def translator(locale_dirs: Iterable[Path], language: Language) -> Translate:
    """`_("Cut-off in {minutes} min", minutes=5)`: the message in `language`, filled in."""
    catalog = load_catalog(tuple(locale_dirs), language)

    def translate(message: str, /, **values: Any) -> str:
        text = catalog.get(message, message)
        return text.format(**values) if values else text

    return translate


def parse_language(value: str | None) -> Language | None:
    """`en`, `zh`, `zh-CN`, `zh-Hans`... as a supported language, else None."""
    if not value:
        return None
    head = value.strip().lower().replace("_", "-").split("-")[0]
    for language in SUPPORTED:
        if head == language.value:
            return language
    return None


def request_language(request: Request, preferred: Language | None = None) -> Language:
    """The page's language: the switch's cookie, then the account's, then the browser's."""
    chosen = parse_language(request.cookies.get(LANG_COOKIE))
    if chosen is not None:
        return chosen
    if preferred is not None:
        return preferred
    for part in request.headers.get("accept-language", "").split(","):
        found = parse_language(part.split(";")[0])
        if found is not None:
            return found
    return Language.EN
