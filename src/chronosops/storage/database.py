"""The engine and the unit of work.

The edge (a route, a command, a job) opens a unit of work, which commits on success and rolls
back on error; services only flush. On SQLite, the writing units of one process go through one
writer (`GroupCommitWriter`): a direct connection (no thread hop per statement) that runs the
queued units one after another, each in a savepoint, inside one ``BEGIN IMMEDIATE``
transaction, and commits them together. A unit that fails rolls back its savepoint alone; every
unit returns only once the commit that holds it is done. Readers keep aiosqlite's threads.

Every wait on the database is bounded by a setting (`DatabaseSettings`): opening a connection,
checking one out of the pool, one statement on PostgreSQL, the writer's lock on SQLite, and the
probes. A unit of work that meets an unavailable database raises `DatabaseUnavailableError`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from chronosops.config import ConfigurationError, DatabaseSettings
from chronosops.storage import postgres
from chronosops.storage.direct_sqlite import (
    BackgroundCheckpoints,
    DirectConnection,
    direct_creator,
)
from chronosops.storage.direct_statements import DIRECT_WRITER, DirectWriter
from chronosops.storage.failures import (
    TRANSLATED_ERRORS,
    URL_SETTING,
    DatabaseUnavailableError,
    printable_url,
    translated,
    translation,
)
from chronosops.storage.pg_pool import ConnectionPool

T = TypeVar("T")
APPLICATION_NAME = "chronosops"
# session.info key: writes a service left for the end of its transaction (`before_commit`).
_BEFORE_COMMIT = "chronosops.before_commit"
# session.info key, set only in a unit of SQLite's group-commit writer: what the unit leaves for
# its group's commit (`at_group_commit`), by key: (the hook, the unit's items).
_AT_GROUP_COMMIT = "chronosops.at_group_commit"
# How many units one commit may hold at most: enough to drain a burst, few enough that a unit
# queued behind them does not wait long for its turn.
GROUP_COMMIT_MAX_UNITS = 64


def async_url(url: str) -> str:
    """The asyncio driver for a configured URL (``sqlite://`` → aiosqlite, ``postgresql://`` → psycopg)."""
    if url.startswith("sqlite+aiosqlite://"):
        return url
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sync_url(url: str) -> str:
    """The blocking driver for the same database (Alembic runs migrations with it)."""
    if url.startswith("sqlite+aiosqlite://"):
        return "sqlite://" + url.removeprefix("sqlite+aiosqlite://")
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def ensure_sqlite_directory(url: str) -> None:
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"{URL_SETTING}: cannot create the directory of {path}: {exc.strerror or exc}"
                ) from None


def connect_args(limits: DatabaseSettings, *, statements: bool = True) -> dict[str, Any]:
    """Driver arguments that bound connecting and, on PostgreSQL, every statement.

    Migrations pass ``statements=False``: a schema change may rightly run for minutes.
    """
    if limits.url.startswith("sqlite"):
        # sqlite3's own busy handler; the PRAGMA on connect says the same for aiosqlite.
        return {"timeout": limits.busy_timeout_seconds}
    # libpq counts whole seconds; psycopg applies it to each address it tries.
    arguments: dict[str, Any] = {
        "connect_timeout": max(1, round(limits.connect_timeout_seconds)),
        "application_name": APPLICATION_NAME,
    }
    if statements and limits.statement_timeout_seconds > 0:
        milliseconds = round(limits.statement_timeout_seconds * 1000)
        arguments["options"] = f"-c statement_timeout={milliseconds}"
    return arguments


def before_commit(
    session: AsyncSession, key: str, hook: Callable[[AsyncSession], Awaitable[None]]
) -> None:
    """Run ``hook`` once, just before this unit of work commits (not if it rolls back).

    For writes that serialise every writer (the audit chain's lock): left to the end, the lock
    is held for a few statements instead of the whole transaction.
    """
    session.info.setdefault(_BEFORE_COMMIT, {}).setdefault(key, hook)


GroupHook = Callable[[AsyncSession, list[Any]], Awaitable[None]]


