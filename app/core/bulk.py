"""Set-based writes of many rows: one statement per chunk, not one round trip per row.

On PostgreSQL an executemany of N rows is N statements on the server (psycopg pipelines them,
but each is parsed, planned and run on its own). Here an update is one `UPDATE ... FROM
unnest(<one array per column>)` per chunk, an insert one `INSERT ... SELECT FROM unnest(...)`:
a few parameters, so the statement compiles once and is cached. SQLite runs in-process, so its
executemany is already cheap and is kept.
"""

from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, any_, bindparam, func, insert, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

ROWS_PER_STATEMENT = 5000
_KEY_PARAMETER = "bulk_key"


def _on_postgresql(db_session: Session) -> bool:
    return db_session.get_bind().dialect.name == "postgresql"


def update_by_key(
    db_session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    key: str = "id",
    where: Collection[ColumnElement[bool]] = (),
) -> int:
    """Set each row's columns on the model's row whose `key` matches; how many rows changed.

    Every row carries the same columns. `where` adds conditions each changed row must also
    meet (a state machine's legal source states, say): rows that do not are left alone.
    """
    if not rows:
        return 0
    db_session.flush()
    table: Table = model.__table__
    names = list(rows[0])
    changed = [name for name in names if name != key]
    connection = db_session.connection()
    if not _on_postgresql(db_session):
        statement = (
            update(table)
            .where(table.c[key] == bindparam(_KEY_PARAMETER), *where)
            .values({name: bindparam(name) for name in changed})
        )
        params = [
            {_KEY_PARAMETER: row[key], **{name: row[name] for name in changed}} for row in rows
        ]
        return int(getattr(connection.execute(statement, params), "rowcount", 0) or 0)
    source = _unnest(table, names)
    statement = (
        update(table)
        .where(table.c[key] == source.c[key], *where)
        .values({name: source.c[name] for name in changed})
    )
    moved = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        columns = {f"bulk_{name}": [row[name] for row in chunk] for name in names}
        moved += int(getattr(connection.execute(statement, columns), "rowcount", 0) or 0)
    return moved


def insert_rows(db_session: Session, model: type[Any], rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert the rows (all with the same columns) into the model's table; how many."""
    if not rows:
        return 0
    db_session.flush()
    table: Table = model.__table__
    connection = db_session.connection()
    if not _on_postgresql(db_session):
        connection.execute(insert(table), list(rows))
        return len(rows)
    names = list(rows[0])
    statement = insert(table).from_select(names, _unnest(table, names).select())
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        connection.execute(
            statement, {f"bulk_{name}": [row[name] for row in chunk] for name in names}
        )
    return len(rows)


def _unnest(table: Table, names: Sequence[str]) -> Any:
    """`unnest(:bulk_a, :bulk_b, ...) AS source(a, b, ...)`: one typed array per column."""
    arrays = [bindparam(f"bulk_{name}", type_=ARRAY(table.c[name].type)) for name in names]
    return func.unnest(*arrays).table_valued(*names).render_derived(name="source", with_types=False)


def among(db_session: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one parameter however many
    values (an expanded IN list of thousands is slow to render, send and parse)."""
    if not _on_postgresql(db_session):
        return cast(ColumnElement[bool], column.in_(list(values)))
    array = bindparam(None, list(values), type_=ARRAY(column.type))
    return cast(ColumnElement[bool], column == any_(array))
