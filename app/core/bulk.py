"""Set-based writes of many rows: one statement per chunk, not one round trip per row.

On PostgreSQL an executemany of N rows is N statements on the server (psycopg pipelines them,
but each is parsed, planned and run on its own). Here the rows of a chunk travel as one JSON
document, turned back into rows of the table's own types by `json_populate_recordset`: an
update is one `UPDATE ... FROM json_populate_recordset(...)`, an insert one `INSERT ... SELECT`.
One parameter, so the statement compiles once and is cached, and encoding the rows is
`json.dumps`. SQLite runs in-process, so its executemany is already cheap and is kept.
"""

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    JSON,
    ColumnElement,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)
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
    source = _recordset(db_session, table, names)
    statement = (
        update(table)
        .where(table.c[key] == source.c[key], *where)
        .values({name: source.c[name] for name in changed})
    )
    moved = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        document = _document(db_session, table, names, rows[start : start + ROWS_PER_STATEMENT])
        moved += int(getattr(connection.execute(statement, document), "rowcount", 0) or 0)
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
    source = _recordset(db_session, table, names)
    statement = insert(table).from_select(names, select(*(source.c[name] for name in names)))
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        connection.execute(statement, _document(db_session, table, names, chunk))
    return len(rows)


def _recordset(db_session: Session, table: Table, names: Sequence[str]) -> Any:
    """`json_populate_recordset(NULL::<table>, :bulk_rows) AS source`: the rows of the JSON
    parameter as records of the table's type (columns not in the rows are NULL)."""
    preparer = db_session.get_bind().dialect.identifier_preparer
    record_type: ColumnElement[Any] = literal_column(f"NULL::{preparer.format_table(table)}")
    rows = cast(bindparam("bulk_rows", type_=Text), JSON)
    return func.json_populate_recordset(record_type, rows).table_valued(*names).alias("source")


def _document(
    db_session: Session, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """The rows as the JSON parameter, each value as the column's type stores it."""
    dialect = db_session.get_bind().dialect
    stored = {}
    for name in names:
        column_type = table.c[name].type
        process = None if isinstance(column_type, JSON) else column_type.bind_processor(dialect)
        if process is not None:
            stored[name] = process
    plain = [
        {name: row[name] for name in names}
        | {name: process(row[name]) for name, process in stored.items()}
        for row in rows
    ]
    return {"bulk_rows": json.dumps(plain, default=_json_value)}


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not stored through JSON")


def among(db_session: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one parameter however many
    values (an expanded IN list of thousands is slow to render, send and parse)."""
    if not _on_postgresql(db_session):
        return typed(ColumnElement[bool], column.in_(list(values)))
    array = bindparam(None, list(values), type_=ARRAY(column.type))
    return typed(ColumnElement[bool], column == any_(array))
