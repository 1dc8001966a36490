"""Every wait on the database is bounded by a setting and ends in `DatabaseUnavailableError`."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from chronosops.config import DatabaseSettings
from chronosops.storage import Database, DatabaseUnavailableError, direct_sqlite
from chronosops.storage.database import at_group_commit, sync_url
from chronosops.storage.direct_sqlite import BackgroundCheckpoints
from chronosops.storage.direct_statements import direct_writer
from tests.fixtures.database import on_postgres
from tests.fixtures.silent_server import hung_database_url, silent_server

postgres_only = pytest.mark.skipif(
    not on_postgres(), reason="needs CHRONOSOPS_TEST_DATABASE_URL (PostgreSQL)"
)
sqlite_only = pytest.mark.skipif(on_postgres(), reason="SQLite's busy timeout")
group_commit = pytest.mark.skipif(on_postgres(), reason="the group-commit writer is SQLite's")


@pytest.fixture
async def open_databases() -> AsyncIterator[list[Database]]:
    opened: list[Database] = []
    yield opened
    for database in opened:
        await database.dispose()


def _database(opened: list[Database], url: str, **limits: Any) -> Database:
    database = Database(DatabaseSettings(url=url, **limits), pool_size=1)
    opened.append(database)
    return database


@pytest.fixture
def hung_port() -> Iterator[int]:
    with silent_server() as port:
        yield port


async def test_connecting_to_a_database_that_never_answers_gives_up_after_the_connect_timeout(
    open_databases: list[Database], hung_port: int
) -> None:
    database = _database(open_databases, hung_database_url(hung_port), connect_timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError, match="cannot connect") as caught:
        async with asyncio.timeout(20), database.unit_of_work(write=False) as session:
            await session.execute(text("SELECT 1"))
    # libpq's timeout applies to each attempt (with and without TLS): at most twice.
    assert time.monotonic() - started < 3.5
    assert "timeout" in caught.value.detail
    assert caught.value.retry_after_seconds > 0


async def test_the_probe_answers_within_its_own_timeout_whatever_the_connect_timeout(
    open_databases: list[Database], hung_port: int
) -> None:
    database = _database(
        open_databases,
        hung_database_url(hung_port),
        connect_timeout_seconds=30,
        probe_timeout_seconds=0.5,
    )
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as caught:
        async with asyncio.timeout(20):
            await database.probe()
    assert time.monotonic() - started < 1.0
    assert "CHRONOSOPS_DATABASE_PROBE_TIMEOUT_SECONDS" in caught.value.message
    assert await database.ping() is False


async def test_a_unit_of_work_waits_for_a_pooled_connection_at_most_the_pool_timeout(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url, pool_timeout_seconds=0.5)
    async with AsyncExitStack() as holding:
        # pool_size=1 and as many again in overflow: two readers take every connection.
        for _ in range(2):
            session = await holding.enter_async_context(database.unit_of_work(write=False))
            await session.execute(text("SELECT 1"))
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError, match="every connection is busy") as caught:
            async with asyncio.timeout(10), database.unit_of_work(write=False) as session:
                await session.execute(text("SELECT 1"))
        assert time.monotonic() - started < 2
        assert "CHRONOSOPS_DATABASE_POOL_TIMEOUT_SECONDS" in caught.value.detail


@postgres_only
async def test_a_statement_longer_than_the_statement_timeout_is_cancelled(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url, statement_timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError, match="did not finish in time") as caught:
        async with asyncio.timeout(20), database.unit_of_work(write=False) as session:
            await session.execute(text("SELECT pg_sleep(10)"))
    assert time.monotonic() - started < 2
    assert "CHRONOSOPS_DATABASE_STATEMENT_TIMEOUT_SECONDS=0.5" in caught.value.detail


@postgres_only
async def test_a_statement_waiting_on_a_lock_held_elsewhere_gives_up_at_the_statement_timeout(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url, statement_timeout_seconds=0.5)
    locker = sqlalchemy.create_engine(sync_url(database_url))
    try:
        with locker.connect() as connection:
            connection.execute(text("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailableError):
                async with asyncio.timeout(20), database.unit_of_work(write=False) as session:
                    await session.execute(text("SELECT count(*) FROM incident"))
            assert time.monotonic() - started < 2
            connection.rollback()
    finally:
        locker.dispose()


@sqlite_only
async def test_a_writer_waits_for_another_process_lock_at_most_the_busy_timeout(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url, busy_timeout_seconds=0.3)
    other_process = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError, match="another writer") as caught:
            async with asyncio.timeout(40), database.unit_of_work() as session:
                await session.execute(text("SELECT 1"))
        assert time.monotonic() - started < 2
        assert "CHRONOSOPS_DATABASE_BUSY_TIMEOUT_SECONDS" in caught.value.detail
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()


@sqlite_only
async def test_a_writer_queued_behind_this_process_writer_waits_at_most_the_busy_timeout(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url, busy_timeout_seconds=0.3)
    async with database.unit_of_work() as holder:
        await holder.execute(text("SELECT 1"))
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError, match="writers are queued"):
            async with asyncio.timeout(40), database.unit_of_work() as session:
                await session.execute(text("SELECT 1"))
        assert time.monotonic() - started < 2


# The group-commit writer (SQLite): units queued at once share one commit, each in its own
# savepoint, in the order they queued.


async def _sequence_table(database: Database) -> None:
    async with database.unit_of_work() as session:
        await session.execute(text("CREATE TABLE seq_probe (seq INTEGER PRIMARY KEY, tag TEXT)"))


async def _tags(database: Database) -> list[str]:
    async with database.unit_of_work(write=False) as session:
        rows = await session.execute(text("SELECT tag FROM seq_probe ORDER BY seq"))
        return [row[0] for row in rows]


@sqlite_only
async def test_a_writer_that_gave_up_in_the_queue_leaves_the_writer_serving_the_next_units(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url, busy_timeout_seconds=0.2)
    await _sequence_table(database)
    async with database.unit_of_work() as holder:
        await holder.execute(text("INSERT INTO seq_probe VALUES (1, 'holder')"))
        with pytest.raises(DatabaseUnavailableError, match="writers are queued"):
            async with asyncio.timeout(40), database.unit_of_work() as session:
                await session.execute(text("INSERT INTO seq_probe VALUES (2, 'gave up')"))
    async with asyncio.timeout(5), database.unit_of_work() as session:
        await session.execute(text("INSERT INTO seq_probe VALUES (3, 'after')"))
    assert await _tags(database) == ["holder", "after"]


@group_commit
async def test_a_locked_database_met_inside_a_write_units_block_is_answered_as_unavailable(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    await _sequence_table(database)
    locked = sqlalchemy.exc.OperationalError(
        "INSERT INTO seq_probe", {}, sqlite3.OperationalError("database is locked")
    )

    async def failing(seq: int, error: Exception) -> None:
        async with database.unit_of_work() as session:
            await session.execute(text(f"INSERT INTO seq_probe VALUES ({seq}, 'undone')"))
            raise error

    with pytest.raises(DatabaseUnavailableError) as caught:
        await failing(1, locked)
    assert caught.value.__cause__ is locked
    # Any other error goes on as itself; both units are undone, and the writer goes on.
    with pytest.raises(ValueError, match="not a database error"):
        await failing(2, ValueError("not a database error"))
    async with database.unit_of_work() as session:
        await session.execute(text("INSERT INTO seq_probe VALUES (3, 'kept')"))
    assert await _tags(database) == ["kept"]


@group_commit
async def test_the_change_token_moves_when_another_connection_commits_not_for_this_writer(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    assert database.change_token() is None  # nothing written by this process yet
    await _sequence_table(database)
    first = database.change_token()
    assert first is not None
    async with database.unit_of_work() as session:
        await session.execute(text("INSERT INTO seq_probe VALUES (1, 'ours')"))
    assert database.change_token() == first
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    with other:
        other.execute("INSERT INTO seq_probe VALUES (2, 'another process')")
    other.close()
    assert database.change_token() != first


@postgres_only
async def test_postgresql_gives_no_change_token_so_nothing_read_is_kept(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    async with database.unit_of_work() as session:
        await session.execute(text("SELECT 1"))
    assert database.change_token() is None


@group_commit
async def test_units_queued_together_share_one_commit_in_the_order_they_queued(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    await _sequence_table(database)
    before = database.group_commits()

    async def append(tag: str) -> None:
        async with database.unit_of_work() as session:
            # Each unit sees the ones before it: the next number follows the last one kept.
            last = await session.scalar(text("SELECT coalesce(max(seq), 0) FROM seq_probe"))
            await session.execute(
                text("INSERT INTO seq_probe VALUES (:seq, :tag)"), {"seq": last + 1, "tag": tag}
            )

    tags = [f"unit-{index}" for index in range(20)]
    await asyncio.gather(*(append(tag) for tag in tags))
    assert await _tags(database) == tags
    commits, units = (a - b for a, b in zip(database.group_commits(), before, strict=True))
    assert units == 20
    assert commits < 5


@group_commit
async def test_a_failing_unit_rolls_back_alone_and_the_rest_of_its_commit_is_kept(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    await _sequence_table(database)

    async def insert(seq: int, tag: str, *, fail: bool = False) -> None:
        async with database.unit_of_work() as session:
            await session.execute(
                text("INSERT INTO seq_probe VALUES (:seq, :tag)"), {"seq": seq, "tag": tag}
            )
            if fail:
                raise ValueError(f"{tag} gives up after writing")

    before = database.group_commits()
    results = await asyncio.gather(
        insert(1, "first"),
        insert(1, "same key as first"),
        insert(2, "second"),
        insert(3, "written then abandoned", fail=True),
        insert(4, "fourth"),
        return_exceptions=True,
    )
    assert isinstance(results[1], sqlalchemy.exc.IntegrityError)
    assert isinstance(results[3], ValueError)
    assert [results[i] for i in (0, 2, 4)] == [None, None, None]
    assert await _tags(database) == ["first", "second", "fourth"]
    commits, units = (a - b for a, b in zip(database.group_commits(), before, strict=True))
    assert (commits, units) == (1, 3)


@group_commit
async def test_a_unit_that_gives_up_while_queued_does_not_stall_the_writer(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    await _sequence_table(database)
    release = asyncio.Event()

    async def holder() -> None:
        async with database.unit_of_work() as session:
            await session.execute(text("INSERT INTO seq_probe VALUES (1, 'holder')"))
            await release.wait()

    async def queued(seq: int, tag: str) -> None:
        async with database.unit_of_work() as session:
            await session.execute(
                text("INSERT INTO seq_probe VALUES (:seq, :tag)"), {"seq": seq, "tag": tag}
            )

    holding = asyncio.create_task(holder())
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(queued(2, "cancelled while queued"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    release.set()
    await holding
    async with asyncio.timeout(5):
        await queued(3, "after")
    assert await _tags(database) == ["holder", "after"]


# Checkpoints (SQLite): the writer's commits leave the WAL to a checkpoint on a thread.


BLOB = b"x" * 200_000


def _bytes_in_the_database_file(path: str) -> int:
    """Pages reach the database file only by a checkpoint; until then they are in the WAL."""
    return Path(path).stat().st_size


@group_commit
async def test_the_writer_commits_without_checkpointing_and_a_thread_checkpoints_after_it(
    open_databases: list[Database], database_url: str
) -> None:
    path = database_url.removeprefix("sqlite:///")
    database = _database(open_databases, database_url)
    await _sequence_table(database)
    checkpoints = database._writer().checkpoints
    assert checkpoints is not None
    await checkpoints.close()  # waits for the checkpoint the commit started
    before = _bytes_in_the_database_file(path)
    async with database.unit_of_work() as session:
        assert await session.scalar(text("PRAGMA wal_autocheckpoint")) == 0
        await session.execute(text("INSERT INTO seq_probe VALUES (1, :tag)"), {"tag": BLOB})
        # The writer's own commit copies nothing into the database file.
    assert _bytes_in_the_database_file(path) == before
    # An interval later, the next commit's checkpoint copies it on a thread.
    checkpoints._last -= 3600
    async with database.unit_of_work() as session:
        await session.execute(text("INSERT INTO seq_probe VALUES (2, 'next')"))
    await checkpoints.close()
    assert _bytes_in_the_database_file(path) > before + len(BLOB) // 2


WAL_LIMIT = 1024 * 1024


async def _sustained_writes(
    database: Database,
    path: str,
    *,
    total: int,
    writers: int = 8,
    until: Callable[[], bool] = lambda: True,
) -> tuple[int, int]:
    """Units of ~20 KB from ``writers`` tasks, back to back until ``total`` bytes are written
    and ``until()`` holds (or a minute passes), through the real writer (group commits, its
    checkpoints): (bytes written, the largest the WAL file got)."""
    payload = "y" * 20_000
    written = peak = 0
    give_up = time.monotonic() + 60
    sequence = iter(range(10**9))

    def going() -> bool:
        return (written < total or not until()) and time.monotonic() < give_up

    async def write() -> None:
        nonlocal written
        while going():
            async with database.unit_of_work() as session:
                await session.execute(
                    text("INSERT INTO seq_probe VALUES (:seq, :tag)"),
                    {"seq": next(sequence), "tag": payload},
                )
            written += len(payload)

    async def watch() -> None:
        nonlocal peak
        while going():
            peak = max(peak, os.path.getsize(path + "-wal"))  # noqa: ASYNC240 — a stat, µs
            await asyncio.sleep(0.005)

    await asyncio.gather(watch(), *(write() for _ in range(writers)))
    return written, peak


@group_commit
async def test_under_sustained_writes_the_writer_starts_the_wal_over_past_its_limit(
    open_databases: list[Database], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PASSIVE checkpoint copies what was committed when it began; with commits coming all
    # the while it never finds the WAL fully copied, and SQLite never starts it over: on main
    # the WAL file here grew by every byte written (24 MB), against a limit of 1 MB.
    path = database_url.removeprefix("sqlite:///")
    # The restart waits for a checkpoint to find the WAL past its limit. At nice 10 (its
    # priority has a test of its own), with every core busy with other processes, that
    # thread could go a whole run of writes without running once: no restart, and a flaky
    # failure that says nothing about the restart.
    monkeypatch.setattr(direct_sqlite, "CHECKPOINT_NICENESS", 0)
    database = _database(open_databases, database_url, wal_limit_bytes=WAL_LIMIT)
    await _sequence_table(database)
    checkpoints = database._writer().checkpoints
    assert checkpoints is not None
    checkpoints._interval = 0.1
    total = 48 * WAL_LIMIT
    # Past ``total``, the writes go on until the WAL was started over twice, for a minute at
    # most: a writer that never starts it over still fails, however slow the machine.
    written, peak = await _sustained_writes(
        database, path, total=total, until=lambda: checkpoints.restarts >= 2
    )
    assert written >= total
    assert checkpoints.restarts >= 2
    # The limit, plus what was committed between the checkpoint that found it passed and the
    # restart: a checkpoint interval and the checkpoint's own time, ~1-4 MB on a quiet machine,
    # 9.7 MB seen with every core busy. Bounded all the same: never the whole of what was
    # written, which a WAL that is never started over grows to.
    assert peak < written // 2
    async with database.unit_of_work(write=False) as session:
        rows = await session.scalar(text("SELECT count(*) FROM seq_probe"))
    assert rows == written // 20_000


@group_commit
async def test_a_reader_on_an_older_snapshot_holds_the_restart_back_briefly_and_fails_no_write(
    open_databases: list[Database], database_url: str
) -> None:
    path = database_url.removeprefix("sqlite:///")
    database = _database(open_databases, database_url, wal_limit_bytes=1)
    await _sequence_table(database)
    checkpoints = database._writer().checkpoints
    assert checkpoints is not None
    # Only the checkpoints the test asks for. A periodic one that copied every frame before the
    # reader began would let the reader read the database file alone, and the restart it is to
    # hold back would go through (seen once in 20 runs with every core busy).
    checkpoints._interval = 3600.0
    await checkpoints.close()

    async def write(seq: int) -> float:
        started = time.monotonic()
        async with database.unit_of_work() as session:
            await session.execute(text("INSERT INTO seq_probe VALUES (:seq, 'x')"), {"seq": seq})
        return time.monotonic() - started

    async def checkpoint_now() -> None:
        await checkpoints.close()  # the one the last commit may have started
        checkpoints._last -= 3600
        await write(seq=100 + checkpoints.runs)
        await checkpoints.close()
        assert checkpoints.restart_due()

    await write(1)  # after a restart of what creating the table wrote: a frame not yet copied
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM seq_probe").fetchone()  # holds this snapshot
    restarts = checkpoints.restarts
    await write(2)
    await checkpoint_now()
    # The restart waits for the reader about RESTART_READER_WAIT_SECONDS, then the write goes on.
    assert await write(3) < 1.0
    assert checkpoints.restarts == restarts
    assert checkpoints.restarts_held_back >= 1
    held_back = checkpoints.restarts_held_back
    reader.execute("COMMIT")
    reader.close()
    await checkpoint_now()
    await write(4)
    assert checkpoints.restarts > restarts
    assert checkpoints.restarts_held_back == held_back
    assert await _tags(database) == ["x"] * 6


async def test_a_checkpoint_runs_after_a_commit_at_most_once_an_interval(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("PRAGMA wal_autocheckpoint=0")
    setup.execute("CREATE TABLE t (b BLOB)")
    checkpoints = BackgroundCheckpoints(path, interval=3600)
    setup.execute("INSERT INTO t VALUES (?)", (BLOB,))
    checkpoints.after_commit()
    await checkpoints.close()
    assert checkpoints.runs == 1
    copied = _bytes_in_the_database_file(path)
    assert copied > len(BLOB) // 2
    setup.execute("INSERT INTO t VALUES (?)", (BLOB,))
    checkpoints.after_commit()
    await checkpoints.close()
    assert checkpoints.runs == 1  # within the interval: not again
    assert _bytes_in_the_database_file(path) == copied
    setup.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value")
async def test_a_checkpoint_runs_at_a_lower_priority_than_the_loop_and_leaves_the_loops_alone(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "db.sqlite")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (b BLOB)")
    loops_niceness = os.getpriority(os.PRIO_PROCESS, 0)
    checkpoints = BackgroundCheckpoints(path, interval=0)
    setup.execute("INSERT INTO t VALUES (?)", (BLOB,))
    checkpoints.after_commit()
    await checkpoints.close()
    assert checkpoints.runs == 1
    assert checkpoints.niceness == max(loops_niceness, 10)
    assert os.getpriority(os.PRIO_PROCESS, 0) == loops_niceness
    setup.close()


async def test_a_checkpoint_that_fails_is_logged_and_the_next_commit_tries_again(
    tmp_path: Path,
) -> None:
    checkpoints = BackgroundCheckpoints(str(tmp_path / "missing" / "db.sqlite"), interval=0)
    with capture_logs() as logs:
        checkpoints.after_commit()
        await checkpoints.close()
        checkpoints.after_commit()
        await checkpoints.close()
    assert checkpoints.runs == 0
    assert [entry["event"] for entry in logs] == ["sqlite_checkpoint_failed"] * 2


async def _straight(session: AsyncSession) -> sqlite3.Connection:
    """The writer's own sqlite3 connection, as a unit's statements past SQLAlchemy use it."""
    writer = await direct_writer(session)
    assert writer is not None
    assert writer.connection is not None
    return writer.connection


@group_commit
async def test_a_unit_written_straight_to_sqlite_never_begins_sqlalchemys_transaction(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    await _sequence_table(database)
    async with database.unit_of_work() as session:
        (await _straight(session)).execute("INSERT INTO seq_probe VALUES (1, 'straight')")
        assert not session.sync_session.in_transaction()
    assert await _tags(database) == ["straight"]


@group_commit
async def test_a_failing_unit_undoes_its_straight_and_its_session_writes_and_keeps_the_others(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    await _sequence_table(database)

    async def unit(seq: int, tag: str, *, fail: bool = False) -> None:
        async with database.unit_of_work() as session:
            (await _straight(session)).execute("INSERT INTO seq_probe VALUES (?, ?)", (seq, tag))
            await session.execute(
                text("INSERT INTO seq_probe VALUES (:seq, :tag)"),
                {"seq": seq + 100, "tag": f"{tag} via the session"},
            )
            if fail:
                raise ValueError(f"{tag} gives up after writing both ways")

    results = await asyncio.gather(
        unit(1, "first"), unit(2, "abandoned", fail=True), unit(3, "third"), return_exceptions=True
    )
    assert isinstance(results[1], ValueError)
    assert await _tags(database) == [
        "first",
        "third",
        "first via the session",
        "third via the session",
    ]


@group_commit
async def test_a_unit_that_cannot_be_undone_fails_its_whole_commit_rather_than_keep_a_part(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    await _sequence_table(database)
    held = asyncio.Event()

    async def kept_before() -> None:
        async with database.unit_of_work() as session:
            await session.execute(text("INSERT INTO seq_probe VALUES (1, 'before')"))
            held.set()

    async def breaks_its_savepoint() -> None:
        await held.wait()
        async with database.unit_of_work() as session:
            straight = await _straight(session)
            straight.execute("INSERT INTO seq_probe VALUES (2, 'half')")
            # Its savepoint is gone, so rolling the unit back to it cannot work.
            straight.execute("RELEASE SAVEPOINT chronosops_unit")
            raise ValueError("gives up")

    results = await asyncio.gather(kept_before(), breaks_its_savepoint(), return_exceptions=True)
    assert isinstance(results[1], ValueError)
    assert isinstance(results[0], sqlalchemy.exc.DBAPIError)  # its commit failed: not kept
    assert await _tags(database) == []
    async with database.unit_of_work() as session:
        await session.execute(text("INSERT INTO seq_probe VALUES (3, 'after')"))
    assert await _tags(database) == ["after"]


@group_commit
async def test_what_kept_units_leave_for_their_commit_is_handed_over_once_in_the_order_they_ran(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    await _sequence_table(database)
    handed: list[list[str]] = []

    async def write_them(session: AsyncSession, items: list[Any]) -> None:
        handed.append(list(items))
        for seq, tag in enumerate(items, start=1):
            await session.execute(
                text("INSERT INTO seq_probe VALUES (:seq, :tag)"), {"seq": seq, "tag": tag}
            )

    async def unit(tag: str, *, fail: bool = False) -> None:
        async with database.unit_of_work() as session:
            left = at_group_commit(session, "probe", write_them)
            assert left is not None
            left.extend([f"{tag}.1", f"{tag}.2"])
            if fail:
                raise ValueError(f"{tag} gives up after leaving its items")

    before = database.group_commits()
    results = await asyncio.gather(
        unit("a"), unit("b", fail=True), unit("c"), unit("d"), return_exceptions=True
    )
    assert isinstance(results[1], ValueError)
    assert database.group_commits()[0] - before[0] == 1
    assert handed == [["a.1", "a.2", "c.1", "c.2", "d.1", "d.2"]]
    assert await _tags(database) == ["a.1", "a.2", "c.1", "c.2", "d.1", "d.2"]


@group_commit
async def test_a_hook_failing_at_the_commit_fails_every_unit_of_it_and_keeps_none_of_them(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)
    await _sequence_table(database)

    async def refuse(_session: AsyncSession, _items: list[Any]) -> None:
        raise ValueError("cannot write what the units left")

    async def unit(seq: int) -> None:
        async with database.unit_of_work() as session:
            await session.execute(
                text("INSERT INTO seq_probe VALUES (:seq, :tag)"), {"seq": seq, "tag": str(seq)}
            )
            left = at_group_commit(session, "probe", refuse)
            assert left is not None
            left.append(seq)

    results = await asyncio.gather(unit(1), unit(2), return_exceptions=True)
    assert all(isinstance(result, ValueError) for result in results)
    assert await _tags(database) == []
    async with database.unit_of_work() as session:  # the writer goes on with the next commit
        await session.execute(text("INSERT INTO seq_probe VALUES (3, 'after')"))
    assert await _tags(database) == ["after"]


async def test_outside_the_group_commit_writer_nothing_is_left_for_a_group(
    open_databases: list[Database], database_url: str
) -> None:
    database = _database(open_databases, database_url)

    async def never(_session: AsyncSession, _items: list[Any]) -> None:
        raise AssertionError("not a unit of a group")

    async with database.unit_of_work(write=False) as session:
        assert at_group_commit(session, "probe", never) is None
    if on_postgres():
        async with database.unit_of_work() as session:
            assert at_group_commit(session, "probe", never) is None
