"""Single-row inserts through Core, with the statement built once per table.

Building ``insert(Model).values(**row)`` per call costs more than running it: every value is
coerced into a bind parameter and walked again for the compiled-statement cache key. A
statement with no values, executed with the row as parameters, compiles once and is reused.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Table, insert, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from chronosops.storage import postgres
from chronosops.storage.database import is_unique_violation
from chronosops.storage.direct_statements import direct_writer


def _table_of(model: type[DeclarativeBase]) -> Table:
    table = inspect(model).local_table
    assert isinstance(table, Table)
    return table


@cache
def _plain_insert(model: type[DeclarativeBase]) -> Insert:
    return insert(_table_of(model))


@cache
def insert_unless_taken(model: type[DeclarativeBase], dialect: str) -> Insert:
    """An insert of a row of ``model`` that does nothing where a unique key is taken, and
    answers the key it inserted (nothing when it did not)."""
    table = _table_of(model)
    statement: postgresql.Insert | sqlite.Insert = (
        postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    )
    # RETURNING rather than the row count: psycopg reports -1 for these inserts.
    return statement.on_conflict_do_nothing().returning(*table.primary_key.columns)


async def insert_row(
    session: AsyncSession,
    model: type[DeclarativeBase],
    values: dict[str, Any],
    *,
    clash_here: bool = False,
) -> None:
    """Insert one row; a unique-key clash raises IntegrityError as usual.

    On PostgreSQL the row waits to go out with the transaction's next statement or its commit
    (`postgres.defer`), where such an error then surfaces — unless ``clash_here``: the caller
    turns a clash into an answer of its own, so the row goes out now. In a unit of SQLite's
    writer it runs straight on the writer's connection."""
    statement = _plain_insert(model)
    # The writer's unit first: a look at the session's info, where asking for PostgreSQL
    # resolves the session's bind.
    writer = await direct_writer(session)
    if writer is not None and (prepared := writer.prepared(statement, tuple(values))):
        writer.execute(prepared, values)
        return
    if (
        not clash_here
        and postgres.is_postgres(session)
        and await postgres.defer(session, statement, [values])
    ):
        return
    await session.execute(statement, values)


async def insert_rows(
    session: AsyncSession, model: type[DeclarativeBase], rows: list[dict[str, Any]]
) -> None:
    """Insert rows with one statement (executemany: the driver batches them).

    Core, not the ORM's bulk insert, which splits the rows by which keys hold None.
    """
    if not rows:
        return
    statement = _plain_insert(model)
    keys = tuple(rows[0])
    writer = await direct_writer(session)
    if (
        writer is not None
        and (prepared := writer.prepared(statement, keys))
        and all(tuple(row) == keys for row in rows)
    ):
        writer.executemany(prepared, rows)
        return
    if postgres.is_postgres(session) and await postgres.defer(session, statement, rows):
        return
    if len(rows) == 1:
        await session.execute(statement, rows[0])
    else:
        await session.execute(statement, rows)


async def insert_or_ignore(
    session: AsyncSession, model: type[DeclarativeBase], values: dict[str, Any]
) -> bool:
    """Insert one row; False (and nothing written) when it would break a unique key.

    One statement, no savepoint, no read before: concurrent writers of the same key cannot both
    win, and the loser learns it from the empty RETURNING.
    """
    # The writer's unit first: only SQLite has one (`insert_row`).
    writer = await direct_writer(session)
    if writer is not None:
        statement = insert_unless_taken(model, "sqlite")
        if prepared := writer.prepared(statement, tuple(values)):
            cursor = writer.execute(prepared, values)
            # Read to the end (and close): a RETURNING statement left open is still in progress.
            taken = cursor.fetchall()
            cursor.close()
            return bool(taken)
    else:
        dialect = session.get_bind().dialect.name
        statement = insert_unless_taken(model, dialect)
        if dialect == "postgresql":
            # With the writes waiting before it, in one round trip.
            rows = await postgres.fetch(session, statement, values)
            if rows is not None:
                return bool(rows)
    result = await session.execute(statement, values)
    return result.first() is not None


async def add_unless_taken(session: AsyncSession, row: DeclarativeBase) -> bool:
    """Add an ORM ``row``; False, and the session still usable, when a unique key is taken.

    For rows whose defaults or relationships the ORM fills in; a savepoint keeps the rest of
    the transaction when the insert loses. Plain rows are cheaper with `insert_or_ignore`.
    """
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as error:
        if not is_unique_violation(error):
            raise
        return False
    return True


async def insert_each_or_ignore(
    session: AsyncSession, rows: list[tuple[type[DeclarativeBase], dict[str, Any]]]
) -> list[bool]:
    """`insert_or_ignore` for each (model, values) in order; on PostgreSQL in one round trip."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        found = await postgres.fetch_each(
            session, [(insert_unless_taken(model, dialect), values) for model, values in rows]
        )
        if found is not None:
            return [bool(answer) for answer in found]
    return [await insert_or_ignore(session, model, values) for model, values in rows]
