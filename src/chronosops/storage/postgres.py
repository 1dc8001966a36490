"""PostgreSQL's write path: fewer round trips per transaction.

Each statement sent through SQLAlchemy waits for its answer before the next one goes, and
costs the event loop a wake-up and the ORM/Core its per-statement work. On PostgreSQL this
module cuts both:

- **Checkout without a ping.** Instead of the pool's pre-ping (a ``SELECT 1`` round trip on
  every checkout), a pooled connection is checked by looking at its socket: an idle connection
  has nothing to read, so a readable socket means the server sent something unasked (the
  ``FATAL`` of a terminated backend, a restart's end of file) and the connection is replaced.
- **Writes that wait, then go out together** (below): a transaction's statements leave in a
  few multi-statement queries instead of one round trip each.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import re
import select
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from psycopg import (
    AsyncClientCursor,
    IsolationLevel,
    errors,
    generators,
)
from psycopg import (
    AsyncConnection as PsycopgConnection,
)
from psycopg.adapt import Transformer
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.pq.abc import PGresult
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Dialect, event
from sqlalchemy.dialects.postgresql import psycopg as sa_psycopg
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.base import Executable
from sqlalchemy.util import await_only

from chronosops.storage.pg_pool import ConnectionPool

# What SQLAlchemy's psycopg dialect logs the server's notices with (None: a version that
# logs none, and neither do `pg_pool`'s connections).
_LOG_NOTICES: Callable[[Any], None] | None = getattr(sa_psycopg, "_log_notices", None)


def socket_says_gone(driver_connection: Any) -> bool:
    """Whether an idle psycopg connection is broken, known without a round trip.

    An idle connection's socket has nothing to read; anything there was sent unasked: the error
    a terminated backend leaves, or the end of file of a server that went away.
    """
    pgconn = driver_connection.pgconn
    if driver_connection.closed or pgconn.status != 0:  # 0: CONNECTION_OK
        return True
    try:
        fd = pgconn.socket
    except Exception:  # noqa: BLE001 — no socket left: as broken as it gets
        return True
    # poll, not select: a busy server's descriptors may be numbered past select's limit.
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def check_connections_on_checkout(engine: AsyncEngine) -> None:
    """Replace a pooled connection the server has dropped before it is handed out.

    A dropped connection usually means the server restarted or an operator ended every
    backend: the pool's other idle connections are replaced too (as a failed pre-ping does).
    """

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if socket_says_gone(dbapi_connection.driver_connection):
            raise InvalidatePoolError("the server closed this pooled connection")


# --- Statements sent together -----------------------------------------------------------------
#
# A write whose answer nobody reads (a plain INSERT, the chain's advisory lock) waits in the
# connection's info instead of going out at once; it goes out with the next statement whose
# answer is needed, bound client-side into one multi-statement query: one send and one answer
# for all of them, in the order they were issued (a psycopg pipeline would still flush each
# statement on its own). Any statement SQLAlchemy sends on the connection first sends what waits (the
# ``before_cursor_execute`` hook), and so does a commit, so a transaction sees its own writes
# exactly as if each had gone out at once; a rollback drops them. A failure of a waiting write
# surfaces at the statement or commit that sent it, as the SQLAlchemy error it would have been.
#
# The first such send of a transaction carries its BEGIN too (psycopg would send it alone, a
# round trip before the first statement), and a read the transaction will need whatever it
# writes (whether a silence is active) can be asked ahead, to ride in the next send.

_WAITING = "chronosops.postgres.waiting"


@dataclass(frozen=True)
class Compiled:
    """A Core statement rendered once for psycopg: its SQL and how to bind a row's values."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    processors: Mapping[str, Callable[[Any], Any]]
    # Each result column's processor (None: the value as psycopg gives it).
    results: tuple[Callable[[Any], Any] | None, ...] = ()

    def processed(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``rows`` as SQLAlchemy would hand them over (each column's result processor)."""
        if not any(self.results):
            return rows
        return [
            tuple(
                value if process is None or value is None else process(value)
                for process, value in zip(self.results, row, strict=True)
            )
            for row in rows
        ]

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        params = {name: values.get(name, self.defaults.get(name)) for name in self.names}
        for name, process in self.processors.items():
            params[name] = process(params[name])
        return params


@dataclass
class _Waiting:
    """What waits to be sent on one connection: (sql, params, many) in issue order; and the
    reads asked ahead (`read_ahead`), then their rows once they went out, by their key."""

    statements: list[tuple[str, Any, bool]] = field(default_factory=list)
    reads: list[tuple[str, Compiled, dict[str, Any]]] = field(default_factory=list)
    answers: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    # `commit_with_next`: the next send that needs an answer ends with COMMIT.
    commit_next: bool = False

    def clear(self) -> None:
        self.statements.clear()
        self.reads.clear()
        self.answers.clear()
        self.commit_next = False


# Rendered statements, by the statement's identity and the value keys. Only statements built
# once (module-level) come here, so it stays small; past the cap, nothing more is kept.
_compiled: dict[tuple[int, tuple[str, ...]], tuple[Executable, Compiled | None]] = {}
_COMPILED_MAX = 512


def compiled(statement: Executable, keys: Iterable[str], dialect: Dialect) -> Compiled | None:
    """``statement`` rendered for the values ``keys``; None when a value would need
    SQLAlchemy's execution to fill in (a Python-side default that is not a constant)."""
    names = tuple(keys)
    cache_key = (id(statement), names)
    cached = _compiled.get(cache_key)
    if cached is not None and cached[0] is statement:
        return cached[1]
    rendered = statement.compile(dialect=dialect, column_keys=list(names))  # type: ignore[attr-defined]
    if getattr(statement, "is_update", False):
        found = _update_compiled(rendered, names, dialect)
        if len(_compiled) < _COMPILED_MAX:
            _compiled[cache_key] = (statement, found)
        return found
    table = getattr(statement, "table", None)
    defaults: dict[str, Any] = {}
    usable = not getattr(rendered, "escaped_bind_names", None)
    for name in rendered.binds:
        if name in names:
            continue
        # An INSERT renders the columns with a Python-side default too.
        column = table.c.get(name) if table is not None else None
        default = column.default if column is not None else None
        if default is not None and default.is_scalar:
            defaults[name] = default.arg
        elif column is None and rendered.binds[name].value is not None:
            defaults[name] = rendered.binds[name].value  # a literal of the statement
        else:
            usable = False
    found = (
        Compiled(
            sql=rendered.string,
            names=tuple(rendered.binds),
            defaults=defaults,
            processors=dict(getattr(rendered, "_bind_processors", {})),
            # As before for a statement whose processors cannot be known here: rows as sent.
            results=_result_processors(rendered, dialect) or (),
        )
        if usable
        else None
    )
    if len(_compiled) < _COMPILED_MAX:
        _compiled[cache_key] = (statement, found)
    return found


def _result_processors(
    rendered: Any, dialect: Dialect
) -> tuple[Callable[[Any], Any] | None, ...] | None:
    """Each result column's processor, as SQLAlchemy's execution would apply it; None when
    one depends on what the server says the column's type is (a numeric's, without it)."""
    try:
        return tuple(
            column.type._cached_result_processor(dialect, None)
            for column in getattr(rendered, "_result_columns", ())
        )
    except Exception:  # noqa: BLE001 — then SQLAlchemy's execution processes its rows
        return None


def _update_compiled(rendered: Any, names: tuple[str, ...], dialect: Dialect) -> Compiled | None:
    """An UPDATE rendered for psycopg: its parameters are the SQL's own bind names (its
    ``binds`` also holds anonymous keys no value maps to), and a value the statement fixes
    (``SET state='running'``, a ``WHERE`` literal, a ``NULL``) is a constant of it. None when
    a value would be computed per execution (an ``onupdate`` default, a callable)."""
    if getattr(rendered, "escaped_bind_names", None):
        return None
    defaults: dict[str, Any] = {}
    by_name = {name: bind for bind, name in rendered.bind_names.items()}
    for name, bind in by_name.items():
        if name in names:
            continue
        if bind.required or bind.callable is not None:
            return None
        defaults[name] = bind.value
    results = _result_processors(rendered, dialect)
    if set(names) - set(by_name) or getattr(rendered, "update_prefetch", None) or results is None:
        return None
    return Compiled(
        sql=rendered.string,
        names=tuple(by_name),
        defaults=defaults,
        processors=dict(getattr(rendered, "_bind_processors", {})),
        results=results,
    )


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@dataclass(slots=True)
class _Line:
    """Where a session's own statements go: psycopg's connection under it, the dialect that
    renders them, the dict that keeps what waits (`_Waiting`), and SQLAlchemy's connection
    when the line is one of SQLAlchemy's pool (None: a connection of `pg_pool`'s)."""

    dialect: Dialect
    info: dict[Any, Any]
    driver: Any
    connection: AsyncConnection | None = None
    sync: Connection | None = None


# session.info key: (the session's root transaction, its line as `_connection` answers).
_CONNECTION = "chronosops.postgres.connection"


async def _connection(session: AsyncSession) -> _Line:
    """Where the session's statements go, its transaction begun.

    In a `unit` the unit's connection, as it is: the transaction is the unit's own, begun by
    the first send. Otherwise through `AsyncSession.connection`, where each ask is a greenlet
    hop and a new proxy object (~10% of a worker's job outside its round trips), so the
    answer is kept for the rest of the transaction, which keeps its connection."""
    own: _Unit | None = session.info.get(_UNIT)
    if own is not None:
        return own.line
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(_CONNECTION)
    if (
        kept is not None
        and transaction is not None
        and kept[0] is transaction
        and transaction.is_active
        and not kept[1].sync.invalidated
    ):
        line: _Line = kept[1]
        return line
    connection = await session.connection()
    sync = connection.sync_connection
    assert sync is not None
    line = _sqlalchemy_line(connection, sync)
    session.info[_CONNECTION] = (session.sync_session.get_transaction(), line)
    return line


def _sqlalchemy_line(connection: AsyncConnection, sync: Connection) -> _Line:
    return _Line(connection.dialect, sync.info, sync.connection.driver_connection, connection, sync)


# session.info key: the session is a `unit`'s (its connection, which the unit's own sends use).
_UNIT = "chronosops.postgres.unit"


@dataclass(frozen=True, slots=True)
class _Unit:
    line: _Line


def _session_in_use(session: AsyncSession) -> bool:
    """Whether a statement went through the session (it began a transaction of SQLAlchemy's
    on the unit's connection) or it holds ORM objects to flush."""
    sync = session.sync_session
    return sync.in_transaction() or bool(sync.new) or bool(sync.deleted) or bool(sync.dirty)


class UnitSession(AsyncSession):
    """A `unit`'s session: its commit and rollback end the unit's own transaction too (the
    statements sent here), whether or not one went through the session."""

    async def commit(self) -> None:
        own: _Unit | None = self.info.get(_UNIT)
        if own is None:
            await super().commit()
            return
        if not _session_in_use(self):
            await _finish(own.line, commit=True)
            return
        # What waits and the COMMIT in one send when the ORM has nothing to flush; the
        # session's commit then ends its own bookkeeping (psycopg sends nothing more).
        await _commit_waiting(self)
        await super().commit()
        # SQLAlchemy's transaction may hold no connection (a savepoint begun when no
        # statement had gone through the session yet: it is never sent); its commit then sent
        # nothing, and the unit's own transaction, begun by its sends, is still open.
        await _finish(own.line, commit=True)

    async def rollback(self) -> None:
        own: _Unit | None = self.info.get(_UNIT)
        if own is not None and not _session_in_use(self):
            await _finish(own.line, commit=False)
            return
        await super().rollback()
        if own is not None:
            await _finish(own.line, commit=False)


@asynccontextmanager
async def unit(
    engine: AsyncEngine,
    *,
    before_commit: Callable[[AsyncSession], Awaitable[None]],
    write: bool = True,
) -> AsyncIterator[AsyncSession]:
    """A unit of work on one connection of SQLAlchemy's pool, without SQLAlchemy's session
    transaction unless a statement goes through the session (see `_unit_on`).

    `lent_unit` is the same unit on a connection of `pg_pool`'s, without SQLAlchemy's pool.
    """
    async with engine.connect() as connection:
        sync = connection.sync_connection
        assert sync is not None
        session = UnitSession(bind=connection, expire_on_commit=False)
        async with _unit_on(
            session, _sqlalchemy_line(connection, sync), before_commit=before_commit, write=write
        ):
            yield session


def connector(engine: AsyncEngine, arguments: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
    """Open a psycopg connection as ``engine``'s dialect would (its URL's arguments, its
    adapters, its notice handler) with ``arguments`` (the timeouts, the application name)."""
    dialect = engine.sync_engine.dialect
    positional, options = dialect.create_connect_args(engine.sync_engine.url)
    options = {**options, **arguments}

    async def connect() -> PsycopgConnection[Any]:
        connection: PsycopgConnection[Any] = await PsycopgConnection.connect(*positional, **options)
        if _LOG_NOTICES is not None:
            connection.add_notice_handler(_LOG_NOTICES)
        return connection

    return connect


# The unit whose connection of `pg_pool`'s SQLAlchemy may borrow (`_LentPool`), if any.
_LENT: contextvars.ContextVar[_Line | None] = contextvars.ContextVar(
    "chronosops.postgres.lent", default=None
)
# psycopg connections of `pg_pool`'s: SQLAlchemy borrows them, never closes them.
_POOLED: weakref.WeakSet[Any] = weakref.WeakSet()


class Lender:
    """Units of work on connections of `pg_pool`'s, and SQLAlchemy's way onto them.

    A statement that goes through a unit's session (the ORM, a statement `compiled` cannot
    render) runs on the unit's own connection, in its transaction, through ``engine``: an
    engine of SQLAlchemy's whose pool lends the connection of the unit that asks
    (`_LentPool`), never opens one of its own for it, and closes none of them.
    """

    def __init__(
        self, url: str, pool: ConnectionPool, connect: Callable[[], Awaitable[Any]]
    ) -> None:
        self.pool = pool

        async def lent_or_new() -> Any:
            line = _LENT.get()
            return line.driver if line is not None else await connect()

        self.engine = create_async_engine(
            url,
            poolclass=_LentPool,
            async_creator=lent_or_new,
            # The unit's transaction is the unit's to end: no rollback when SQLAlchemy is done.
            pool_reset_on_return=None,
        )
        send_waiting_first(self.engine)
        self._ready = False
        self._readying: asyncio.Lock | None = None

    @asynccontextmanager
    async def unit(
        self,
        dialect: Dialect,
        *,
        before_commit: Callable[[AsyncSession], Awaitable[None]],
        write: bool = True,
    ) -> AsyncIterator[AsyncSession]:
        """`unit` on a connection of `pg_pool`'s."""
        if not self._ready:
            await self.ready()
        driver = await self.pool.get()
        _POOLED.add(driver)
        line = _Line(dialect, {}, driver)
        lent = _LENT.set(line)
        try:
            session = UnitSession(bind=self.engine, expire_on_commit=False)
            async with _unit_on(session, line, before_commit=before_commit, write=write):
                yield session
        finally:
            _LENT.reset(lent)
            if not driver.closed and driver.pgconn.transaction_status != TransactionStatus.IDLE:
                # Left in a transaction (a cancelled unit): never lent again.
                driver.pgconn.finish()
            self.pool.put(driver)

    async def ready(self) -> None:
        """Let SQLAlchemy's engine make its first connection — where it asks the server about
        itself and rolls back — on a connection of its own, before any unit's transaction."""
        if self._readying is None:
            self._readying = asyncio.Lock()
        # One first connection, however many units start at once: the others wait for it.
        async with self._readying:
            if self._ready:
                return
            lent = _LENT.set(None)
            try:
                async with self.engine.connect():
                    pass
            finally:
                _LENT.reset(lent)
            self._ready = True

    async def dispose(self) -> None:
        await self.pool.dispose()
        await self.engine.dispose()


class _LentPool(NullPool):
    """SQLAlchemy's pool of `Lender.engine`: each checkout is the connection of the unit that
    asks (its `_Waiting` shared, so SQLAlchemy's statements send the unit's first)."""

    def _do_get(self) -> Any:
        record = self._create_connection()
        line = _LENT.get()
        if line is not None:
            record.info[_WAITING] = _waiting(line)
        return record

    def _close_connection(self, connection: Any, *, terminate: bool = False) -> None:
        driver = getattr(connection, "driver_connection", None)
        if driver is not None and driver in _POOLED:
            # The unit's: it goes back to `pg_pool` when the unit ends. SQLAlchemy's dialect
            # added its notice handler when it took it; one is enough.
            if _LOG_NOTICES is not None:
                with contextlib.suppress(ValueError):
                    driver.remove_notice_handler(_LOG_NOTICES)
            return
        super()._close_connection(connection, terminate=terminate)


@asynccontextmanager
async def _unit_on(
    session: AsyncSession,
    line: _Line,
    *,
    before_commit: Callable[[AsyncSession], Awaitable[None]],
    write: bool,
) -> AsyncIterator[None]:
    """The unit's transaction on ``line``, its session ``session``.

    The statements sent here (`defer`, `fetch`, `read_ahead`) carry the transaction's BEGIN
    in their first send and its COMMIT in the last; a session's begin, commit and close, and
    the connection's isolation level set and reset around a read, each cost greenlet hops and
    SQLAlchemy's bookkeeping, as much CPU as the unit's own round trips. A statement that
    does go through the session (the ORM, a statement `compiled` cannot render) begins
    SQLAlchemy's transaction on the same connection (psycopg sends no second BEGIN inside
    ours), and the unit then commits and closes the session as before. ``write=False``:
    every statement is a transaction of its own (autocommit, for reads that share no
    snapshot).
    """
    driver = line.driver
    session.info[_UNIT] = _Unit(line)
    if not write:
        # psycopg then begins nothing, for the sends here or SQLAlchemy's; restored
        # below, before the connection goes back to the pool.
        driver._autocommit = True
    try:
        yield
        if write:
            await before_commit(session)
            await session.commit()
        else:
            await session.rollback()
    except BaseException:
        with contextlib.suppress(Exception):
            await session.rollback()
        raise
    finally:
        if not write and not driver.closed:
            driver._autocommit = False
        if _session_in_use(session) or session.sync_session.identity_map:
            with contextlib.suppress(Exception):
                await session.close()


async def _finish(line: _Line, *, commit: bool) -> None:
    """End a `unit`'s own transaction: what waits and the COMMIT in one send (``commit``), or
    a rollback (what waits is dropped)."""
    driver = line.driver
    waiting = _line_waiting(line)
    if not commit:
        if waiting is not None:
            waiting.clear()
        if not driver.closed and driver.pgconn.transaction_status != TransactionStatus.IDLE:
            await driver.rollback()
        return
    statements: list[tuple[str, Any, bool]] = []
    if waiting is not None:
        statements, waiting.statements = waiting.statements, []
        waiting.reads.clear()
        waiting.answers.clear()
        waiting.commit_next = False
    if driver.pgconn.transaction_status == TransactionStatus.INERROR:
        # A statement of the unit failed and its error was caught: a COMMIT would end the
        # transaction as a rollback without a word, so the unit fails instead.
        error = errors.InFailedSqlTransaction("the unit's transaction failed earlier")
        raise await _as_sqlalchemy_error(line, error, "COMMIT") from error
    if statements:
        await _send(line, statements, answering=[], commit=True)
    elif driver.pgconn.transaction_status != TransactionStatus.IDLE:
        try:
            await driver.commit()
        except Exception as error:
            raise await _as_sqlalchemy_error(line, error, "COMMIT") from error


def _line_waiting(line: _Line) -> _Waiting | None:
    """What waits on a live line (see `_waiting_if_any`)."""
    if line.sync is not None:
        return _waiting_if_any(line.sync)
    if line.driver.closed:
        return None
    waiting: _Waiting | None = line.info.get(_WAITING)
    return waiting


def _waiting(line: _Line) -> _Waiting:
    waiting: _Waiting | None = line.info.get(_WAITING)
    if waiting is None:
        waiting = line.info[_WAITING] = _Waiting()
    return waiting


async def defer(session: AsyncSession, statement: Executable, rows: list[dict[str, Any]]) -> bool:
    """Queue ``statement`` for each of ``rows`` (one executemany for several) on the session's
    PostgreSQL connection, to go out with the next statement that needs an answer.

    False when it cannot be queued (the caller executes it through SQLAlchemy instead)."""
    if not rows:
        return True
    line = await _connection(session)
    rendered = compiled(statement, rows[0].keys(), line.dialect)
    if rendered is None or any(row.keys() != rows[0].keys() for row in rows[1:]):
        return False
    waiting = _waiting(line)
    if len(rows) == 1:
        waiting.statements.append((rendered.sql, rendered.bind(rows[0]), False))
    else:
        waiting.statements.append((rendered.sql, [rendered.bind(row) for row in rows], True))
    return True


async def fetch(
    session: AsyncSession, statement: Executable, values: dict[str, Any]
) -> list[tuple[Any, ...]] | None:
    """Run ``statement`` after whatever waits, in one round trip; its rows as plain tuples
    (no result processing: for columns psycopg already returns as wanted).

    None when the statement cannot be rendered here (the caller runs it through SQLAlchemy).
    """
    found = await fetch_each(session, [(statement, values)])
    return found[0] if found is not None else None


async def fetch_each(
    session: AsyncSession, statements: list[tuple[Executable, dict[str, Any]]]
) -> list[list[tuple[Any, ...]]] | None:
    """Run ``statements`` in order after whatever waits, in one round trip; the rows of each.

    None when one cannot be rendered here (nothing was sent: the caller runs them through
    SQLAlchemy)."""
    line = await _connection(session)
    rendered: list[tuple[str, dict[str, Any]]] = []
    forms: list[Compiled] = []
    for statement, values in statements:
        found = compiled(statement, values.keys(), line.dialect)
        if found is None:
            return None
        rendered.append((found.sql, found.bind(values)))
        forms.append(found)
    waiting = _waiting(line)
    before, waiting.statements = waiting.statements, []
    ahead, waiting.reads = waiting.reads, []
    commit, waiting.commit_next = waiting.commit_next, False
    answers = await _send(
        line,
        before,
        answering=[(form.sql, params) for _, form, params in ahead] + rendered,
        commit=commit,
    )
    for (key, form, _), rows in zip(ahead, answers, strict=False):
        waiting.answers[key] = form.processed(rows)
    return [form.processed(rows) for form, rows in zip(forms, answers[len(ahead) :], strict=True)]


async def read_ahead(
    session: AsyncSession, key: str, statement: Executable, values: dict[str, Any]
) -> bool:
    """Ask ``statement`` now, to go out with the next statement of this transaction whose
    answer is needed (in its round trip, after the writes waiting before it); its rows are
    then `answer_ahead(session, key)`.

    For a read the transaction will probably need, whose answer does not depend on what the
    transaction writes before it is read. False when it cannot be queued."""
    line = await _connection(session)
    rendered = compiled(statement, values.keys(), line.dialect)
    if rendered is None:
        return False
    _waiting(line).reads.append((key, rendered, rendered.bind(values)))
    return True


async def answer_ahead(session: AsyncSession, key: str) -> list[tuple[Any, ...]] | None:
    """The rows of the read asked ahead as ``key``, once (None when it has not gone out: it
    was not asked, or nothing needing an answer was sent since)."""
    if _UNIT not in session.info and not session.in_transaction():
        return None
    line = await _connection(session)
    waiting: _Waiting | None = line.info.get(_WAITING)
    return waiting.answers.pop(key, None) if waiting is not None else None


async def commit_with_next(session: AsyncSession) -> bool:
    """End the transaction with its next statement that needs an answer: that send carries
    the COMMIT (one round trip fewer), and what the unit does after it runs in a transaction
    of its own, which its commit ends. For a unit whose last statement it is (a job's claim,
    its reads asked ahead). False on another database (nothing changes)."""
    if not is_postgres(session):
        return False
    _waiting(await _connection(session)).commit_next = True
    return True


async def commit(session: AsyncSession) -> None:
    """Send what waits and COMMIT in one round trip, when the session has nothing of the
    ORM's own left to flush; SQLAlchemy's commit that follows then has nothing to send."""
    await _commit_waiting(session)


async def _commit_waiting(session: AsyncSession) -> None:
    if session.new or session.dirty or session.deleted or not session.in_transaction():
        return
    line = await _connection(session)
    waiting: _Waiting | None = line.info.get(_WAITING)
    if waiting is None or not waiting.statements:
        return
    statements, waiting.statements = waiting.statements, []
    await _send(line, statements, answering=[], commit=True)


def _script(driver: Any, statements: list[tuple[str, Any, bool]]) -> list[str]:
    """Each statement with its values bound in, so that all of them go out as one query: one
    send, one wake-up of the server, however many statements."""
    literals = _Literals(driver)
    parts: list[str] = []
    for sql, params, many in statements:
        if many:
            parts.extend(literals.bound(sql, row) for row in params)
        else:
            parts.append(literals.bound(sql, params))
    return parts


# A statement's SQL cut at its placeholders, by its text: its pieces of SQL and, between them,
# the names whose values go there (None: psycopg binds it, a form this does not cut).
_templates: dict[str, tuple[tuple[str, ...], tuple[str, ...]] | None] = {}
_TEMPLATES_MAX = 512
_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%%|%")


def _template(sql: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if sql in _templates:
        return _templates[sql]
    pieces: list[str] = []
    names: list[str] = []
    text: list[str] = []
    start = 0
    found: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    for match in _PLACEHOLDER.finditer(sql):
        text.append(sql[start : match.start()])
        start = match.end()
        if match.group(1) is not None:
            pieces.append("".join(text))
            text = []
            names.append(match.group(1))
        elif match.group(0) == "%%":
            text.append("%")
        else:
            break  # a lone % (a positional %s, a typo): psycopg's parser decides
    else:
        text.append(sql[start:])
        pieces.append("".join(text))
        found = (tuple(pieces), tuple(names))
    if len(_templates) < _TEMPLATES_MAX:
        _templates[sql] = found
    return found


def _text(value: str) -> str | None:
    # With standard_conforming_strings on (checked per connection), a quote is the only
    # character a string literal escapes; a NUL cannot be stored at all (psycopg says so).
    return None if "\x00" in value else "'" + value.replace("'", "''") + "'"


def _integer(value: int) -> str:
    # A space before a minus, as psycopg writes it: "x- -1" must not read as a comment.
    return str(value) if value >= 0 else " " + str(value)


def _instant(value: datetime) -> str | None:
    return "'" + value.isoformat() + "'::timestamptz" if value.tzinfo is UTC else None


def _jsonb(value: Jsonb) -> str | None:
    # The engine sets no JSON serializer of its own: psycopg would dump with json.dumps too.
    if value.dumps is not None:
        return None
    text = _text(json.dumps(value.obj))
    return None if text is None else text + "::jsonb"


_LITERALS: dict[type, Callable[[Any], str | None]] = {
    str: _text,
    int: _integer,
    bool: lambda value: "true" if value else "false",
    type(None): lambda _value: "NULL",
    datetime: _instant,
    Jsonb: _jsonb,
}


class _Literals:
    """Values bound into a statement's text as SQL literals (client-side binding).

    psycopg's own binding (``mogrify``) asks its adapters for every value, in Python, one
    generator step and dumper lookup each: ~15% of a synchronous ingest's CPU for its ~200
    values. The values an ingest writes are of a few plain types, each written here as the
    literal psycopg would send for it (the same value on the server); any other type, or any
    connection not on standard-conforming strings, is left to psycopg's adapters.
    """

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.plain = driver.pgconn.parameter_status(b"standard_conforming_strings") == b"on"
        self._adapted: Any = None

    def bound(self, sql: str, params: Mapping[str, Any]) -> str:
        template = _template(sql) if self.plain else None
        if template is None:
            return str(AsyncClientCursor(self.driver).mogrify(sql, params))
        pieces, names = template
        parts = [pieces[0]]
        for name, piece in zip(names, pieces[1:], strict=True):
            value = params[name]
            render = _LITERALS.get(type(value))
            literal = render(value) if render is not None else None
            parts.append(literal if literal is not None else self._literal(value))
            parts.append(piece)
        return "".join(parts)

    def _literal(self, value: Any) -> str:
        # An enum member (an audit event's type, its entity's type: two an ingest) is written
        # by psycopg's adapter the same way every time on a connection of the same encoding:
        # asked once, not through a new Transformer each send (~10 µs a value in the loop).
        key = (type(value), value, self.driver.info.encoding) if isinstance(value, Enum) else None
        if key is not None and (known := _ENUM_LITERALS.get(key)) is not None:
            return known
        if self._adapted is None:
            self._adapted = Transformer.from_context(self.driver)
        literal: str = self._adapted.as_literal(value).decode(self.driver.info.encoding)
        if key is not None and len(_ENUM_LITERALS) < _ENUM_LITERALS_MAX:
            _ENUM_LITERALS[key] = literal
        return literal


# Enum members' literals by (their class, the member, the connection's encoding), as psycopg's
# adapters wrote them (a str enum's members compare equal to other classes' equal strings).
_ENUM_LITERALS: dict[tuple[type, Enum, str], str] = {}
_ENUM_LITERALS_MAX = 1024


async def _send(
    line: _Line,
    statements: list[tuple[str, Any, bool]],
    *,
    answering: list[tuple[str, dict[str, Any]]],
    commit: bool,
) -> list[list[tuple[Any, ...]]]:
    """``statements`` (their answers unread), then ``answering`` (the rows of each returned),
    then COMMIT if asked, as one query."""
    script = ""
    driver = line.driver
    try:
        begin = _begin_command(driver)
        parts = [begin] if begin else []
        parts.extend(
            _script(driver, [*statements, *((sql, params, False) for sql, params in answering)])
        )
        if commit:
            parts.append("COMMIT")
        script = ";\n".join(parts)
        results = await _run(driver, script)
        if not answering:
            return []
        first = len(parts) - len(answering) - commit
        return [_rows(driver, result) for result in results[first : first + len(answering)]]
    except Exception as error:
        raise await _as_sqlalchemy_error(line, error, script) from error


async def _run(driver: Any, script: str) -> list[PGresult]:
    """Send ``script`` (bound already: sent as it is, a % stays a %) and wait for every
    result, as psycopg's cursor would, without the cursor: its prepared-statement
    bookkeeping, row maker and result-set walk cost more in Python than the round trip."""
    pgconn = driver.pgconn
    encoding = driver.info.encoding
    # BEGIN is the script's own (`_begin_command`), where a cursor would send it alone first.
    pgconn.send_query(script.encode(encoding))
    results: list[PGresult] = await driver.wait(generators.execute(pgconn))
    for result in results:
        if result.status == ExecStatus.FATAL_ERROR:
            raise errors.error_from_result(result, encoding=encoding)
    return results


def _rows(driver: Any, result: PGresult) -> list[tuple[Any, ...]]:
    """A result's rows as tuples, each value loaded as psycopg's cursor loads it."""
    if not result.ntuples:
        return []
    loader = Transformer.from_context(driver)
    loader.set_pgresult(result)
    rows: list[tuple[Any, ...]] = loader.load_rows(0, result.ntuples, tuple)
    return rows


def _begin_command(driver: Any) -> str | None:
    """The BEGIN psycopg would send before the next statement (its isolation level, read-only
    and deferrable modes spelt as psycopg spells them); None when it would send none."""
    if driver.autocommit or driver.pgconn.transaction_status != TransactionStatus.IDLE:
        return None
    parts = ["BEGIN"]
    if driver.isolation_level is not None:
        parts.append(
            "ISOLATION LEVEL " + IsolationLevel(driver.isolation_level).name.replace("_", " ")
        )
    if driver.read_only is not None:
        parts.append("READ ONLY" if driver.read_only else "READ WRITE")
    if driver.deferrable is not None:
        parts.append("DEFERRABLE" if driver.deferrable else "NOT DEFERRABLE")
    return " ".join(parts)


async def _as_sqlalchemy_error(line: _Line, error: Exception, script: str) -> Exception:
    """The error SQLAlchemy would have raised for it (so `translated` and callers that catch
    IntegrityError see what they expect); a lost connection is invalidated (one of `pg_pool`'s
    is closed when it goes back)."""
    dialect = line.dialect
    base = dialect.loaded_dbapi.Error
    if not isinstance(error, base):
        return error
    if line.connection is not None and line.sync is not None:
        lost = dialect.is_disconnect(error, line.sync.connection.dbapi_connection, None)
        if lost:
            with contextlib.suppress(Exception):
                await line.connection.invalidate(error)
    else:
        lost = bool(line.driver.closed or line.driver.broken)
    return DBAPIError.instance(
        script[:2000], None, error, base, connection_invalidated=lost, dialect=dialect
    )


async def _send_waiting(connection: Connection) -> None:
    waiting: _Waiting | None = connection.info.get(_WAITING)
    if waiting is None or not waiting.statements:
        return
    statements, waiting.statements = waiting.statements, []
    driver = connection.connection.driver_connection
    assert driver is not None
    begin = _begin_command(driver)
    await _run(
        driver,
        ";\n".join([begin, *_script(driver, statements)] if begin else _script(driver, statements)),
    )


def _waiting_if_any(connection: Connection) -> _Waiting | None:
    """What waits on a live connection. An invalidated one has nothing left to send (its
    record's info is cleared before it connects again) and must not be touched: asking it
    for its info would try to reconnect inside the failed transaction."""
    if connection.invalidated or connection.closed:
        return None
    waiting: _Waiting | None = connection.info.get(_WAITING)
    return waiting


def send_waiting_first(engine: AsyncEngine) -> None:
    """Whatever SQLAlchemy sends on a connection, its commit included, goes after the writes
    waiting on it; a rollback drops them."""
    sync_engine = engine.sync_engine

    def _send_first(connection: Connection, *_args: Any) -> None:
        waiting = _waiting_if_any(connection)
        if waiting is None or not waiting.statements:
            return
        dialect = connection.dialect
        try:
            # SQLAlchemy's own code runs in a greenlet here: wait for the driver inline.
            await_only(_send_waiting(connection))
        except dialect.loaded_dbapi.Error as error:
            dbapi_connection = connection.connection.dbapi_connection
            lost = dialect.is_disconnect(error, dbapi_connection, None)
            if lost:
                connection.invalidate(error)
            raise DBAPIError.instance(
                None, None, error, dialect.loaded_dbapi.Error, connection_invalidated=lost
            ) from error

    def _drop(connection: Connection) -> None:
        waiting = _waiting_if_any(connection)
        if waiting is not None:
            waiting.clear()

    def _drop_on_reset(_dbapi_connection: Any, record: Any, _reset_state: Any) -> None:
        waiting: _Waiting | None = record.info.get(_WAITING)
        if waiting is not None:
            waiting.clear()

    def _forget_reads(connection: Connection) -> None:
        # Reads asked ahead belong to the transaction that asked: none outlives its commit,
        # nor a commit asked of a next send that never came.
        waiting = _waiting_if_any(connection)
        if waiting is not None:
            waiting.reads.clear()
            waiting.answers.clear()
            waiting.commit_next = False

    event.listen(sync_engine, "before_cursor_execute", _send_first)
    event.listen(sync_engine, "commit", _send_first)
    event.listen(sync_engine, "commit", _forget_reads)
    event.listen(sync_engine, "rollback", _drop)
    event.listen(sync_engine.pool, "reset", _drop_on_reset)
