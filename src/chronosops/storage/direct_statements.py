"""Statements run straight on the SQLite writer's own ``sqlite3`` connection, compiled once.

Through SQLAlchemy a single-row insert costs ~100–200 µs of CPU on top of SQLite's few
microseconds: the execution context, the compiled-cache lookup, parameter processing, the
result object, and on the group-commit writer (`GroupCommitWriter`) the greenlet hops of the
asyncio adaptation. The writer's connection is a plain ``sqlite3.Connection`` on the event loop
(`direct_sqlite`), so an insert in one of its units can go to it directly: SQLAlchemy compiles
the statement once for the set of columns given (its SQL, the order of its parameters and each
column type's bind processor, ``UtcDateTime`` and ``JSONValue`` included), and each call only
converts the values and runs it. The rows are byte for byte what the Core insert would write.
The same holds for the few other statements of an ingest that are built once with named
parameters (`run_prepared`: the reads and the status update of the ingest's transaction),
whose rows come back through each column type's result processor.

Only the writer's units use it (their session carries `DirectWriter` in ``session.info``);
readers and any other session keep the ordinary path, except that on PostgreSQL a read built
once whose columns need no conversion goes out through `postgres.fetch` (psycopg's own send,
with the writes waiting before it), which costs the API less CPU than SQLAlchemy's execution. Errors come back as
SQLAlchemy's (``IntegrityError`` for a unique clash), as the callers expect.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Executable, Insert, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement, sqltypes
from sqlalchemy.sql.compiler import SQLCompiler

from chronosops.storage import postgres
from chronosops.storage.base import UtcDateTime

# session.info key: the unit runs on the group-commit writer's direct connection.
DIRECT_WRITER = "chronosops.direct_writer"


@dataclass(frozen=True, slots=True)
class Prepared:
    sql: str
    # (column key, its bind processor or None) in the order of the SQL's ``?``.
    parameters: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    # Each result column's processor (None: the value as SQLite gives it); () for no rows.
    results: tuple[Callable[[Any], Any] | None, ...] = ()

    # Values the statement holds itself (a LIMIT, a literal), by parameter name.
    constants: dict[str, Any] = field(default_factory=dict)
    # The values in the SQL's order, taken in one C call, and the places that need converting:
    # some 200 values an ingest, where a Python step per value showed.
    _take: Callable[[dict[str, Any]], tuple[Any, ...]] = field(
        init=False, repr=False, compare=False
    )
    _convert: tuple[tuple[int, Callable[[Any], Any]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        keys = [key for key, _ in self.parameters]
        take: Callable[[dict[str, Any]], tuple[Any, ...]]
        if not keys:
            take = lambda _values: ()  # noqa: E731
        elif len(keys) == 1:
            only = keys[0]
            take = lambda values: (values[only],)  # noqa: E731 — itemgetter of one is no tuple
        else:
            take = itemgetter(*keys)
        object.__setattr__(self, "_take", take)
        object.__setattr__(
            self,
            "_convert",
            tuple(
                (index, process)
                for index, (_, process) in enumerate(self.parameters)
                if process is not None
            ),
        )

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        try:
            taken = self._take(values)
        except KeyError:
            if not self.constants:
                raise
            taken = self._take({**self.constants, **values})
        if not self._convert:
            return taken
        converted = list(taken)
        for index, process in self._convert:
            converted[index] = process(converted[index])
        return tuple(converted)


def prepare(statement: Insert, keys: Sequence[str], dialect: Dialect) -> Prepared | None:
    """``statement`` compiled for rows with exactly ``keys``; None when SQLAlchemy would add
    anything per execution (a Python-side default of a column not given), or its parameters
    are not the plain column values."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.positiontup is None:
        return None
    names = list(compiled.positiontup)
    parameters = _plain_parameters(compiled, names)
    if sorted(names) != sorted(keys) or parameters is None:
        return None
    return Prepared(compiled.string, parameters)


def sqlite_utc_text(value: datetime | None) -> str | None:
    """`UtcDateTime`'s bind processing on SQLite in one step, the text SQLAlchemy writes: the
    instant in UTC, naive, printed as SQLite's ``DATETIME`` type prints it
    (``YYYY-MM-DD HH:MM:SS.ffffff``). Through SQLAlchemy it is three calls and a format of a
    dict per value, and an ingest binds some thirty of them."""
    if value is None:
        return None
    if type(value) is datetime and (value.tzinfo is None or type(value.tzinfo) is timezone):
        return _fixed_offset_utc_text(value)
    return _utc_text(value)


def _utc_text(value: datetime) -> str:
    # The naive UTC value's ``isoformat(" ", "microseconds")``, printed as its date and its time
    # (`time()` is naive): ``replace(tzinfo=None)`` parses nine keyword arguments, and cost more
    # than the printing (docs/benchmarks.md, twenty-fifth pass).
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.date().isoformat() + " " + value.time().isoformat("microseconds")