def at_group_commit(session: AsyncSession, key: str, hook: GroupHook) -> list[Any] | None:
    """In a unit of SQLite's group-commit writer: the unit's list of items for ``key``, which
    the writer hands, with those of every other kept unit of its group in the order the units
    ran, to ``hook`` once, just before the group's ``COMMIT`` (the items of a unit that rolled
    back are dropped with it). None anywhere else: the caller then uses `before_commit`.

    For writes that link each unit to the one before (the audit chain): done once a group,
    the chain's head is read once and the rows go in as one insert, instead of once a unit.
    A failing hook fails the whole group's commit, so no unit commits without its items.
    """
    hooks: dict[str, tuple[GroupHook, list[Any]]] | None = session.info.get(_AT_GROUP_COMMIT)
    if hooks is None:
        return None
    return hooks.setdefault(key, (hook, []))[1]


async def run_before_commit(session: AsyncSession) -> None:
    hooks: dict[str, Callable[[AsyncSession], Awaitable[None]]] = session.info.pop(
        _BEFORE_COMMIT, {}
    )
    for hook in hooks.values():
        await hook(session)


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL; None for an in-memory database (which a second connection
    would not share)."""
    if ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself, so the mode can be chosen per unit of work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _savepoints_in_place(engine: AsyncEngine) -> None:
    """Run the writer's savepoints (each write unit takes and releases one) as plain SQL on its
    direct ``sqlite3`` connection. SQLAlchemy compiles a savepoint clause anew on every use
    and sends it through the asyncio adapter: two of those per unit cost more than the unit's
    own statements now do. Names, order and nesting are SQLAlchemy's, unchanged."""
    dialect = engine.sync_engine.dialect

    def direct(connection: Connection) -> sqlite3.Connection | None:
        driver = connection.connection.driver_connection
        return driver.raw() if isinstance(driver, DirectConnection) else None

    def run(
        connection: Connection, sql: str, otherwise: Callable[[Connection, str], None], name: str
    ) -> None:
        raw = direct(connection)
        if raw is None:
            otherwise(connection, name)
            return
        try:
            raw.execute(sql)
        except sqlite3.Error as error:
            raise DBAPIError.instance(sql, (), error, sqlite3.Error) from error

    savepoint = dialect.do_savepoint
    release = dialect.do_release_savepoint
    rollback_to = dialect.do_rollback_to_savepoint
    dialect.do_savepoint = lambda connection, name: run(  # type: ignore[method-assign]
        connection, f"SAVEPOINT {name}", savepoint, name
    )
    dialect.do_release_savepoint = lambda connection, name: run(  # type: ignore[method-assign]
        connection, f"RELEASE SAVEPOINT {name}", release, name
    )
    dialect.do_rollback_to_savepoint = lambda connection, name: run(  # type: ignore[method-assign]
        connection, f"ROLLBACK TO SAVEPOINT {name}", rollback_to, name
    )


