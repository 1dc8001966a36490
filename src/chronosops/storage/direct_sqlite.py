"""An aiosqlite-shaped connection that runs each sqlite3 call at once, on the event loop.

aiosqlite sends every statement to a thread of its own and wakes the event loop when it is
done: a short ingest transaction of ~20 statements paid ~20 thread hops, and while one writer
waited on its hops, every other writer queued behind SQLite's lock. SQLite statements of an
ingest take microseconds and, in WAL mode with ``synchronous=NORMAL``, a commit does not wait
on the disk; run in place they cost less than the hop. SQLAlchemy's aiosqlite dialect accepts
this object (``async_creator``) because it has the same coroutine methods; they simply never
suspend, except to wait, without blocking the loop, while another process holds the write lock.

Only the writer connection is direct: readers stay on aiosqlite's threads, where a long
console query cannot stall the loop. For the same reason the writer's connection never
checkpoints the WAL itself: `BackgroundCheckpoints` does, on a thread, and starts the WAL over
between two of the writer's transactions once it has grown past its limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import structlog

log = structlog.get_logger(__name__)


def bind_plain_values_directly() -> None:
    """Register sqlite3 adapters for None, bool and bytes that return what it binds anyway.

    sqlite3 binds a str, int or float at once, but passes every other value (None, a bool,
    bytes) through its adaptation protocol first: the adapters' table, then ``__adapt__`` on
    its protocol class, which is looked up on a type and so formats an ``AttributeError`` each
    time, only to drop it and bind the value unchanged. An ingest binds ~90 such values (most
    columns of its rows are NULL): ~2.5% of a ``respond-async`` ingest's instructions under
    callgrind (docs/benchmarks.md, twenty-fifth pass). Registered, each is one C call found
    in the table: None stays None (NULL), a bool its 0 or 1 as SQLite stores it, bytes the
    same object (a BLOB). The stored values are the same; these are the only adapters for
    those types, and registering them does not affect how str, int or float bind.
    """
    # A C call that answers None for None ({}.get(None)), as a Python function would not.
    sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))
    sqlite3.register_adapter(bool, int)
    sqlite3.register_adapter(bytes, bytes)  # bytes(b) is b for a bytes object


bind_plain_values_directly()

# SQLite's own busy handler sleeps inside the call, which here would stop the event loop; the
# connection fails at once instead, and `_patiently` waits with asyncio until this deadline.
_BUSY_SLEEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return "locked" in message or "busy" in message


async def _patiently(call: Callable[[], Any], busy_timeout: float) -> Any:
    """Run ``call``; while another process holds the lock, retry until ``busy_timeout``."""
    deadline: float | None = None
    attempt = 0
    while True:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + busy_timeout
            if now >= deadline:
                raise
            await asyncio.sleep(_BUSY_SLEEPS[min(attempt, len(_BUSY_SLEEPS) - 1)])
            attempt += 1


class DirectCursor:
    def __init__(self, cursor: sqlite3.Cursor, busy_timeout: float) -> None:
        self._cursor = cursor
        self._busy_timeout = busy_timeout

    async def __aenter__(self) -> DirectCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> DirectCursor:
        cursor = self._cursor
        if parameters is None:
            await _patiently(lambda: cursor.execute(sql), self._busy_timeout)
        else:
            await _patiently(lambda: cursor.execute(sql, parameters), self._busy_timeout)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> DirectCursor:
        rows = list(parameters)
        await _patiently(lambda: self._cursor.executemany(sql, rows), self._busy_timeout)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Immediately:
    """Stands in for aiosqlite's queue to its thread: SQLAlchemy sets the isolation level by
    putting a call on it and awaiting the future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # noqa: BLE001 — handed to the awaiting caller
            future.set_exception(error)


class DirectConnection:
    """The subset of ``aiosqlite.Connection`` that SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, connection: sqlite3.Connection, busy_timeout: float) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._busy_timeout = busy_timeout
        self._tx = _Immediately()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection itself (`direct_statements` runs prepared statements on it)."""
        return self._open()

    def cursor(self) -> DirectCursor:
        return DirectCursor(self._open().cursor(), self._busy_timeout)

    async def commit(self) -> None:
        connection = self._open()
        await _patiently(connection.commit, self._busy_timeout)

    async def rollback(self) -> None:
        self._open().rollback()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._open().isolation_level = value


