"""docs/security.md links each claim to a test; every linked test must exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_test_docs_security_names_exists() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    references = REFERENCE.findall(text)
    assert len(references) > 50
    missing = []
    for path, name in references:
        source = ROOT / path
        found = source.exists() and re.search(
            rf"^(async )?def {name}\(", source.read_text(encoding="utf-8"), re.M
        )
        if not found:
            missing.append(f"{path}::{name}")
    assert not missing, missing


def test_the_readme_links_docs_security() -> None:
    assert "docs/security.md" in (ROOT / "README.md").read_text(encoding="utf-8")
