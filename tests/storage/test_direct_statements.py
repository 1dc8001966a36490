"""SQLite's writer runs an ingest's hot statements straight on its sqlite3 connection: what it
stores and reads back is what SQLAlchemy would have stored and read, and a unit's rollback
still undoes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, bindparam, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from chronosops.bootstrap import Services
from chronosops.evidence.tables import EvidenceBundle
from chronosops.storage import add_unless_taken, insert_or_ignore, insert_row, run_prepared
from chronosops.storage.base import UtcDateTime
from chronosops.storage.direct_statements import DIRECT_WRITER, DirectWriter, sqlite_utc_text
from tests.fixtures.database import on_postgres
from tests.fixtures.rows import bundle_row

BUNDLE_BY_ID = select(EvidenceBundle.created_at, EvidenceBundle.content).where(
    EvidenceBundle.id == bindparam("bundle_id")
)


def bundle(bundle_id: str) -> dict[str, Any]:
    return bundle_row(
        bundle_id,
        content={"artifacts": [{"value": 1.5, "none": None}], "é": "ü"},
        sources=["logs"],
        artifact_count=1,
        synthetic=True,
        # Not UTC: stored as UTC, as UtcDateTime converts it.
        created_at=datetime(2026, 1, 1, 12, 30, 1, 123456, tzinfo=timezone(timedelta(hours=2))),
        created_by=None,
    )


async def stored(services: Services, bundle_id: str) -> tuple[Any, ...] | None:
    async with services.database.unit_of_work(write=False) as session:
        row = (
            await session.execute(
                text("SELECT * FROM evidence_bundle WHERE id = :id"), {"id": bundle_id}
            )
        ).first()
    return tuple(row)[1:] if row is not None else None


async def test_the_writers_units_go_straight_to_sqlite(services: Services) -> None:
    async with services.database.unit_of_work() as session:
        direct = session.info.get(DIRECT_WRITER)
    assert (direct is None) == on_postgres()


async def test_a_row_inserted_past_sqlalchemy_is_stored_as_sqlalchemy_stores_it(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        assert await insert_or_ignore(session, EvidenceBundle, bundle("direct")) is True
        await insert_row(session, EvidenceBundle, bundle("direct-2"))
        # The ordinary path, for comparison: a Core insert through the session.
        await session.execute(insert(cast(Table, EvidenceBundle.__table__)), bundle("through-core"))
    through_core = await stored(services, "through-core")
    assert through_core is not None
    assert await stored(services, "direct") == through_core
    assert await stored(services, "direct-2") == through_core


async def test_rows_read_past_sqlalchemy_come_back_through_the_column_types(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("read-me"))
        in_writer = await run_prepared(session, BUNDLE_BY_ID, {"bundle_id": "read-me"})
    async with services.database.unit_of_work(write=False) as session:
        in_reader = await run_prepared(session, BUNDLE_BY_ID, {"bundle_id": "read-me"})
    expected = (
        datetime(2026, 1, 1, 10, 30, 1, 123456, tzinfo=UTC),
        {"artifacts": [{"value": 1.5, "none": None}], "é": "ü"},
    )
    assert in_writer.rows == in_reader.rows == [expected]


async def test_a_unit_that_fails_after_inserting_past_sqlalchemy_leaves_nothing(
    services: Services,
) -> None:
    async def insert_then_fail() -> None:
        async with services.database.unit_of_work() as session:
            await insert_row(session, EvidenceBundle, bundle("rolled-back"))
            raise RuntimeError("after the insert")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("kept"))
    assert await stored(services, "rolled-back") is None
    assert await stored(services, "kept") is not None


async def test_a_taken_key_past_sqlalchemy_raises_sqlalchemys_integrity_error(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("taken"))

    async def insert_again() -> None:
        async with services.database.unit_of_work() as session:
            await insert_row(session, EvidenceBundle, bundle("taken"))

    with pytest.raises(IntegrityError):
        await insert_again()
    async with services.database.unit_of_work() as session:
        assert await insert_or_ignore(session, EvidenceBundle, bundle("taken")) is False


async def test_a_nested_savepoint_that_loses_its_key_keeps_the_rest_of_the_unit(
    services: Services,
) -> None:
    """The writer's savepoints run as plain SQL on its connection: a nested one (an ORM row
    that loses its key) rolls back alone, and its unit's other rows are committed."""
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("first"))
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("beside"))
        assert await add_unless_taken(session, EvidenceBundle(**bundle("first"))) is False
        assert await add_unless_taken(session, EvidenceBundle(**bundle("second"))) is True
    for kept in ("first", "beside", "second"):
        assert await stored(services, kept) is not None


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 1, 1, 12, 30, 1, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 1, 1, 12, 30, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 30, 1, 7),  # noqa: DTZ001 — naive is taken as UTC
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
        None,
    ],
)
def test_a_utc_instant_is_bound_on_sqlite_in_one_step_as_sqlalchemy_binds_it(
    instant: datetime | None,
) -> None:
    dialect = sqlite.dialect()
    through_sqlalchemy = UtcDateTime()._cached_bind_processor(dialect)
    assert through_sqlalchemy is not None
    writer = DirectWriter(dialect)
    prepared = writer.prepared(insert(cast(Table, EvidenceBundle.__table__)), ("id", "created_at"))
    assert prepared is not None
    assert dict(prepared.parameters)["created_at"] is sqlite_utc_text
    assert prepared.row({"id": "b", "created_at": instant}) == ("b", through_sqlalchemy(instant))


