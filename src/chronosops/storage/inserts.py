"""Inserts that let the database settle races: "insert unless that key exists"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


async def insert_or_ignore(
    session: AsyncSession, table: type[DeclarativeBase], values: dict[str, Any]
) -> bool:
    """Insert one row; False (and nothing written) when it would break a unique key.

    One statement, no savepoint, no read before: concurrent writers of the same key cannot both
    win, and the loser learns it from the empty RETURNING.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    # RETURNING rather than the row count: psycopg reports -1 for these inserts.
    statement = (
        module.insert(table.__table__)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(*inspect(table).primary_key)
    )
    result = await session.execute(statement)
    return result.first() is not None
