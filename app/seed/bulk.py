"""Fast bulk inserts of plain row dicts, inside the session's transaction.

PostgreSQL gets `COPY ... FROM STDIN` (psycopg), SQLite the driver's own `executemany`; any
other database SQLAlchemy's executemany. Values go through each column's SQLAlchemy bind
processor first, so they are stored exactly as the ORM would store them (enums by name, UTC
timestamps, booleans), and Python-side column defaults are filled in for columns left out.
"""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

BATCH = 5_000


def _default(column: Column[Any]) -> tuple[bool, Any]:
    """Whether `column` has a Python-side default, and its value for a new row."""
    default = column.default
    if default is None:
        return False, None
    if getattr(default, "is_scalar", False):
        return True, getattr(default, "arg", None)
    if getattr(default, "is_callable", False):
        return True, default.arg(None)  # type: ignore[attr-defined]
    return False, None


def _plan(
    table: Table, rows: Sequence[dict[str, Any]], dialect: Dialect
) -> tuple[list[str], list[Any], dict[str, Any]]:
    given = list(rows[0].keys())
    extra: dict[str, Any] = {}
    for column in table.columns:
        if column.name in rows[0] or column.primary_key:
            continue
        has_default, value = _default(column)
        if has_default:
            extra[column.name] = value
    names = given + list(extra)
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    return names, processors, extra


def insert_rows(
    db_session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    advance: Callable[[int], None] = lambda n: None,
) -> None:
    """Insert `rows` (dicts with the same keys) into `table`, advancing per batch."""
    if not rows:
        return
    connection = db_session.connection()
    dialect = connection.dialect
    if dialect.name not in ("postgresql", "sqlite"):
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            db_session.execute(insert(table), chunk)
            advance(len(chunk))
        return
    names, processors, extra = _plan(table, rows, dialect)
    given = names[: len(rows[0])]
    fixed = [extra[name] for name in names[len(given) :]]
    processed = [(i, process) for i, process in enumerate(processors) if process is not None]
    columns = ", ".join(f'"{name}"' for name in names)
    driver: Any = connection.connection.driver_connection
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        values = []
        for row in chunk:
            value_row = [row[name] for name in given]
            value_row.extend(fixed)
            for i, process in processed:
                value_row[i] = process(value_row[i])
            values.append(value_row)
        if dialect.name == "postgresql":
            with driver.cursor() as cursor:
                copy_sql = f'COPY "{table.name}" ({columns}) FROM STDIN'
                with cursor.copy(copy_sql) as copy:
                    for value_row in values:
                        copy.write_row(value_row)
        else:
            marks = ", ".join("?" for _ in names)
            cursor = driver.cursor()
            try:
                cursor.executemany(
                    f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', values
                )
            finally:
                cursor.close()
        advance(len(chunk))