def test_each_of_an_ambiguous_wall_times_instants_is_bound_as_its_own_utc_text() -> None:
    # 02:30 on the night clocks go back happens twice in Berlin; the two compare equal.
    first = datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    second = first.replace(fold=1)
    through_sqlalchemy = UtcDateTime()._cached_bind_processor(sqlite.dialect())
    assert through_sqlalchemy is not None
    assert first == second
    assert [sqlite_utc_text(first), sqlite_utc_text(second)] == [
        "2024-10-27 00:30:00.000000",
        "2024-10-27 01:30:00.000000",
    ]
    assert [sqlite_utc_text(first), sqlite_utc_text(second)] == [
        through_sqlalchemy(first),
        through_sqlalchemy(second),
    ]


def test_the_same_instant_at_another_offset_is_bound_as_the_same_utc_text_after_either() -> None:
    utc = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    plus_two = datetime(2024, 1, 15, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert [sqlite_utc_text(plus_two), sqlite_utc_text(utc)] == ["2024-01-15 10:00:00.000000"] * 2
    naive = datetime(2024, 1, 15, 12, 0)  # noqa: DTZ001 — naive is taken as UTC
    assert sqlite_utc_text(naive) == "2024-01-15 12:00:00.000000"


@pytest.mark.parametrize(
    "document",
    [
        {"nested": {"list": [1, 2.5, None, True, 'é\n"\\']}, "emoji": "\U0001f600", "big": 1e300},
        [{"b": 1, "a": 2}, [], {}],
        {},
        [],
        {"not a number": float("nan"), "too big": float("inf")},
        None,
    ],
)
def test_a_json_value_is_bound_on_sqlite_as_the_text_sqlalchemy_binds(document: Any) -> None:
    dialect = sqlite.dialect()
    writer = DirectWriter(dialect)
    prepared = writer.prepared(insert(cast(Table, EvidenceBundle.__table__)), ("id", "content"))
    assert prepared is not None
    through_sqlalchemy = cast(
        Table, EvidenceBundle.__table__
    ).c.content.type._cached_bind_processor(dialect)
    assert through_sqlalchemy is not None
    assert prepared.row({"id": "b", "content": document}) == ("b", through_sqlalchemy(document))


def test_a_json_value_json_cannot_write_fails_as_json_does_and_the_next_one_is_written() -> None:
    writer = DirectWriter(sqlite.dialect())
    prepared = writer.prepared(insert(cast(Table, EvidenceBundle.__table__)), ("id", "content"))
    assert prepared is not None
    shared = {"kept": [1, 2]}
    with pytest.raises(TypeError, match="not JSON serializable"):
        prepared.row({"id": "b", "content": {"shared": shared, "bad": object()}})
    # The same containers again: nothing of the failed walk is taken for a cycle.
    assert prepared.row({"id": "b", "content": {"shared": shared}}) == (
        "b",
        '{"shared": {"kept": [1, 2]}}',
    )
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(ValueError, match="Circular reference"):
        prepared.row({"id": "b", "content": cycle})


def _utc_text_as_before(value: datetime) -> str:
    """What `sqlite_utc_text` bound before it printed the date and the time apart."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 1, 15, 10, 0, tzinfo=UTC),
        datetime(2024, 1, 15, 10, 0, 0, 7, tzinfo=UTC).replace(tzinfo=None),
        datetime(1, 1, 1, 0, 0, tzinfo=UTC),
        datetime(2024, 1, 15, 5, 30, 0, 250, tzinfo=timezone(-timedelta(hours=4, minutes=30))),
        datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
    ],
    ids=repr,
)
def test_an_instant_is_bound_as_its_naive_utc_isoformat(value: datetime) -> None:
    assert sqlite_utc_text(value) == _utc_text_as_before(value)


def test_none_a_bool_and_bytes_are_bound_by_sqlite3_as_they_were_without_adaptation() -> None:
    # `direct_sqlite` registers adapters for them (the adaptation protocol formatted an
    # AttributeError for each); what SQLite stores is what it stored without them.
    import sqlite3

    import chronosops.storage.direct_sqlite  # noqa: F401

    for kind in (type(None), bool, bytes):
        assert (kind, sqlite3.PrepareProtocol) in sqlite3.adapters
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (a, b, c, d)")
    connection.execute("INSERT INTO t VALUES (?, ?, ?, ?)", (None, True, False, b"\x00x"))
    connection.executemany(
        "INSERT INTO t VALUES (:a, :b, :c, :d)", [{"a": None, "b": 1, "c": 0, "d": b""}]
    )
    rows = connection.execute(
        "SELECT a, typeof(a), b, typeof(b), c, typeof(c), d, typeof(d) FROM t"
    ).fetchall()
    assert rows == [
        (None, "null", 1, "integer", 0, "integer", b"\x00x", "blob"),
        (None, "null", 1, "integer", 0, "integer", b"", "blob"),
    ]