class Database:
    def __init__(
        self,
        url: str | DatabaseSettings,
        *,
        echo: bool = False,
        pool_size: int = 10,
    ) -> None:
        self.limits = url if isinstance(url, DatabaseSettings) else DatabaseSettings(url=url)
        self.lender: postgres.Lender | None = None
        self.url = async_url(self.limits.url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        ensure_sqlite_directory(self.url)
        with translated(self.limits, opening=True):
            if self.dialect == "sqlite":
                # SQLite's own file locking serialises writers; the pool only saves reconnects.
                self.engine = create_async_engine(
                    self.url,
                    echo=echo,
                    pool_size=pool_size,
                    max_overflow=pool_size,
                    pool_timeout=self.limits.pool_timeout_seconds,
                    connect_args=connect_args(self.limits),
                )
                _configure_sqlite(self.engine, round(self.limits.busy_timeout_seconds * 1000))
            else:
                # Only the ORM's read-only units and the probes use SQLAlchemy's pool here (write
                # units and `reads()` take the lender's below), so half its size keeps a
                # process's peak at 30 connections rather than 40.
                self.engine = create_async_engine(
                    self.url,
                    echo=echo,
                    pool_size=max(1, pool_size // 2),
                    max_overflow=max(1, pool_size // 2),
                    pool_timeout=self.limits.pool_timeout_seconds,
                    connect_args=connect_args(self.limits),
                )
                # A look at the socket on checkout instead of a pre-ping round trip.
                postgres.check_connections_on_checkout(self.engine)
                postgres.send_waiting_first(self.engine)
                # Units of work on psycopg's connections, lent without SQLAlchemy's pool
                # (`storage.pg_pool`), sized as SQLAlchemy's.
                connect = postgres.connector(self.engine, connect_args(self.limits))
                self.lender = postgres.Lender(
                    self.url,
                    ConnectionPool(
                        connect,
                        check=postgres.socket_says_gone,
                        keep=pool_size,
                        most=2 * pool_size,
                        wait_seconds=self.limits.pool_timeout_seconds,
                    ),
                    connect,
                )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommitWriter] = (
            weakref.WeakKeyDictionary()
        )
        self.writer_engine: AsyncEngine | None = None
        path = sqlite_path(self.url) if self.dialect == "sqlite" else None
        if path is not None:
            # The single writer's own connection: direct, no busy handler of SQLite's (it
            # would sleep on the loop); `direct_sqlite` waits for another process's lock.
            self.writer_engine = create_async_engine(
                self.url,
                echo=echo,
                pool_size=1,
                max_overflow=0,
                pool_timeout=self.limits.pool_timeout_seconds,
                async_creator=direct_creator(
                    path,
                    self.limits.busy_timeout_seconds,
                    wal_limit_bytes=self.limits.wal_limit_bytes,
                ),
            )
            _configure_sqlite(self.writer_engine, 0)
            _savepoints_in_place(self.writer_engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def unit_of_work(self, *, write: bool = True) -> AbstractAsyncContextManager[AsyncSession]:
        """A session in one transaction: committed if the block succeeds, rolled back if not.

        Raises `DatabaseUnavailableError` when the database cannot serve it now.
        """
        if self.writer_engine is not None and write:
            return _WriterUnit(self)
        return self._unit_elsewhere(write=write)

    @asynccontextmanager
    async def _unit_elsewhere(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        """`unit_of_work` anywhere but on SQLite's group-commit writer."""
        with translated(self.limits):
            if self.is_sqlite and write:
                # SQLite has one writer at a time. Queueing writers of this process here, in
                # order, beats SQLite's busy handler, which polls with growing sleeps and serves
                # no one fairly.
                async with self._queued_writer(), self._transaction(write=True) as session:
                    yield session
                return
            if write:
                # PostgreSQL: the unit's own transaction on its connection, carried by its
                # sends; SQLAlchemy's session transaction only if a statement goes through it.
                async with self._unit(write=True) as session:
                    yield session
                return
            async with self._transaction(write=write) as session:
                yield session

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncSession]:
        """A session for a few reads that need no snapshot in common (a check before a write).

        On PostgreSQL its connection is in autocommit: each read is one round trip, with no
        ``BEGIN`` or ``COMMIT`` around it. Elsewhere it is a read-only unit of work.
        """
        if self.is_sqlite:
            async with self.unit_of_work(write=False) as session:
                yield session
            return
        with translated(self.limits):
            async with self._unit(write=False) as session:
                yield session

    def _unit(self, *, write: bool) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        if self.lender is not None:
            return self.lender.unit(
                self.engine.sync_engine.dialect, before_commit=run_before_commit, write=write
            )
        return postgres.unit(self.engine, before_commit=run_before_commit, write=write)

    @asynccontextmanager
    async def _queued_writer(self) -> AsyncIterator[None]:
        lock = self._writer_lock()
        try:
            async with asyncio.timeout(self.limits.busy_timeout_seconds):
                await lock.acquire()
        except TimeoutError:
            raise DatabaseUnavailableError(
                "Database unavailable: too many writers are queued; retry shortly",
                detail="waited longer than CHRONOSOPS_DATABASE_BUSY_TIMEOUT_SECONDS="
                f"{self.limits.busy_timeout_seconds:g} for this process's writer lock",
                retry_after_seconds=2,
            ) from None
        try:
            yield
        finally:
            lock.release()

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            if self.is_sqlite:
                await session.connection(
                    execution_options={"sqlite_begin": "IMMEDIATE" if write else "DEFERRED"}
                )
            try:
                yield session
                if write:
                    await run_before_commit(session)
                    if not self.is_sqlite:
                        # The writes still waiting and the COMMIT in one round trip.
                        await postgres.commit(session)
                    await session.commit()
                else:
                    await session.rollback()
            except BaseException:
                await session.rollback()
                raise

    def _writer(self) -> GroupCommitWriter:
        """One writer per event loop (a CLI command and a test each run their own loop)."""
        assert self.writer_engine is not None
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None:
            writer = self._writers[loop] = GroupCommitWriter(
                self.writer_engine,
                wait_seconds=self.limits.busy_timeout_seconds,
                wal_limit_bytes=self.limits.wal_limit_bytes,
            )
        return writer

    def change_token(self) -> object | None:
        """Something that stays equal while no other connection commits to the SQLite file
        (this process's own writes go through its writer and do not move it); None when it
        cannot tell (PostgreSQL, an in-memory database, nothing written yet in this process).

        For copies this process keeps of what it read in a write unit (see
        `evidence.template_memory`): equal tokens mean no other process changed anything.
        """
        if self.writer_engine is None:
            return None
        writer = self._writers.get(asyncio.get_running_loop())
        return writer.change_token() if writer is not None else None

    def group_commits(self) -> tuple[int, int]:
        """(commits, units they held) of this process's SQLite writers so far: how well the
        writes were grouped. (0, 0) on PostgreSQL."""
        writers = list(self._writers.values())
        return sum(w.commits for w in writers), sum(w.committed_units for w in writers)

    def _writer_lock(self) -> asyncio.Lock:
        """One lock per event loop (a CLI command and a test each run their own loop)."""
        loop = asyncio.get_running_loop()
        lock = self._writer_locks.get(loop)
        if lock is None:
            lock = self._writer_locks[loop] = asyncio.Lock()
        return lock

    async def probe(self, inspect: Callable[[Connection], T] | None = None) -> T | None:
        """Ask the database to answer ``SELECT 1`` (then ``inspect`` a connection) within the
        probe timeout; raise `DatabaseUnavailableError` saying why when it does not."""

        def _run(connection: Connection) -> T | None:
            connection.execute(text("SELECT 1"))
            return inspect(connection) if inspect is not None else None

        timeout = self.limits.probe_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                with translated(self.limits):
                    async with self.engine.connect() as connection:
                        return await connection.run_sync(_run)
        except TimeoutError:
            raise DatabaseUnavailableError(
                f"Database unavailable: no answer within {timeout:g} s "
                "(CHRONOSOPS_DATABASE_PROBE_TIMEOUT_SECONDS)",
                url=printable_url(self.limits.url),
            ) from None

    async def ping(self) -> bool:
        try:
            await self.probe()
        except DatabaseUnavailableError:
            return False
        return True

    async def dispose(self) -> None:
        for writer in list(self._writers.values()):
            await writer.close()
        if self.writer_engine is not None:
            await self.writer_engine.dispose()
        if self.lender is not None:
            await self.lender.dispose()
        await self.engine.dispose()


class _Turn:
    """One unit's place in the writer's queue."""

    __slots__ = ("committed", "finished", "granted")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # The writer hands over the open transaction's connection: the unit's turn.
        self.granted: asyncio.Future[AsyncConnection] = loop.create_future()
        # The unit says its block is over: True kept (savepoint released), False rolled back.
        self.finished: asyncio.Future[bool] = loop.create_future()
        # The writer says the commit holding the unit is done (or why it failed).
        self.committed: asyncio.Future[None] = loop.create_future()


class GroupCommitWriter:
    """Runs one process's SQLite write units in turn inside shared transactions (group commit).

    A unit waits for its turn, runs its block in a savepoint of the open transaction, and then
    waits for the commit. While units keep arriving (up to `GROUP_COMMIT_MAX_UNITS`), they join
    the same transaction; when none is waiting, it commits and wakes them all. Units never run
    at once, so each sees the ones before it (the dedup of a reference, the audit chain's head)
    exactly as if each had committed alone, and in the order they queued.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        wait_seconds: float,
        max_units: int = GROUP_COMMIT_MAX_UNITS,
        wal_limit_bytes: int = 0,
    ) -> None:
        self._engine = engine
        self._wait_seconds = wait_seconds
        self._max_units = max_units
        self._queue: collections.deque[_Turn] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        # Inserts of the units go straight to the open transaction's sqlite3 connection.
        self._direct = DirectWriter(engine.dialect)
        # What the kept units of the open transaction left for its commit (`at_group_commit`).
        self._at_commit: dict[str, tuple[GroupHook, list[Any]]] = {}
        # Counted for tests and the benchmark: how many commits, holding how many units.
        self.commits = 0
        self.committed_units = 0
        # The connection of the last transaction: asked for SQLite's `data_version` between them.
        self._raw: sqlite3.Connection | None = None
        path = engine.url.database
        self.checkpoints = (
            BackgroundCheckpoints(path, wal_limit_bytes=wal_limit_bytes) if path else None
        )

    def unit(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One write unit: its turn, its savepoint, and its wait for the commit that holds it."""
        return _Unit(self)

    @asynccontextmanager
    async def _session_unit(self, session: AsyncSession, turn: _Turn) -> AsyncIterator[None]:
        """A unit in SQLAlchemy's own savepoint (a connection that is not direct)."""
        kept = False
        try:
            yield
            await run_before_commit(session)
            await session.commit()
            kept = True
        except BaseException:
            with suppress_errors():
                await session.rollback()
            raise
        finally:
            with suppress_errors():
                await session.close()
            turn.finished.set_result(kept)

    async def _wait_for_turn(self, turn: _Turn) -> AsyncConnection:
        # The writer's own BEGIN waits up to the busy timeout for another process's lock and
        # then fails this turn with that reason; queueing behind this process's units gets as
        # long again before it gives up (`_give_up`). A timer on the loop rather than
        # `asyncio.timeout` around a shielded wait: the same bound, for one timer handle a unit.
        timer = asyncio.get_running_loop().call_later(2 * self._wait_seconds, self._give_up, turn)
        try:
            return await turn.granted
        except BaseException:
            if turn in self._queue:
                self._queue.remove(turn)
            elif (
                turn.granted.done()
                and not turn.granted.cancelled()
                and turn.granted.exception() is None
            ):
                # Given the turn just as this unit was cancelled: hand it straight back.
                turn.finished.set_result(False)
            raise
        finally:
            timer.cancel()

    def _give_up(self, turn: _Turn) -> None:
        """A unit that queued too long for its turn fails with why (unless its turn came)."""
        if turn.granted.done():
            return
        if turn in self._queue:
            self._queue.remove(turn)
        turn.granted.set_exception(
            DatabaseUnavailableError(
                "Database unavailable: too many writers are queued; retry shortly",
                detail="waited longer than CHRONOSOPS_DATABASE_BUSY_TIMEOUT_SECONDS="
                f"{self._wait_seconds:g} for this process's writer",
                retry_after_seconds=2,
            )
        )

    async def _run(self) -> None:
        while self._queue:
            try:
                if self.checkpoints is not None and self.checkpoints.restart_due():
                    # Between two transactions, so that no commit comes in while it copies
                    # the rest of the WAL; the units queued meanwhile join the next commit.
                    await self.checkpoints.restart()
                await self._one_commit()
            except Exception as error:  # noqa: BLE001 — handed to every unit still waiting
                while self._queue:
                    turn = self._queue.popleft()
                    if not turn.granted.done():
                        turn.granted.set_exception(error)

    async def _one_commit(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execution_options(sqlite_begin="IMMEDIATE")
            await connection.begin()
            driver = (await connection.get_raw_connection()).driver_connection
            self._direct.connection = driver.raw() if isinstance(driver, DirectConnection) else None
            self._raw = self._direct.connection
            held: list[_Turn] = []
            self._at_commit = {}
            try:
                while self._queue and len(held) < self._max_units:
                    turn = self._queue.popleft()
                    if turn.granted.done():
                        continue  # gave up while it queued
                    turn.granted.set_result(connection)
                    if await turn.finished:
                        held.append(turn)
                    if not self._queue:
                        # Let units that are ready to queue join this commit.
                        await asyncio.sleep(0)
                await self._run_at_commit(connection)
                self._direct.connection = None
                await connection.commit()
            except BaseException as error:
                self._at_commit = {}
                self._direct.connection = None
                with suppress_errors():
                    await connection.rollback()
                for turn in held:
                    if isinstance(error, Exception):
                        turn.committed.set_exception(error)
                    else:
                        turn.committed.cancel()
                raise
            self.commits += 1
            self.committed_units += len(held)
            if self.checkpoints is not None:
                self.checkpoints.after_commit()
            for turn in held:
                turn.committed.set_result(None)

    async def _run_at_commit(self, connection: AsyncConnection) -> None:
        """The group's hooks (`at_group_commit`), each once with every kept unit's items, in
        the transaction, after the last unit and before the ``COMMIT``."""
        at_commit, self._at_commit = self._at_commit, {}
        if not at_commit:
            return
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        session.info[DIRECT_WRITER] = self._direct
        try:
            for hook, items in at_commit.values():
                if items:
                    await hook(session, items)
            if _session_in_use(session):
                await session.commit()
        finally:
            with suppress_errors():
                await session.close()

    def change_token(self) -> tuple[sqlite3.Connection, int] | None:
        """(the writer's connection, its ``PRAGMA data_version``): the version moves whenever
        another connection commits to the file, never for this connection's own commits; a
        new connection (after a reconnect) makes a new token. None before the first
        transaction or once the connection is closed."""
        raw = self._raw
        if raw is None:
            return None
        try:
            (version,) = raw.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            return None
        return raw, int(version)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            with suppress_errors():
                await asyncio.wait_for(asyncio.shield(self._task), timeout=self._wait_seconds)
        if self.checkpoints is not None:
            await self.checkpoints.close()


class _WriterUnit:
    """`Database.unit_of_work` on SQLite's group-commit writer: the writer's `_Unit` inside
    `translated`, written as a class. As two nested ``asynccontextmanager``s, each unit built
    two async generators, and the event loop tracked each in a weak set until it was collected
    (~3–4% of a `respond-async` ingest's CPU, docs/benchmarks.md, twenty-seventh pass)."""

    __slots__ = ("_database", "_unit")

    def __init__(self, database: Database) -> None:
        self._database = database
        self._unit: _Unit | None = None

    async def __aenter__(self) -> AsyncSession:
        try:
            self._unit = _Unit(self._database._writer())
            return await self._unit.__aenter__()
        except TRANSLATED_ERRORS as error:
            self._raise_translated(error)
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._unit is not None, "entered first"
        try:
            await self._unit.__aexit__(kind, error, traceback)
        except TRANSLATED_ERRORS as failure:
            self._raise_translated(failure)
            raise
        if error is not None:
            # The block's own failure is read as `translated` reads every other.
            self._raise_translated(error)

    def _raise_translated(self, error: BaseException) -> None:
        """`translated`'s answer to ``error``: its application error, raised from it; nothing
        when it lets ``error`` go on as it is. (A ``with translated(…)`` in each of
        ``__aenter__`` and ``__aexit__`` is a generator's context manager twice a unit.)"""
        known = translation(error, self._database.limits)
        if known is not None:
            raise known from error


class _Unit:
    """One unit of `GroupCommitWriter` (`GroupCommitWriter.unit`).

    It waits for its turn and runs its block in a savepoint of the open transaction (plain SQL
    on the sqlite3 connection: every statement of the unit, direct or through the session, is
    inside it). The session begins a transaction (a savepoint nested in this one) only if
    something goes through it; most units never do, and skip its begin, commit and close (~9%
    of a `respond-async` ingest's CPU, docs/benchmarks.md, fifteenth pass). The block's
    failure rolls back the savepoint alone; success releases it, and the unit returns once the
    commit holding it is done."""

    __slots__ = ("_at_commit", "_fallback", "_raw", "_session", "_turn", "_writer")

    def __init__(self, writer: GroupCommitWriter) -> None:
        self._writer = writer
        self._fallback: AbstractAsyncContextManager[None] | None = None
        self._raw: sqlite3.Connection | None = None
        self._at_commit: dict[str, tuple[GroupHook, list[Any]]] = {}

    async def __aenter__(self) -> AsyncSession:
        writer = self._writer
        loop = asyncio.get_running_loop()
        turn = self._turn = _Turn(loop)
        writer._queue.append(turn)
        if writer._task is None or writer._task.done():
            writer._task = loop.create_task(writer._run())
        connection = await writer._wait_for_turn(turn)
        session = self._session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        raw = self._raw = writer._direct.connection
        if raw is None:
            # Not on a direct connection (never so today): SQLAlchemy's savepoint throughout.
            self._fallback = writer._session_unit(session, turn)
            await self._fallback.__aenter__()
            return session
        session.info[DIRECT_WRITER] = writer._direct
        session.info[_AT_GROUP_COMMIT] = self._at_commit
        try:
            _run_plain(raw, _UNIT_SAVEPOINT)
        except BaseException:
            turn.finished.set_result(False)  # nothing of this unit was written
            raise
        return session

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        turn, raw = self._turn, self._raw
        if self._fallback is not None:
            # Raises what the unit's commit raised; returns (False) when the block's error goes on.
            await self._fallback.__aexit__(kind, error, traceback)
            if error is None:
                await turn.committed
            return
        assert raw is not None, "a direct unit"
        session = self._session
        failure = error
        kept = used = False
        undo_failed: Exception | None = None
        try:
            if failure is None:
                try:
                    await run_before_commit(session)
                    used = _session_in_use(session)
                    if used:
                        await session.commit()
                    _run_plain(raw, _UNIT_RELEASE)
                    kept = True
                    # Kept: its items join the group's, after those of the units before it.
                    group = self._writer._at_commit
                    for key, (hook, items) in self._at_commit.items():
                        group.setdefault(key, (hook, []))[1].extend(items)
                except BaseException as caught:  # noqa: BLE001 — undone below, then raised
                    failure = caught
            if failure is not None:
                used = used or _session_in_use(session)
                if used:
                    with suppress_errors():
                        await session.rollback()
                try:
                    _run_plain(raw, _UNIT_ROLLBACK)
                    _run_plain(raw, _UNIT_RELEASE)
                except Exception as caught:  # noqa: BLE001 — handed to the writer, see below
                    undo_failed = caught
        finally:
            if used:
                with suppress_errors():
                    await session.close()
            if undo_failed is not None:
                # The unit could not be undone: fail the whole commit (`_one_commit` rolls the
                # transaction back) rather than commit a part of it.
                turn.finished.set_exception(undo_failed)
            else:
                turn.finished.set_result(kept)
        if failure is not None:
            if failure is error:
                return  # the block's own error goes on
            raise failure
        await turn.committed


_UNIT_SAVEPOINT = "SAVEPOINT chronosops_unit"
_UNIT_ROLLBACK = "ROLLBACK TO SAVEPOINT chronosops_unit"
_UNIT_RELEASE = "RELEASE SAVEPOINT chronosops_unit"


def _run_plain(raw: sqlite3.Connection, sql: str) -> None:
    try:
        raw.execute(sql)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, (), error, sqlite3.Error) from error


def _session_in_use(session: AsyncSession) -> bool:
    """Whether the unit's session began a transaction or holds objects to flush."""
    sync = session.sync_session
    return sync.in_transaction() or bool(sync.new) or bool(sync.deleted)


def suppress_errors() -> contextlib.suppress:
    """Cleanup after a failure must not hide the failure."""
    return contextlib.suppress(Exception)


def is_unique_violation(error: IntegrityError) -> bool:
    """True when an IntegrityError comes from a unique or primary-key constraint."""
    message = str(error.orig).lower()
    return "unique" in message or "duplicate key" in message