def direct_creator(
    path: str, busy_timeout: float, *, wal_limit_bytes: int = 0
) -> Callable[[], Any]:
    """An ``async_creator`` for `create_async_engine`: one direct connection to ``path``.

    With ``wal_limit_bytes``, its first commit after the WAL was started over truncates the
    file to that size (SQLite's ``journal_size_limit``): a WAL that once grew past it (a long
    read held its restart back) does not keep that size on disk for good.
    """

    async def create() -> DirectConnection:
        # The loop's thread is the only one that touches it, but SQLAlchemy may close a
        # connection from another (garbage collection), hence check_same_thread=False.
        connection = sqlite3.connect(path, timeout=0, check_same_thread=False)
        connection.execute("PRAGMA wal_autocheckpoint=0")
        if wal_limit_bytes > 0:
            connection.execute(f"PRAGMA journal_size_limit={int(wal_limit_bytes)}")
        return DirectConnection(connection, busy_timeout)

    return create


# How often the WAL is checkpointed at most while writes keep coming: ~3,000 pages of WAL
# (~12 MB) between checkpoints at the benchmark's rate. (Under sustained load a PASSIVE
# checkpoint never catches up, so without `BackgroundCheckpoints.restart` the WAL file itself
# grew until a lull: docs/benchmarks.md, seventeenth and eighteenth passes.)
CHECKPOINT_INTERVAL_SECONDS = 1.0

# How long the restart waits for readers still on an older snapshot (SQLite's busy handler,
# on the restart's thread) while the writer waits for it. Past it the restart gives up for
# now (the frames it could copy are copied) and is tried again after the next checkpoint.
RESTART_READER_WAIT_SECONDS = 0.05

# The checkpoint thread's nice value (Linux): a tenth or so of the loop's share of a contended
# core. A checkpoint takes 11-25 ms of CPU once a second; at the loop's priority, in a process
# on one core, it took half the core for ~50 ms from the batch of ingests in flight and set
# their p99 (c=16, wrk: 56-58 -> 44-46 ms; docs/benchmarks.md, seventeenth pass). Not 19:
# with a busy process on the core, p99 went 121-129 -> 192-226 ms (likely the loop handing the
# GIL to a starved thread and waiting for it to run); at 10 it was as good as without.
CHECKPOINT_NICENESS = 10


def _lower_this_threads_priority() -> None:
    # Only Linux gives each thread its own nice value under its native id; elsewhere the same
    # call would name a process.
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, max(current, CHECKPOINT_NICENESS))


