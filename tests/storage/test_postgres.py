"""PostgreSQL's write path: pooled connections checked without a round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy
from sqlalchemy import text

from chronosops.config import DatabaseSettings
from chronosops.storage import Database
from chronosops.storage.database import sync_url
from tests.fixtures.database import POSTGRES_URL, on_postgres

pytestmark = pytest.mark.skipif(
    not on_postgres(), reason="needs CHRONOSOPS_TEST_DATABASE_URL (PostgreSQL)"
)


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    assert POSTGRES_URL is not None
    opened = Database(DatabaseSettings(url=POSTGRES_URL), pool_size=2)
    yield opened
    await opened.dispose()


async def _backend_pid(database: Database) -> int:
    async with database.unit_of_work(write=False) as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)


async def test_a_pooled_connection_is_handed_out_again_without_a_ping(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await _backend_pid(database)
    pings: list[object] = []

    def counted_ping(connection: object) -> bool:
        pings.append(connection)
        return True

    monkeypatch.setattr(database.engine.sync_engine.dialect, "do_ping", counted_ping)
    assert await _backend_pid(database) == first, "the same connection, not a new one"
    assert pings == []


async def test_a_connection_whose_backend_was_terminated_is_replaced_before_it_is_used(
    database: Database,
) -> None:
    dead = await _backend_pid(database)
    admin = sqlalchemy.create_engine(sync_url(database.url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": dead})
    finally:
        admin.dispose()
    # The write runs on a fresh connection at once: no error, no retry by the caller.
    async with database.unit_of_work() as session:
        fresh = int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)
    assert fresh != dead
