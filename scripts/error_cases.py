"""Fail on a refusal raised (or built) as a bare family class instead of a named case.

Every DomainError the API answers with names its one situation by a `case` code (see
app/core/errors.py): `raise WindowClosed(...)`, never `raise Conflict(...)`. This walks the
runtime packages' syntax trees and reports each call of a family class (DomainError,
InvalidInput, NotFound, Conflict, NotAuthenticated, Forbidden, TooManyRequests), whether
raised at once or built to be raised later, by name, by alias or through the module.

Usage: python scripts/error_cases.py [--only PACKAGE ...] [ROOT]
       (exit 1 and one line per bare refusal; --only limits the walk to some packages)
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

RUNTIME_PACKAGES = (
    "app",
    "logistics",
    "lockers",
    "notifications",
    "ops_dashboard",
    "shop",
    "driver_app",
    "simulation",
)
FAMILIES = frozenset(
    {
        "DomainError",
        "InvalidInput",
        "NotFound",
        "Conflict",
        "NotAuthenticated",
        "Forbidden",
        "TooManyRequests",
    }
)
ERRORS_MODULE = "app.core.errors"
DEFINING_FILE = Path("app/core/errors.py")


def _family_names(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """Local names bound to family classes (alias -> family) and to the errors module."""
    families = {name: name for name in FAMILIES}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == ERRORS_MODULE:
            for alias in node.names:
                if alias.name in FAMILIES:
                    families[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module == "app.core":
            modules.update(a.asname or a.name for a in node.names if a.name == "errors")
        elif isinstance(node, ast.Import):
            modules.update(a.asname for a in node.names if a.name == ERRORS_MODULE and a.asname)
    return families, modules


def _family_of(func: ast.expr, families: dict[str, str], modules: set[str]) -> str | None:
    if isinstance(func, ast.Name):
        return families.get(func.id)
    if isinstance(func, ast.Attribute) and func.attr in FAMILIES:
        base = ast.unparse(func.value)
        if base in modules or base == ERRORS_MODULE:
            return func.attr
    return None


def bare_refusals(path: Path, source: str) -> Iterator[tuple[int, str]]:
    """(line, family) of each call of a family class in `source`, and of each family raised
    without a call."""
    tree = ast.parse(source, filename=str(path))
    families, modules = _family_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            family = _family_of(node.func, families, modules)
            if family:
                yield node.lineno, family
        elif isinstance(node, ast.Raise) and node.exc is not None:
            family = _family_of(node.exc, families, modules)
            if family:
                yield node.lineno, family


def check(root: Path, packages: tuple[str, ...]) -> list[str]:
    """One line per bare refusal in the packages under `root`."""
    problems: list[str] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if relative == DEFINING_FILE:
                continue
            found = bare_refusals(relative, path.read_text(encoding="utf-8"))
            for line, family in sorted(found):
                problems.append(
                    f"{relative}:{line}: bare {family}(...): raise a named subclass with a `case`"
                )
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument(
        "--only", nargs="+", choices=RUNTIME_PACKAGES, help="walk only these packages"
    )
    args = parser.parse_args(argv)
    problems = check(Path(args.root), tuple(args.only or RUNTIME_PACKAGES))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
