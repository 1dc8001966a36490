"""PostgreSQL connections for units of work, lent without SQLAlchemy's pool.

A unit of work on PostgreSQL sends its own statements on psycopg's connection
(`storage.postgres`); what SQLAlchemy's pool added around each unit — the checkout through a
greenlet, its events, a proxy per checkout, the reset's rollback on return — cost about a
tenth of a `respond-async` ingest's CPU (docs/benchmarks.md, twenty-fifth pass). This pool
lends psycopg's ``AsyncConnection`` itself, with the guarantees SQLAlchemy's pool gave:

- a connection is opened when a unit asks and none is idle (so a database that refuses
  connections fails that unit at once, as a connect error, not after a wait), up to ``most``;
  a unit that finds all of them lent waits up to ``wait_seconds`` for one, then fails with
  SQLAlchemy's pool ``TimeoutError`` (read as `503`, the pool timeout named, as before);
- an idle connection is checked before it is lent by looking at its socket (``check``: no
  round trip); a dropped one is closed with every other idle one (a restart or an operator
  ending the backends drops them all) and a new one is opened;
- a connection that comes back broken, closed or still in a transaction is closed, never
  lent again; beyond ``keep`` idle ones, it is closed too.

psycopg_pool (installed with Procrastinate) was not used: it opens connections in background
tasks and makes a unit wait for them, so a refused or unreachable server would answer every
unit with a pool timeout after ``wait_seconds`` instead of the connect error at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


class ConnectionPool:
    """psycopg connections lent to units of work (see the module's docstring)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[AsyncConnection[Any]]],
        *,
        check: Callable[[AsyncConnection[Any]], bool],
        keep: int,
        most: int,
        wait_seconds: float,
    ) -> None:
        self._connect = connect
        self._gone = check
        self._keep = keep
        self._most = max(most, keep, 1)
        self._wait_seconds = wait_seconds
        self._idle: collections.deque[AsyncConnection[Any]] = collections.deque()
        # Connections open or being opened: lent, idle, or a slot handed to a waiter.
        self._open = 0
        # Units waiting for a connection: each future gets one, or None (a slot to open one).
        self._waiters: collections.deque[asyncio.Future[AsyncConnection[Any] | None]] = (
            collections.deque()
        )
        self._closed = False
        # Counted for tests: connections opened so far.
        self.opened = 0

    async def get(self) -> AsyncConnection[Any]:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: warm, least likely dropped
            if not self._gone(connection):
                return connection
            # The server dropped it: it restarted, or an operator ended the backends, and the
            # other idle ones went with it. Their slots are free again.
            self._close(connection)
            self._open -= 1
            while self._idle:
                self._close(self._idle.pop())
                self._open -= 1
        if self._open < self._most:
            self._open += 1
            return await self._new()
        return await self._wait()

    async def _wait(self) -> AsyncConnection[Any]:
        waiter: asyncio.Future[AsyncConnection[Any] | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self._wait_seconds):
                given = await asyncio.shield(waiter)
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                # Handed one just as this unit gave up: pass it on.
                self._hand_back(waiter.result())
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            if isinstance(error, TimeoutError):
                raise PoolTimeoutError(
                    f"no connection of {self._most} became free within {self._wait_seconds:g} s"
                ) from None
            raise
        if given is None:
            return await self._new()
        return given

    async def _new(self) -> AsyncConnection[Any]:
        """Open a connection in a slot already counted in ``_open``."""
        try:
            connection = await self._connect()
        except BaseException:
            self._free_slot()
            raise
        self.opened += 1
        return connection

    def put(self, connection: AsyncConnection[Any]) -> None:
        """Take ``connection`` back from the unit that had it."""
        reusable = (
            not self._closed
            and not connection.closed
            and not connection.broken
            and connection.pgconn.transaction_status == TransactionStatus.IDLE
        )
        if not reusable:
            self._close(connection)
            self._free_slot()
            return
        self._hand_back(connection)

    def _hand_back(self, connection: AsyncConnection[Any] | None) -> None:
        """Give a connection (or, None, its slot) to the first unit still waiting; keep or
        close it when none is."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        if connection is None:
            self._open -= 1
        elif len(self._idle) < self._keep and not self._closed:
            self._idle.append(connection)
        else:
            self._close(connection)
            self._open -= 1

    def _free_slot(self) -> None:
        self._hand_back(None)

    def _close(self, connection: AsyncConnection[Any]) -> None:
        # libpq's finish: no answer awaited, so a cancelled unit cannot leave it half closed.
        with contextlib.suppress(Exception):
            connection.pgconn.finish()

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def size(self) -> int:
        """Connections open now (lent or idle)."""
        return self._open

    async def dispose(self) -> None:
        self._closed = True
        while self._idle:
            self._close(self._idle.pop())
            self._open -= 1