class BackgroundCheckpoints:
    """Checkpoints the WAL of ``path`` on a thread of its own, after a commit, at most once an
    interval; and, once the WAL has grown past ``wal_limit_bytes``, starts it over between two
    of the writer's transactions (`restart`).

    SQLite's own checkpoint (``wal_autocheckpoint``, every 1,000 pages) runs inside the commit
    that crosses the mark, and the writer's calls run on the event loop: copying the pages into
    the database and syncing it stalled every request of the process, 20-75 ms under load, in one
    commit of three under wrk (docs/benchmarks.md). On a thread it overlaps the loop's work:
    sqlite3 releases the GIL around it. It is PASSIVE: it never waits for, nor blocks, readers
    or the writer, and copies what it can; the next one copies the rest. Its thread is its own,
    at a lower priority (`CHECKPOINT_NICENESS`), so that it does not share the core evenly
    with the loop.

    A PASSIVE checkpoint copies the frames that were in the WAL when it began. Under sustained
    writes more are committed while it copies, so it never finds the WAL fully copied, and
    SQLite starts the WAL over only when it is (at the next write after a checkpoint that
    copied everything, once no reader is left on the old frames): the file grew by the whole
    write rate until a lull (685 MB in 50 s of back-to-back ingests; docs/benchmarks.md,
    eighteenth pass). So when a checkpoint finds more than the limit in the WAL, `restart_due`
    says so, and the writer, before its next transaction, awaits `restart`: a RESTART
    checkpoint on another thread, at the loop's priority. No commit can come in while it
    runs, so it copies the little the PASSIVE one left (what was committed while it ran),
    syncs, and waits up to `RESTART_READER_WAIT_SECONDS` for readers of older frames; the next
    write then starts the WAL from its beginning.
    """

    def __init__(
        self,
        path: str,
        *,
        interval: float = CHECKPOINT_INTERVAL_SECONDS,
        wal_limit_bytes: int = 0,
        reader_wait: float = RESTART_READER_WAIT_SECONDS,
    ) -> None:
        self._path = path
        self._interval = interval
        self._wal_limit_bytes = wal_limit_bytes
        self._reader_wait = reader_wait
        self._last = float("-inf")
        self._running: asyncio.Future[None] | None = None
        self._connection: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._restart_connection: sqlite3.Connection | None = None
        self._restart_thread: ThreadPoolExecutor | None = None
        # The bytes of WAL the last checkpoint found (its frames, with their headers).
        self._wal_bytes = 0
        self._page_size: int | None = None
        # Counted for tests: checkpoints run, and the nice value the last one ran at (Linux);
        # restarts taken, and those that readers held back.
        self.runs = 0
        self.niceness: int | None = None
        self.restarts = 0
        self.restarts_held_back = 0

    def after_commit(self) -> None:
        if self._running is not None and not self._running.done():
            return
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        if self._thread is None:
            self._thread = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="sqlite-checkpoint",
                initializer=_lower_this_threads_priority,
            )
        self._running = asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    self._path, timeout=0, check_same_thread=False, isolation_level=None
                )
            _busy, frames, _copied = self._connection.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
            if self._page_size is None:
                (self._page_size,) = self._connection.execute("PRAGMA page_size").fetchone()
            # SQLite's WAL format: a 32-byte header, then each page behind 24 bytes of its own.
            self._wal_bytes = 32 + frames * (self._page_size + 24) if frames > 0 else 0
            self.runs += 1
            if sys.platform.startswith("linux"):
                self.niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        except sqlite3.Error as error:
            # The next commit's checkpoint tries again; until then the WAL only grows.
            log.warning("sqlite_checkpoint_failed", error=str(error), path=self._path)

    def restart_due(self) -> bool:
        """Whether the last checkpoint found the WAL past its limit (and none is running)."""
        if self._wal_limit_bytes <= 0 or self._wal_bytes <= self._wal_limit_bytes:
            return False
        return self._running is None or self._running.done()

    async def restart(self) -> None:
        """Copy the rest of the WAL and have the next write start it over. The caller (the
        writer, between two transactions) commits nothing until this returns."""
        # Once per checkpoint that found the WAL too large: if readers hold it back, the
        # next checkpoint (at most an interval later) measures again and asks again.
        self._wal_bytes = 0
        if self._restart_thread is None:
            # At the loop's priority: the writer waits for it (`CHECKPOINT_NICENESS` would
            # leave it a tenth of the core while the loop has requests to parse).
            self._restart_thread = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="sqlite-wal-restart"
            )
        started = time.monotonic()
        try:
            await asyncio.get_running_loop().run_in_executor(self._restart_thread, self._restart)
        except Exception as error:  # noqa: BLE001 — never the writer's units' failure
            log.warning("sqlite_wal_restart_failed", error=str(error), path=self._path)
            return
        log.debug(
            "sqlite_wal_restart",
            path=self._path,
            waited_ms=round((time.monotonic() - started) * 1000, 1),
            held_back=self.restarts_held_back,
        )

    def _restart(self) -> None:
        try:
            if self._restart_connection is None:
                self._restart_connection = sqlite3.connect(
                    self._path,
                    timeout=self._reader_wait,
                    check_same_thread=False,
                    isolation_level=None,
                )
            busy, _frames, _copied = self._restart_connection.execute(
                "PRAGMA wal_checkpoint(RESTART)"
            ).fetchone()
        except sqlite3.Error as error:
            log.warning("sqlite_wal_restart_failed", error=str(error), path=self._path)
            return
        if busy:
            # A reader kept an older snapshot past the wait (or another process wrote).
            self.restarts_held_back += 1
        else:
            self.restarts += 1

    async def close(self) -> None:
        if self._running is not None:
            with contextlib.suppress(Exception):
                await self._running
        for connection in (self._connection, self._restart_connection):
            if connection is not None:
                connection.close()
        self._connection = self._restart_connection = None
        for thread in (self._thread, self._restart_thread):
            if thread is not None:
                thread.shutdown(wait=False)
        self._thread = self._restart_thread = None
