"""The engine and the unit of work.

The edge (a route, a command, a job) opens a unit of work, which commits on success and rolls
back on error; services only flush. On SQLite, writing units of one process queue on an
in-process lock, then begin with ``BEGIN IMMEDIATE`` so that a writer from another process
waits on the busy timeout instead of failing when one upgrades a read lock.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000


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
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself, so the mode can be chosen per unit of work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        ensure_sqlite_directory(self.url)
        if self.dialect == "sqlite":
            # SQLite's own file locking serialises writers; the pool only saves reconnects.
            self.engine = create_async_engine(self.url, echo=echo, pool_size=pool_size)
            _configure_sqlite(self.engine)
        else:
            self.engine = create_async_engine(
                self.url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
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
        """A session in one transaction: committed if the block succeeds, rolled back if not."""
        if self.is_sqlite and write:
            # SQLite has one writer at a time. Queueing writers of this process here, in order,
            # beats SQLite's busy handler, which polls with growing sleeps and serves no one fairly.
            async with self._writer_lock(), self._transaction(write=True) as session:
                yield session
            return
        async with self._transaction(write=write) as session:
            yield session

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

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 — health reports any failure as "disconnected"
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def is_unique_violation(error: IntegrityError) -> bool:
    """True when an IntegrityError comes from a unique or primary-key constraint."""
    message = str(error.orig).lower()
    return "unique" in message or "duplicate key" in message
