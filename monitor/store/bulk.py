"""Bulk writes and set lookups that stay cheap per row, for the hot paths (ingestion, scheduler).

Profiles showed where the per-row time went: ``INSERT … RETURNING`` with ``sort_by_parameter_order``
runs one statement per row on SQLite, the ORM bulk path builds a mapper state per row, and every
distinct length of an ``IN (…)`` list is a new statement for PostgreSQL to parse and plan. So
keys are allocated up front, rows go in by driver-level ``executemany`` or COPY, and PostgreSQL
gets one array parameter (``= ANY(:values)``) whatever the number of values.
"""
from __future__ import annotations

from operator import itemgetter
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import ColumnElement, Dialect, Table, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

#: Rows from which an insert on PostgreSQL goes by COPY (below it, one statement is as quick).
COPY_FROM = 20
#: Values per lookup statement: under SQLite's variable limit, and a batch PostgreSQL plans well.
CHUNK = 900


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def allocate_keys(session: Session, column: InstrumentedAttribute, count: int) -> list[int]:
    """``count`` new values of an auto-increment primary key, in increasing order.

    PostgreSQL draws them from the column's sequence (safe with concurrent writers); SQLite takes
    the next ones after the highest, which is safe because ``Database.session()`` holds SQLite's
    write lock (BEGIN IMMEDIATE) until commit.
    """
    if count <= 0:
        return []
    table = column.class_.__table__
    if is_postgresql(session):
        return list(session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, :column)) FROM generate_series(1, :count)"),
            {"table": table.name, "column": column.key, "count": count}))
    highest = session.scalar(select(func.max(column))) or 0
    return list(range(highest + 1, highest + 1 + count))


def insert_rows(session: Session, model: type, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (every one with the same columns): COPY on PostgreSQL when there are many, else one
    driver-level ``executemany``. Values go through the columns' own bind processing (UTC conversion,
    JSON) as in any INSERT, but without SQLAlchemy's per-row parameter work, a fifth of ingestion."""
    if not rows:
        return
    table = model.__table__
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    names = list(rows[0])
    columns = ", ".join(quote(name) for name in names)
    prepared = _bound_values(dialect, table, names, rows)
    if len(rows) >= COPY_FROM and dialect.name == "postgresql":
        cursor = session.connection().connection.driver_connection.cursor()
        with cursor.copy(f"COPY {quote(table.name)} ({columns}) FROM STDIN") as copy:
            for values in prepared:
                copy.write_row(values)
        return
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(names))
    session.connection().exec_driver_sql(f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})",
                                         list(prepared))


def _bound_values(dialect: Dialect, table: Table, names: list[str], rows: Sequence[dict[str, Any]]) -> Iterator[tuple]:
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    values = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    for row in rows:
        yield tuple(value if process is None else process(value) for value, process in zip(values(row), processors))


def update_rows(session: Session, model: type, rows: Sequence[dict[str, Any]], key: str = "id") -> None:
    """UPDATE by primary key, every row with the same columns: on PostgreSQL one statement over
    arrays, elsewhere Core ``executemany``."""
    if not rows:
        return
    table = model.__table__
    if len(rows) >= COPY_FROM and is_postgresql(session):
        _update_from_arrays(session, table, rows, key)
        return
    statement = table.update().where(table.c[key] == bindparam("_key"))  # SET: the other keys given
    session.connection().execute(
        statement, [{name: value for name, value in row.items() if name != key} | {"_key": row[key]} for row in rows])


def _update_from_arrays(session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str) -> None:
    """``UPDATE t SET c = v.c … FROM unnest(:keys, :c …) AS v WHERE t.key = v.key``: one statement
    instead of one per row; the array types apply the columns' bind processing to every element."""
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    names = [key] + [name for name in rows[0] if name != key]
    arrays = ", ".join(f"CAST(:p{i} AS {table.c[name].type.compile(dialect)}[])" for i, name in enumerate(names))
    settings = ", ".join(f"{quote(name)} = v.{quote(name)}" for name in names[1:])
    statement = text(f"UPDATE {quote(table.name)} SET {settings} FROM unnest({arrays}) "
                     f"AS v({', '.join(quote(name) for name in names)}) "
                     f"WHERE {quote(table.name)}.{quote(key)} = v.{quote(key)}").bindparams(
        *[bindparam(f"p{i}", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
          for i, name in enumerate(names)])
    session.connection().execute(statement)


def member_of(session: Session, column: InstrumentedAttribute, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``: one array parameter on PostgreSQL, so the statement text never varies."""
    values = list(values)
    if is_postgresql(session):
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
