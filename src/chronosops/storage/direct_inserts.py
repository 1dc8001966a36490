"""Inserts run straight on the SQLite writer's own ``sqlite3`` connection, compiled once.

Through SQLAlchemy a single-row insert costs ~100–200 µs of CPU on top of SQLite's few
microseconds: the execution context, the compiled-cache lookup, parameter processing, the
result object, and on the group-commit writer (`GroupCommitWriter`) the greenlet hops of the
asyncio adaptation. The writer's connection is a plain ``sqlite3.Connection`` on the event loop
(`direct_sqlite`), so an insert in one of its units can go to it directly: SQLAlchemy compiles
the statement once for the set of columns given (its SQL, the order of its parameters and each
column type's bind processor, ``UtcDateTime`` and ``JSONValue`` included), and each call only
converts the values and runs it. The rows are byte for byte what the Core insert would write.

Only the writer's units use it (their session carries `DirectWriter` in ``session.info``);
readers, PostgreSQL and any other session keep the ordinary path. Errors come back as
SQLAlchemy's (``IntegrityError`` for a unique clash), as the callers expect.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

# session.info key: the unit runs on the group-commit writer's direct connection.
DIRECT_WRITER = "chronosops.direct_writer"


@dataclass(frozen=True, slots=True)
class Prepared:
    sql: str
    # (column key, its bind processor or None) in the order of the SQL's ``?``.
    parameters: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value)
            for key, process in self.parameters
            for value in (values[key],)
        )


def prepare(statement: Insert, keys: Sequence[str], dialect: Dialect) -> Prepared | None:
    """``statement`` compiled for rows with exactly ``keys``; None when SQLAlchemy would add
    anything per execution (a Python-side default of a column not given), or its parameters
    are not the plain column values."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch or compiled.positiontup is None:
        return None
    names = list(compiled.positiontup)
    if sorted(names) != sorted(keys):
        return None
    processors = compiled._bind_processors
    return Prepared(compiled.string, tuple((name, processors.get(name)) for name in names))


class DirectWriter:
    """The writer's ``sqlite3`` connection and the inserts prepared for its dialect.

    One per writer engine; the cache outlives units and connections (the SQL and processors
    depend only on the statement, the keys and the dialect)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.connection: sqlite3.Connection | None = None
        self._prepared: dict[tuple[Insert, tuple[str, ...]], Prepared | None] = {}

    def prepared(self, statement: Insert, keys: tuple[str, ...]) -> Prepared | None:
        key = (statement, keys)
        try:
            return self._prepared[key]
        except KeyError:
            found = self._prepared[key] = prepare(statement, keys, self.dialect)
            return found

    def execute(self, prepared: Prepared, values: dict[str, Any]) -> sqlite3.Cursor:
        assert self.connection is not None
        row = prepared.row(values)
        try:
            return self.connection.execute(prepared.sql, row)
        except sqlite3.Error as error:
            raise DBAPIError.instance(prepared.sql, row, error, sqlite3.Error) from error

    def executemany(self, prepared: Prepared, rows: list[dict[str, Any]]) -> None:
        assert self.connection is not None
        converted = [prepared.row(values) for values in rows]
        try:
            self.connection.executemany(prepared.sql, converted)
        except sqlite3.Error as error:
            raise DBAPIError.instance(prepared.sql, converted, error, sqlite3.Error) from error


async def direct_writer(session: AsyncSession) -> DirectWriter | None:
    """The unit's direct writer, with its savepoint begun; None outside the writer's units."""
    writer: DirectWriter | None = session.info.get(DIRECT_WRITER)
    if writer is None or writer.connection is None:
        return None
    # The session's savepoint is opened on its first statement: begin it before writing past
    # SQLAlchemy, so that a rollback of this unit undoes these rows too.
    await session.connection()
    return writer
