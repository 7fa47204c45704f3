"""One owner per table, checked while the whole suite runs: every write names its writer.

A table belongs to the package whose `models` module maps it (`logistics.models` ->
logistics, `app.orders.models` -> app.orders). Every ORM attribute assignment (new rows too,
through their constructor) and every INSERT/UPDATE/DELETE statement, through a session or
straight on a connection (bulk writes), is traced to the innermost module of ours on the
stack (`app.core` is plumbing: its caller is the writer); a write from another package is
recorded. The flush is not a write of whoever happens to commit. Composition (seed,
simulation, CLI, migrations) and test code may write anything. Writes that exist today and are
not moved yet are listed in `KNOWN_FOREIGN_WRITES`, to shrink, never to grow; the run fails at
the end on any other.

Set PICKUP_OWNERSHIP=report to print every foreign write seen (with counts) instead, =off to
trace nothing.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from sqlalchemy import Delete, Engine, Insert, Update, event
from sqlalchemy.orm import ORMExecuteState, Session

from app.core.db import Base

RUNTIME = ("app", "logistics", "lockers", "notifications", "ops_dashboard", "shop", "driver_app")
FREE_WRITERS = (
    "app.seed",
    "app.cli",
    "app.migrations",
    "app.dbtools",
    "simulation",
    "tests",
    "bench",
)
# (writer package, table) pairs that exist today; issue 10 item 2 moves them to the owner.
KNOWN_FOREIGN_WRITES: frozenset[tuple[str, str]] = frozenset({})

TESTS = str(Path(__file__).parent) + os.sep
_seen: Counter[tuple[str, str, str]] = Counter()


def package_of(module: str) -> str | None:
    """Our package of a module name (`app.orders.service` -> `app.orders`), else None."""
    parts = module.split(".")
    if parts[0] not in RUNTIME and parts[0] not in ("simulation", "tests", "bench"):
        return None
    if parts[0] == "app" and len(parts) > 1:
        return f"app.{parts[1]}"
    return parts[0]


def _owners() -> dict[str, str]:
    owners: dict[str, str] = {}
    for mapper in Base.registry.mappers:
        owner = package_of(mapper.class_.__module__)
        for table in mapper.tables:
            if owner is not None:
                owners.setdefault(table.name, owner)
    return owners


def _writer() -> tuple[str, str] | None:
    """The innermost module of ours on the stack (its package and name), past SQLAlchemy."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module == __name__:
            pass
        elif frame.f_code.co_filename.startswith(TESTS):  # test modules import without "tests."
            return "tests", f"{frame.f_code.co_filename}:{frame.f_lineno}"
        elif package_of(module) not in (None, "app.core"):  # app.core: shared plumbing
            return package_of(module) or "", f"{module}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _in_flush() -> bool:
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__", "") == "sqlalchemy.orm.unitofwork":
            return True
        frame = frame.f_back
    return False


def _record(table: str, owners: dict[str, str]) -> None:
    owner = owners.get(table)
    found = _writer()
    if owner is None or found is None:
        return
    writer, where = found
    if writer == owner or writer.startswith(FREE_WRITERS) or writer in FREE_WRITERS:
        return
    _seen[(writer, table, where)] += 1


@pytest.fixture(scope="session", autouse=True)
def table_ownership() -> Iterator[None]:
    """Trace every write for the whole run; fail at the end on a foreign one not yet listed."""
    if os.environ.get("PICKUP_OWNERSHIP") == "off":
        yield
        return
    owners = _owners()

    def on_set(target: Any, *_: Any) -> None:
        # A flush copies keys into foreign-key columns: the write of whoever set the relation.
        if not _in_flush():
            _record(target.__table__.name, owners)

    def on_orm_execute(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if table is not None:
                _record(table.name, owners)

    def on_execute(_connection: Any, clause: Any, *_: Any) -> None:
        # Statements on a connection (bulk writes); a flush's are its assignments' already.
        if isinstance(clause, Insert | Update | Delete) and not _in_flush():
            _record(clause.table.name, owners)

    listened: list[tuple[Any, str, Any]] = []
    for mapper in Base.registry.mappers:
        for attr in mapper.column_attrs:
            target = getattr(mapper.class_, attr.key)
            event.listen(target, "set", on_set)
            listened.append((target, "set", on_set))
    event.listen(Session, "do_orm_execute", on_orm_execute)
    event.listen(Engine, "before_execute", on_execute)
    yield
    for target, name, fn in listened:
        event.remove(target, name, fn)
    event.remove(Session, "do_orm_execute", on_orm_execute)
    event.remove(Engine, "before_execute", on_execute)
    _report()


def _report() -> None:
    pairs = Counter[tuple[str, str]]()
    first: dict[tuple[str, str], str] = {}
    for (writer, table, where), count in _seen.items():
        pairs[(writer, table)] += count
        first.setdefault((writer, table), where)
    if os.environ.get("PICKUP_OWNERSHIP") == "report":
        for (writer, table), count in sorted(pairs.items()):
            print(f"foreign write: {writer} -> {table} ({count}x, e.g. {first[(writer, table)]})")
        return
    new = sorted(set(pairs) - KNOWN_FOREIGN_WRITES)
    if new:
        lines = [f"{w} writes {t} (e.g. {first[(w, t)]})" for w, t in new]
        pytest.fail("tables written by a package that does not own them:\n" + "\n".join(lines))