# An ingest binds ~29 instants, ~12 of them distinct. Remembered only where equal datetimes are
# the same instant (naive or a fixed offset; see `timestamps.format_instant`).
@lru_cache(maxsize=1024)
def _fixed_offset_utc_text(value: datetime) -> str:
    return _utc_text(value)


def _plain_parameters(
    compiled: SQLCompiler, names: Sequence[str]
) -> tuple[tuple[str, Callable[[Any], Any] | None], ...] | None:
    """Each parameter with its bind processor; None when one takes a tuple of them."""
    found: list[tuple[str, Callable[[Any], Any] | None]] = []
    sqlite = compiled.dialect.name == "sqlite"
    for name in names:
        given = compiled._bind_processors.get(name)
        if given is not None and not callable(given):
            return None
        process: Callable[[Any], Any] | None = given
        bind = compiled.binds.get(name)
        if process is not None and sqlite and bind is not None:
            if isinstance(bind.type, UtcDateTime):
                process = sqlite_utc_text
            elif _plain_json(bind.type, compiled.dialect):
                process = _json_text_or(process)
        found.append((name, process))
    return tuple(found)


def _plain_json(type_: Any, dialect: Dialect) -> bool:
    """Whether SQLAlchemy binds a value of ``type_`` as ``json.dumps`` of it, nothing more."""
    implementation = type_.dialect_impl(dialect)
    return (
        isinstance(implementation, sqltypes.JSON)
        and getattr(dialect, "_json_serializer", None) is None
        and implementation._str_impl.bind_processor(dialect) is None
    )


