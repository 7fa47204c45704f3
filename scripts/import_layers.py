"""Fail when a module imports up the house, up the service packages, or another's models.

The layers, bottom to top:
  0. `app.core`: imports nothing else of ours.
  1. the app domain: every other module under `app` except the composition.
  2. the service packages, themselves ordered bottom to top: `logistics` (plans and owns the
     parcels, stops, routes and vans), `lockers` (acts on the parcels logistics planned),
     `notifications` (tells residents about both). One may import a lower one's public service
     modules, never a higher one's.
  3. the page packages `ops_dashboard` (operators), `shop` (residents), `driver_app` (drivers):
     each reads across the service packages for its users, so they sit above them; none
     imports another. Their shared kit, `app.web`, is in the app domain.
  4. the composition: the app factory, the CLI, the embedded runner and serving, the model
     registry and migrations, the Celery worker's task list, the clockwork, the demo seed, the
     simulation. Only composition imports composition.
A module may import its own layer (the service packages only within themselves) and any layer
below. Every import counts: module level, inside functions, under TYPE_CHECKING.

Each table has one owner (`app.<domain>` inside `app`, else the top package), which alone
changes it through its services: no module outside the composition imports another owner's
`models` (it reads through the owner's `queries` and writes through its services).

Usage: python scripts/import_layers.py [ROOT]   (exit 1 and one line per bad import)
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CORE, DOMAIN, SERVICE, DASHBOARD, COMPOSITION = range(5)
LAYER_NAMES = ("app.core", "app domain", "service package", "page package", "composition")

SCANNED_PACKAGES = (
    "app",
    "logistics",
    "lockers",
    "notifications",
    "ops_dashboard",
    "shop",
    "driver_app",
    "simulation",
)
# Bottom to top: a service package may import the ones before it, never the ones after.
SERVICE_PACKAGES = ("logistics", "lockers", "notifications")
PAGE_PACKAGES = ("ops_dashboard", "shop", "driver_app")
COMPOSITION_MODULES = (
    "app.main",
    "app.cli",
    "app.embedded",
    "app.serving",
    "app.schema",
    "app.models",
    "app.dbtools",
    "app.migrations",
    "app.clockwork",
    "app.worker",
    "app.seed",
    "simulation",
)

# Imports of another package's `models` outside the composition that are let through: none.
ALLOWED_FOREIGN_MODELS: frozenset[tuple[str, str]] = frozenset()
# Upward imports that exist today (none left: shrink this list, never grow it).
ALLOWED_UPWARD: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    importer: str
    imported: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported} ({self.reason})"


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def top_package(module: str) -> str:
    return module.split(".", 1)[0]


def layer_of(module: str) -> int | None:
    """The module's layer, or None when it is not ours (the standard library, a dependency)."""
    if any(_within(module, name) for name in COMPOSITION_MODULES):
        return COMPOSITION
    if _within(module, "app.core"):
        return CORE
    top = top_package(module)
    if top == "app":
        return DOMAIN
    if top in SERVICE_PACKAGES:
        return SERVICE
    if top in PAGE_PACKAGES:
        return DASHBOARD
    return None


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(root: Path, module: str) -> bool:
    base = root.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import statement in the file, wherever it sits."""
    importer = module_name(root, path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield node.lineno, submodule if _is_module(root, submodule) else base


def _reason(importer: str, imported: str) -> str | None:
    source, target = layer_of(importer), layer_of(imported)
    if source is None or target is None:
        return None
    if target > source:
        if (importer, imported) in ALLOWED_UPWARD:
            return None
        return f"{LAYER_NAMES[source]} must not import up into {LAYER_NAMES[target]}"
    if source != COMPOSITION and (reason := _foreign_models(importer, imported)):
        return reason
    importer_package, imported_package = top_package(importer), top_package(imported)
    if importer_package == imported_package:
        return None
    if source == target == DASHBOARD:
        return "page packages must not import each other"
    if source == target == SERVICE:
        order = SERVICE_PACKAGES.index
        if order(imported_package) > order(importer_package):
            return f"{importer_package} must not import up into {imported_package}"
    return None


def _foreign_models(importer: str, imported: str) -> str | None:
    owner = owner_of(imported)
    rest = imported[len(owner) + 1 :] if imported.startswith(owner + ".") else ""
    if not (rest == "models" or rest.startswith("models.")) or owner_of(importer) == owner:
        return None
    if (importer, imported) in ALLOWED_FOREIGN_MODELS:
        return None
    return f"only {owner} touches its models; call its services"


def owner_of(module: str) -> str:
    """The package that owns a module's tables: `app.<domain>` inside `app`, else the top one."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "app" and len(parts) > 1 else parts[0]


def edges(root: Path) -> Iterator[tuple[Path, int, str, str]]:
    """(file, line, importer, imported) for every distinct import in the scanned packages."""
    for package in SCANNED_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            importer = module_name(root, path)
            for line, imported in sorted(set(imports_of(root, path))):
                yield path.relative_to(root), line, importer, imported


def violations(root: Path) -> list[Violation]:
    found = []
    for path, line, importer, imported in edges(root):
        reason = _reason(importer, imported)
        if reason is not None:
            found.append(Violation(path, line, importer, imported, reason))
    return found


def stale_allowances(root: Path) -> frozenset[tuple[str, str]]:
    """Allowed imports that no longer exist: their entries can go."""
    present = {(importer, imported) for _, _, importer, imported in edges(root)}
    return (ALLOWED_FOREIGN_MODELS | ALLOWED_UPWARD) - present


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    for importer, imported in sorted(stale_allowances(root)):
        print(f"note: {importer} no longer imports {imported}; remove it from the allow-list")
    found = violations(root)
    for violation in found:
        print(violation)
    if found:
        print(f"{len(found)} import(s) point up the house or into models; see {__file__}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
