"""The engine and the unit of work.

The edge (a route, a command, a job) opens a unit of work, which commits on success and rolls
back on error; services only flush. On SQLite, writing units of one process queue on an
in-process lock, then begin with ``BEGIN IMMEDIATE`` so that a writer from another process
waits on the busy timeout instead of failing when one upgrades a read lock.

Every wait on the database is bounded by a setting (`DatabaseSettings`): opening a connection,
checking one out of the pool, one statement on PostgreSQL, the writer's lock on SQLite, and the
probes. A unit of work that meets an unavailable database raises `DatabaseUnavailableError`.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from chronosops.config import ConfigurationError, DatabaseSettings
from chronosops.storage.failures import (
    URL_SETTING,
    DatabaseUnavailableError,
    printable_url,
    translated,
)

T = TypeVar("T")
APPLICATION_NAME = "chronosops"


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


class Database:
    def __init__(
        self,
        url: str | DatabaseSettings,
        *,
        echo: bool = False,
        pool_size: int = 10,
    ) -> None:
        self.limits = url if isinstance(url, DatabaseSettings) else DatabaseSettings(url=url)
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
                self.engine = create_async_engine(
                    self.url,
                    echo=echo,
                    pool_size=pool_size,
                    max_overflow=pool_size,
                    pool_pre_ping=True,
                    pool_timeout=self.limits.pool_timeout_seconds,
                    connect_args=connect_args(self.limits),
                )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed if the block succeeds, rolled back if not.

        Raises `DatabaseUnavailableError` when the database cannot serve it now.
        """
        with translated(self.limits):
            if self.is_sqlite and write:
                # SQLite has one writer at a time. Queueing writers of this process here, in
                # order, beats SQLite's busy handler, which polls with growing sleeps and serves
                # no one fairly.
                async with self._queued_writer(), self._transaction(write=True) as session:
                    yield session
                return
            async with self._transaction(write=write) as session:
                yield session

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
                    await session.commit()
                else:
                    await session.rollback()
            except BaseException:
                await session.rollback()
                raise

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
        await self.engine.dispose()


def is_unique_violation(error: IntegrityError) -> bool:
    """True when an IntegrityError comes from a unique or primary-key constraint."""
    message = str(error.orig).lower()
    return "unique" in message or "duplicate key" in message