# ``json.dumps(value)`` with its defaults builds a C encoder on every call; an ingest binds some
# ten JSON values, most of them small, where the building cost as much as the encoding
# (2.5 µs against 0.3 for ``{}``). The same encoder, made once, writes the same text.
_JSON_MARKERS: dict[int, Any] = {}
_JSON_ENCODE = (
    c_make_encoder(
        _JSON_MARKERS,
        json.JSONEncoder().default,
        encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
    if c_make_encoder is not None
    else None
)


def _json_text_or(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLAlchemy's JSON bind processor ``process``, with the encoder made once for values it
    would hand to ``json.dumps`` as they are."""

    if _JSON_ENCODE is None:  # a Python without the C accelerator
        return process
    # What the type binds for None (JSON's ``null`` as text, or SQL NULL with ``none_as_null``)
    # is the same every time: asked once. An ingest binds None to some six JSON columns (an
    # incident's tags, custom fields and source payload, an opener's alert request …), each
    # 1.2 µs through SQLAlchemy's processor, 0.04 µs here.
    bound_none = process(None)

    def json_text(value: Any) -> Any:
        if value is None:
            return bound_none
        kind = type(value)
        if kind is dict or kind is list:
            try:
                return "".join(_JSON_ENCODE(value, 0))
            except BaseException:
                # Left half-way (a value json cannot write, with json.dumps's own error):
                # forget what it was walking.
                _JSON_MARKERS.clear()
                raise
        return process(value)

    return json_text


def prepare_statement(statement: Executable, dialect: Dialect) -> Prepared | None:
    """A statement built once with named parameters (``bindparam``), compiled for
    ``dialect``; None when it needs more than its parameters per execution (an expanding
    ``IN``, a literal rendered per call, a Python-side default)."""
    compiled = cast(ClauseElement, statement).compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    parameters = (
        _plain_parameters(compiled, compiled.positiontup)
        if compiled.positiontup is not None
        else None
    )
    if (
        parameters is None
        or compiled.positiontup is None
        or getattr(compiled, "insert_prefetch", None)
        or getattr(compiled, "update_prefetch", None)
        or getattr(compiled, "literal_execute_params", None)
        or getattr(compiled, "post_compile_params", None)
    ):
        return None
    results = tuple(
        column.type._cached_result_processor(dialect, None) for column in compiled._result_columns
    )
    constants = {
        name: compiled.binds[name].effective_value
        for name in compiled.positiontup
        if not compiled.binds[name].required
    }
    return Prepared(compiled.string, parameters, results, constants)


class DirectWriter:
    """The writer's ``sqlite3`` connection and the inserts prepared for its dialect.

    One per writer engine; the cache outlives units and connections (the SQL and processors
    depend only on the statement, the keys and the dialect)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.connection: sqlite3.Connection | None = None
        self._prepared: dict[tuple[Executable, tuple[str, ...]], Prepared | None] = {}

    def prepared(self, statement: Insert, keys: tuple[str, ...]) -> Prepared | None:
        key = (statement, keys)
        try:
            return self._prepared[key]
        except KeyError:
            found = self._prepared[key] = prepare(statement, keys, self.dialect)
            return found

    def statement(self, statement: Executable) -> Prepared | None:
        key = (statement, ())
        try:
            return self._prepared[key]
        except KeyError:
            found = self._prepared[key] = prepare_statement(statement, self.dialect)
            return found

    def execute(self, prepared: Prepared, values: dict[str, Any]) -> sqlite3.Cursor:
        assert self.connection is not None
        row = prepared.row(values)
        try:
            return self.connection.execute(prepared.sql, row)
        except sqlite3.Error as error:
            raise DBAPIError.instance(prepared.sql, row, error, sqlite3.Error) from error

    def executemany(self, prepared: Prepared, rows: list[dict[str, Any]]) -> None:
        assert self.connection is not None
        converted = [prepared.row(values) for values in rows]
        try:
            self.connection.executemany(prepared.sql, converted)
        except sqlite3.Error as error:
            raise DBAPIError.instance(prepared.sql, converted, error, sqlite3.Error) from error


async def direct_writer(session: AsyncSession) -> DirectWriter | None:
    """The unit's direct writer; None outside the writer's units. The unit opened its own
    savepoint on the connection before handing out the session, so a rollback of the unit
    undoes what is written here too."""
    writer: DirectWriter | None = session.info.get(DIRECT_WRITER)
    if writer is None or writer.connection is None:
        return None
    return writer


# Per SELECT built once: whether each of its columns comes back from psycopg as SQLAlchemy would
# hand it over (no result processor: strings, numbers, booleans, JSON) or needs only a UTC
# instant's, which `postgres.fetch` applies.
_PLAIN_ROWS: dict[Executable, bool] = {}


def _rows_as_sent(statement: Executable, session: AsyncSession) -> bool:
    plain = _PLAIN_ROWS.get(statement)
    if plain is None:
        dialect = session.get_bind().dialect
        # An UPDATE … RETURNING (a job's claim, heartbeat, finish): `postgres.fetch` applies
        # its columns' result processors itself, and its rows are its answer.
        plain = isinstance(statement, Update) and bool(statement._returning)
        if plain:
            _PLAIN_ROWS[statement] = plain
            return plain
        plain = isinstance(statement, Select)
        if isinstance(statement, Select):
            compiled = statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            # A UTC instant's processor is applied by `postgres.fetch` as SQLAlchemy would.
            plain = all(
                isinstance(column.type, UtcDateTime)
                or column.type._cached_result_processor(dialect, None) is None
                for column in compiled._result_columns
            )
        _PLAIN_ROWS[statement] = plain
    return plain


@dataclass(frozen=True, slots=True)
class Ran:
    """What a statement run by `run_prepared` gave: its rows (result-processed) and its
    row count."""

    rows: list[tuple[Any, ...]]
    rowcount: int


async def run_prepared(
    session: AsyncSession, statement: Executable, parameters: dict[str, Any]
) -> Ran:
    """Run ``statement`` (built once, its parameters named with ``bindparam``): on the
    writer's direct connection when the session is one of its units, on PostgreSQL through
    psycopg directly when it is a SELECT of plain columns, else through the session as usual.
    Either way the same SQL, the same values, the same rows."""
    writer = await direct_writer(session)
    prepared = writer.statement(statement) if writer is not None else None
    if writer is None and postgres.is_postgres(session) and _rows_as_sent(statement, session):
        # PostgreSQL: a read whose columns psycopg already returns as SQLAlchemy would (or an
        # UPDATE … RETURNING) goes out as one statement of the connection's own (with the
        # writes waiting before it, and the transaction's BEGIN), not through SQLAlchemy's
        # execution, which costs more than the round trip's own CPU.
        rows = await postgres.fetch(session, statement, parameters)
        if rows is not None:
            return Ran(rows, len(rows))
    if writer is None or prepared is None:
        result = await session.execute(statement, parameters)
        # A SELECT through the ORM session answers a buffered Result; a DML statement a
        # CursorResult, which says whether it has rows and how many it changed.
        if getattr(result, "returns_rows", True):
            rows = [tuple(row) for row in result.all()]
            return Ran(rows, len(rows))
        return Ran([], int(getattr(result, "rowcount", 0)))
    cursor = writer.execute(prepared, parameters)
    try:
        raw = cursor.fetchall() if prepared.results else []
        rowcount = cursor.rowcount
    finally:
        cursor.close()
    processors = prepared.results
    if any(processors):
        raw = [
            tuple(
                value if process is None else process(value)
                for process, value in zip(processors, row, strict=True)
            )
            for row in raw
        ]
    return Ran(raw, rowcount if not prepared.results else len(raw))
