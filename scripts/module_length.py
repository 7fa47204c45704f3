"""Fail on any Python module over 400 lines outside migrations (issue 10: short modules).

A module that long has more than one seam; split it along them. The modules that were longer
when the check came in are listed below, to shrink, never to grow: a listed module that is
now short is reported so its entry can go.

Usage: python scripts/module_length.py [ROOT]   (exit 1 and one line per long module)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

MAX_LINES = 400
SCANNED = (
    "app",
    "logistics",
    "lockers",
    "notifications",
    "ops_dashboard",
    "shop",
    "driver_app",
    "simulation",
    "scripts",
    "bench",
    "tests",
)
EXCLUDED_PARTS = frozenset({"migrations"})

# Modules over the limit that are not split yet. Shrink this list, never grow it.
ALLOWED_LONG: frozenset[str] = frozenset()


def modules(root: Path) -> Iterator[tuple[str, int]]:
    """Every scanned module as (path relative to root, its line count)."""
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root)
            if EXCLUDED_PARTS.intersection(relative.parts):
                continue
            with path.open("rb") as handle:
                yield relative.as_posix(), sum(1 for _ in handle)


def too_long(root: Path) -> list[tuple[str, int]]:
    """Modules over the limit that are not on the allow-list."""
    return [(p, n) for p, n in modules(root) if n > MAX_LINES and p not in ALLOWED_LONG]


def stale_allowances(root: Path) -> list[str]:
    """Allowed modules that are now short enough (or gone): their entries can go."""
    lengths = dict(modules(root))
    return sorted(p for p in ALLOWED_LONG if lengths.get(p, 0) <= MAX_LINES)


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    for path in stale_allowances(root):
        print(f"note: {path} is {MAX_LINES} lines or fewer now; remove it from the allow-list")
    found = too_long(root)
    for path, lines in found:
        print(f"{path}: {lines} lines (over {MAX_LINES}): split it along its seams")
    if found:
        print(f"{len(found)} module(s) over {MAX_LINES} lines; see {__file__}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
