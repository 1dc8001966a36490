"""PostgreSQL's units of work run on psycopg connections lent by ChronosOps' own pool, not
SQLAlchemy's: opened on demand, checked by their socket, bounded, and shared with SQLAlchemy
for the statements that go through a unit's session."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import event, func, select, text

from chronosops.config import DatabaseSettings
from chronosops.evidence.tables import EvidenceBundle
from chronosops.storage import Database, DatabaseUnavailableError, insert_row, postgres
from tests.fixtures.database import POSTGRES_URL, on_postgres, terminate_backend
from tests.fixtures.rows import bundle_row as bundle

pytestmark = pytest.mark.skipif(
    not on_postgres(), reason="needs CHRONOSOPS_TEST_DATABASE_URL (PostgreSQL)"
)

_PID = select(func.pg_backend_pid())


def _fresh_id() -> str:
    # The fixture's database outlives a test: every test's rows are its own.
    return f"bundle-{secrets.token_hex(6)}"


_TRANSACTION = select(func.txid_current())


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    assert POSTGRES_URL is not None
    opened = Database(DatabaseSettings(url=POSTGRES_URL, pool_timeout_seconds=0.5), pool_size=1)
    yield opened
    await opened.dispose()


async def _pid(database: Database) -> int:
    async with database.unit_of_work() as session:
        rows = await postgres.fetch(session, _PID, {})
        assert rows is not None
        return int(rows[0][0])


def _terminate(database: Database, pid: int) -> None:
    terminate_backend(database.url, pid)


async def test_a_write_unit_takes_no_connection_from_sqlalchemys_pool(database: Database) -> None:
    await _pid(database)
    checkouts: list[object] = []
    event.listen(database.engine.sync_engine.pool, "checkout", lambda *a: checkouts.append(a))
    first = await _pid(database)
    assert await _pid(database) == first, "the lent connection comes back and is lent again"
    assert checkouts == []
    assert database.lender is not None
    assert database.lender.pool.idle == 1


async def test_a_statement_through_the_session_runs_in_the_units_own_transaction(
    database: Database,
) -> None:
    bundle_id = _fresh_id()
    async with database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle(bundle_id))
        ours = await postgres.fetch(session, select(func.pg_backend_pid(), func.txid_current()), {})
        assert ours is not None
        # Through SQLAlchemy's execution: the same backend, the same transaction, and the
        # insert still waiting went out before it.
        theirs = (
            await session.execute(
                select(
                    func.pg_backend_pid(),
                    _TRANSACTION.scalar_subquery(),
                    select(func.count()).where(EvidenceBundle.id == bundle_id).scalar_subquery(),
                )
            )
        ).one()
        assert tuple(theirs) == (*ours[0], 1)
    async with database.unit_of_work(write=False) as session:
        assert await session.get(EvidenceBundle, bundle_id) is not None
    assert database.lender is not None
    assert database.lender.pool.idle == 1, "SQLAlchemy gave the connection back, open"


async def test_a_unit_that_went_through_the_session_and_failed_keeps_nothing(
    database: Database,
) -> None:
    bundle_id = _fresh_id()

    async def failing() -> None:
        async with database.unit_of_work() as session:
            await insert_row(session, EvidenceBundle, bundle(bundle_id))
            await session.execute(text("SELECT 1"))
            raise RuntimeError("the block fails")

    with pytest.raises(RuntimeError):
        await failing()
    async with database.unit_of_work(write=False) as session:
        assert await session.get(EvidenceBundle, bundle_id) is None


async def test_a_lent_connection_whose_backend_was_terminated_is_replaced_before_it_is_used(
    database: Database,
) -> None:
    # Three times over: a dropped idle connection gives its slot back (pool_size=1 lends at
    # most two, so a slot kept by each dead one would leave none after the second).
    for _ in range(3):
        dead = await _pid(database)
        _terminate(database, dead)
        await asyncio.sleep(0.1)  # the backend's goodbye reaches the idle socket
        # The next unit runs on a fresh connection at once: no error, no retry by the caller.
        assert await _pid(database) != dead
        assert database.lender is not None
        assert (database.lender.pool.idle, database.lender.pool.size) == (1, 1)


async def test_a_connection_lost_under_a_unit_is_a_503_that_says_so_and_is_never_lent_again(
    database: Database,
) -> None:
    async def lost_midway() -> None:
        async with database.unit_of_work() as session:
            rows = await postgres.fetch(session, _PID, {})
            assert rows is not None
            await asyncio.to_thread(_terminate, database, int(rows[0][0]))
            await postgres.fetch(session, _PID, {})

    with pytest.raises(DatabaseUnavailableError) as lost:
        await lost_midway()
    assert lost.value.connection_lost
    assert database.lender is not None
    assert (database.lender.pool.idle, database.lender.pool.size) == (0, 0)
    assert await _pid(database) > 0


async def test_a_unit_waits_for_a_connection_given_back_and_past_the_pool_timeout_is_a_503(
    database: Database,
) -> None:
    # pool_size=1: at most two connections lent at once.
    release = asyncio.Event()
    holding = [asyncio.Event(), asyncio.Event()]

    async def hold(held: asyncio.Event) -> None:
        async with database.unit_of_work() as session:
            await postgres.fetch(session, _PID, {})
            held.set()
            await release.wait()

    holders = [asyncio.create_task(hold(held)) for held in holding]
    for held in holding:
        await held.wait()
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as refused:
        await _pid(database)
    assert 0.4 <= time.monotonic() - started < 2
    assert "CHRONOSOPS_DATABASE_POOL_TIMEOUT_SECONDS" in refused.value.detail
    waiting = asyncio.create_task(_pid(database))
    await asyncio.sleep(0.1)
    release.set()
    await asyncio.gather(*holders)
    assert await waiting > 0, "the waiting unit got a connection given back"
    assert database.lender is not None
    assert database.lender.pool.size <= 2


async def test_a_unit_cancelled_inside_its_transaction_keeps_nothing_and_its_connection_serves_again(
    database: Database,
) -> None:
    bundle_id = _fresh_id()
    inside = asyncio.Event()
    pids: list[int] = []

    async def stuck() -> None:
        async with database.unit_of_work() as session:
            await insert_row(session, EvidenceBundle, bundle(bundle_id))
            rows = await postgres.fetch(session, _PID, {})
            assert rows is not None
            pids.append(int(rows[0][0]))
            line = await postgres._connection(session)
            assert line.driver.pgconn.transaction_status == TransactionStatus.INTRANS
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(stuck())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Rolled back on its way out, then lent again: the same backend, nothing kept.
    assert database.lender is not None
    assert database.lender.pool.idle == 1
    assert await _pid(database) == pids[0]
    async with database.unit_of_work(write=False) as session:
        assert await session.get(EvidenceBundle, bundle_id) is None


async def test_a_server_that_refuses_connections_fails_the_unit_at_once_as_unreachable() -> None:
    database = Database(
        DatabaseSettings(
            url="postgresql+psycopg://postgres@127.0.0.1:1/nothing", pool_timeout_seconds=30
        )
    )
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError) as refused:
            async with database.unit_of_work():
                pass
        # The connect error itself, not a wait for the pool to give up.
        assert time.monotonic() - started < 10
        assert "cannot connect" in refused.value.detail
        assert database.lender is not None
        assert database.lender.pool.size == 0
    finally:
        await database.dispose()
