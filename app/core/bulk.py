"""Set-based writes of many rows: one statement per chunk, not one round trip per row.

On PostgreSQL an executemany of N rows is N statements on the server (psycopg pipelines them,
but each is parsed, planned and run on its own). Here the rows of a chunk travel as one JSON
document, turned back into rows of the table's own types by `json_populate_recordset`: an
update is one `UPDATE ... FROM json_populate_recordset(...)`, an insert one `INSERT ... SELECT`.
One parameter, so the statement compiles once and is cached, and encoding the rows is
`json.dumps`. SQLite runs in-process, so its executemany is already cheap and is kept.
"""

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    DateTime,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

ROWS_PER_STATEMENT = 5000
_KEY_PARAMETER = "bulk_key"


def on_postgresql(db_session: Session) -> bool:
    """Whether the session's database is PostgreSQL."""
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
    if not on_postgresql(db_session):
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


def insert_rows(
    db_session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_taken: str | None = None,
) -> int:
    """Insert the rows (all with the same columns) into the model's table; how many.

    `skip_taken` names a unique column: a row whose value there is already stored is left out
    (`ON CONFLICT DO NOTHING`), in the same statement, instead of failing.
    """
    if not rows:
        return 0
    db_session.flush()
    table: Table = model.__table__
    connection = db_session.connection()
    names = list(rows[0])
    pg = on_postgresql(db_session)
    statement = (postgresql.insert if pg else sqlite.insert)(table)
    if skip_taken is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[table.c[skip_taken]])
    if not pg:
        result = connection.execute(statement, list(rows))
        return len(rows) if skip_taken is None else _count(result)
    source = _recordset(db_session, table, names)
    from_source: Any = statement.from_select(names, select(*(source.c[name] for name in names)))
    if skip_taken is not None:  # rowcount is not reliable here: count what comes back
        from_source = from_source.returning(table.c[skip_taken])
    inserted = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        result = connection.execute(from_source, _document(db_session, table, names, chunk))
        inserted += len(chunk) if skip_taken is None else len(result.all())
    return inserted


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


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
    stored: dict[str, Callable[[Any], Any]] = {}
    for name in names:
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            continue
        process = column_type.bind_processor(dialect)
        if process is not None or isinstance(column_type, Date | DateTime):
            stored[name] = _stored_once(process)
    plain = []
    for row in rows:
        values = {name: row[name] for name in names}
        for name, store in stored.items():
            values[name] = store(values[name])
        plain.append(values)
    return {"bulk_rows": json.dumps(plain, default=_json_value)}


def _stored_once(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """The column's bind processing (dates as ISO text), computed once per distinct value: a
    bulk write repeats the same timestamps and states thousands of times."""
    done: dict[Any, Any] = {}

    def store(value: Any) -> Any:
        try:
            return done[value]
        except KeyError:
            pass
        except TypeError:  # unhashable: nothing to reuse
            return _jsonable(value, process)
        done[value] = result = _jsonable(value, process)
        return result

    return store


def _jsonable(value: Any, process: Callable[[Any], Any] | None) -> Any:
    stored = value if process is None else process(value)
    return stored.isoformat() if isinstance(stored, date) else stored


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not stored through JSON")


def among(db_session: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one parameter however many
    values (an expanded IN list of thousands is slow to render, send and parse)."""
    if not on_postgresql(db_session):
        return typed(ColumnElement[bool], column.in_(list(values)))
    array = bindparam(None, list(values), type_=ARRAY(column.type))
    return typed(ColumnElement[bool], column == any_(array))
