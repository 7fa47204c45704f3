"""Every message a template shows has its Simplified Chinese, and every catalog is valid."""

import json
import re
from pathlib import Path

import pytest

from app.core.enums import Language
from app.web.i18n import load_catalog

ROOT = Path(__file__).parents[2]
WEB = ROOT / "app" / "web"
PAGE_PACKAGES = [WEB, ROOT / "ops_dashboard", ROOT / "shop", ROOT / "driver_app"]
MESSAGE = re.compile(r"""\b_\(\s*(["'])(.+?)\1\s*[,)]""")


def _messages(package: Path) -> set[str]:
    found: set[str] = set()
    for template in (package / "templates").rglob("*.html"):
        found.update(match[1] for match in MESSAGE.findall(template.read_text()))
    return found


@pytest.mark.parametrize("package", PAGE_PACKAGES, ids=lambda p: p.name)
def test_every_template_message_has_chinese(package: Path) -> None:
    if not (package / "templates").exists():
        pytest.skip(f"{package.name} has no templates yet")
    catalog = load_catalog((WEB / "locales", package / "locales"), Language.ZH)
    missing = sorted(_messages(package) - set(catalog))
    assert missing == [], f"{package.name}: no Chinese for {missing}"


@pytest.mark.parametrize("package", PAGE_PACKAGES, ids=lambda p: p.name)
def test_catalogs_are_flat_string_maps_with_the_same_placeholders(package: Path) -> None:
    for path in (package / "locales").glob("*.json"):
        catalog = json.loads(path.read_text(encoding="utf-8"))
        for english, chinese in catalog.items():
            assert isinstance(chinese, str) and chinese.strip(), (path.name, english)
            assert set(re.findall(r"\{(\w+)\}", english)) == set(
                re.findall(r"\{(\w+)\}", chinese)
            ), (path.name, english)
