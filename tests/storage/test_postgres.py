"""PostgreSQL's write path: pooled connections checked without a round trip, and writes
that wait to go out with the transaction's next statement (or its commit) in one send."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
import sqlalchemy
from psycopg import AsyncClientCursor
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from sqlalchemy import String, bindparam, event, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit import EntityType, EventType
from chronosops.bootstrap import Services
from chronosops.config import DatabaseSettings
from chronosops.evidence.tables import EvidenceBundle, IncidentEvidence
from chronosops.incidents.tables import Incident
from chronosops.reasoning.tables import Analysis
from chronosops.storage import (
    Database,
    insert_or_ignore,
    insert_row,
    insert_rows,
    postgres,
    run_prepared,
)
from tests.fixtures.database import POSTGRES_URL, on_postgres, terminate_backend
from tests.fixtures.psycopg_sends import record_sends
from tests.fixtures.rows import bundle_row as bundle

pytestmark = pytest.mark.skipif(
    not on_postgres(), reason="needs CHRONOSOPS_TEST_DATABASE_URL (PostgreSQL)"
)


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    assert POSTGRES_URL is not None
    opened = Database(DatabaseSettings(url=POSTGRES_URL), pool_size=2)
    yield opened
    await opened.dispose()


async def _backend_pid(database: Database) -> int:
    async with database.unit_of_work(write=False) as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)


async def test_a_pooled_connection_is_handed_out_again_without_a_ping(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await _backend_pid(database)
    pings: list[object] = []

    def counted_ping(connection: object) -> bool:
        pings.append(connection)
        return True

    monkeypatch.setattr(database.engine.sync_engine.dialect, "do_ping", counted_ping)
    assert await _backend_pid(database) == first, "the same connection, not a new one"
    assert pings == []


async def test_a_connection_whose_backend_was_terminated_is_replaced_before_it_is_used(
    database: Database,
) -> None:
    dead = await _backend_pid(database)
    terminate_backend(database.url, dead)
    # The write runs on a fresh connection at once: no error, no retry by the caller.
    async with database.unit_of_work() as session:
        fresh = int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)
    assert fresh != dead


# --- Writes that wait for the next statement --------------------------------------------------


def link(incident_bundle: str) -> dict[str, Any]:
    return {
        "incident_id": "incident-1",
        "bundle_id": incident_bundle,
        "window_start": datetime(2026, 1, 1, tzinfo=UTC),
        "window_end": datetime(2026, 1, 1, 1, tzinfo=UTC),
        "attached_at": datetime(2026, 1, 1, tzinfo=UTC),
        "attached_by": None,
    }


def counted_round_trips(database: Database) -> list[str]:
    """The statements SQLAlchemy itself sends (what waits goes out through psycopg)."""
    sent: list[str] = []

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def _sent(_c: object, _cur: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    return sent


async def stored(services: Services, bundle_id: str) -> dict[str, Any] | None:
    """The stored bundle's columns (read while its transaction is open)."""
    async with services.database.unit_of_work(write=False) as session:
        row = await session.get(EvidenceBundle, bundle_id)
        if row is None:
            return None
        return {"created_by": row.created_by, "content": row.content, "at": row.created_at}


async def test_a_waiting_insert_is_seen_by_the_next_statement_of_its_transaction(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        count = await session.scalar(select(func.count()).select_from(EvidenceBundle))
    assert count == 1


async def test_waiting_inserts_go_out_with_the_commit_and_not_through_sqlalchemy(
    services: Services,
) -> None:
    sent = counted_round_trips(services.database)
    async with services.database.unit_of_work() as session:
        await insert_rows(session, EvidenceBundle, [bundle("bundle-a"), bundle("bundle-b")])
        await insert_row(session, EvidenceBundle, bundle("bundle-c"))
    assert sent == []
    assert [
        await stored(services, b) is not None for b in ("bundle-a", "bundle-b", "bundle-c")
    ] == [
        True,
        True,
        True,
    ]


async def test_values_are_stored_exactly_as_given_quotes_percents_json_and_nulls_included(
    services: Services,
) -> None:
    awkward = "it's 95% of %(x)s; DROP TABLE incident; -- \\ 'quoted' \u00e9\u20ac"
    content = {"artifacts": [{"text": awkward, "n": 1.5, "none": None, "list": [1, "%s"]}]}
    async with services.database.unit_of_work() as session:
        await insert_row(
            session, EvidenceBundle, bundle("bundle-a", created_by=awkward, content=content)
        )
        # The next one goes out with the waiting one, in the same send.
        assert await insert_or_ignore(session, EvidenceBundle, bundle("bundle-b", created_by=None))
    first = await stored(services, "bundle-a")
    second = await stored(services, "bundle-b")
    assert first == {"created_by": awkward, "content": content, "at": bundle("x")["created_at"]}
    assert second is not None
    assert second["created_by"] is None


async def test_a_rolled_back_transaction_drops_its_waiting_inserts(services: Services) -> None:

    async def give_up() -> None:
        async with services.database.unit_of_work() as session:
            await insert_row(session, EvidenceBundle, bundle("bundle-a"))
            raise RuntimeError("the caller gave up")

    with pytest.raises(RuntimeError):
        await give_up()
    # The next transaction, on the same pooled connection, does not send them either.
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-b"))
    assert await stored(services, "bundle-a") is None
    assert await stored(services, "bundle-b") is not None


async def test_a_waiting_insert_that_breaks_a_key_fails_its_commit_with_an_integrity_error(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))

    async def write_both() -> None:
        async with services.database.unit_of_work() as session:
            await insert_row(session, EvidenceBundle, bundle("bundle-b"))
            await insert_row(session, EvidenceBundle, bundle("bundle-a", created_by="second"))

    with pytest.raises(IntegrityError):
        await write_both()
    assert await stored(services, "bundle-b") is None, "the whole transaction rolled back"
    kept = await stored(services, "bundle-a")
    assert kept is not None
    assert kept["created_by"] == "first"


async def test_a_waiting_insert_that_breaks_a_key_fails_the_statement_that_sends_it(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        with pytest.raises(IntegrityError):
            await session.execute(select(EvidenceBundle.id))
        await session.rollback()


async def test_an_insert_whose_clash_the_caller_answers_fails_at_once_not_later(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
    async with services.database.unit_of_work() as session:
        with pytest.raises(IntegrityError):
            await insert_row(session, EvidenceBundle, bundle("bundle-a"), clash_here=True)
        await session.rollback()


async def test_waiting_inserts_keep_their_order_for_the_keys_that_refer_to_earlier_ones(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, Incident, incident_row("incident-1"))
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        await insert_row(session, IncidentEvidence, link("bundle-a"))
    async with services.database.unit_of_work(write=False) as session:
        links = await session.scalar(select(func.count()).select_from(IncidentEvidence))
    assert links == 1


def incident_row(incident_id: str) -> dict[str, Any]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "id": incident_id,
        "source_type": "CUSTOM",
        "source_ref": incident_id,
        "title": "a title",
        "status": "created",
        "start_at": at,
        "window_minutes_before": 30,
        "window_minutes_after": 10,
        "force_collect": False,
        "request": {},
        "created_at": at,
        "updated_at": at,
    }


async def test_a_waiting_insert_takes_the_columns_constant_defaults(services: Services) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, Incident, incident_row("incident-1"))
    async with services.database.unit_of_work(write=False) as session:
        row = (
            await session.execute(
                select(Incident.occurrence, Incident.lifecycle).where(Incident.id == "incident-1")
            )
        ).one()
    assert tuple(row) == (1, "triggered")


async def test_reads_outside_a_unit_of_work_each_run_on_their_own(database: Database) -> None:
    async with database.reads() as session:
        first = await session.scalar(text("SELECT pg_current_xact_id()::text"))
        second = await session.scalar(text("SELECT pg_current_xact_id()::text"))
    async with database.unit_of_work(write=False) as session:
        third = await session.scalar(text("SELECT pg_current_xact_id()::text"))
        fourth = await session.scalar(text("SELECT pg_current_xact_id()::text"))
    assert first != second, "no transaction holds the reads together"
    assert third == fourth, "a unit of work still is one transaction"


# --- Reads built once, sent by the connection itself -------------------------------------------

_IDS_BY = select(EvidenceBundle.id).where(EvidenceBundle.created_by == bindparam("by"))
_CREATED_BY = select(EvidenceBundle.created_at).where(EvidenceBundle.created_by == bindparam("by"))


def selects_sent(sent: list[str], column: str) -> list[str]:
    return [s for s in sent if s.lstrip().startswith("SELECT") and column in s.split("FROM")[0]]


async def test_a_read_of_plain_columns_goes_out_with_the_waiting_writes_not_through_sqlalchemy(
    services: Services,
) -> None:
    sent = counted_round_trips(services.database)
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        ran = await run_prepared(session, _IDS_BY, {"by": "first"})
    # The waiting insert went out first (the read sees it), in one send of psycopg's own.
    assert ran.rows == [("bundle-a",)]
    assert ran.rowcount == 1
    assert selects_sent(sent, "evidence_bundle.id") == []


async def test_a_read_of_utc_instants_goes_out_by_itself_and_hands_them_back_in_utc(
    services: Services,
) -> None:
    sent = counted_round_trips(services.database)
    async with services.database.unit_of_work() as session:
        # The server hands instants back in the session's time zone, not necessarily UTC.
        await session.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        ran = await run_prepared(session, _CREATED_BY, {"by": "first"})
    # UtcDateTime's processing applied, as every other read of the column hands it back.
    assert ran.rows == [(datetime(2026, 1, 1, tzinfo=UTC),)]
    assert ran.rows[0][0].tzinfo is UTC
    assert selects_sent(sent, "evidence_bundle.created_at") == []


_RENAMED = (
    sqlalchemy.update(EvidenceBundle)
    .where(EvidenceBundle.id == bindparam("bundle"))
    .values(created_by="renamed", created_at=bindparam("at"))
    .returning(EvidenceBundle.id, EvidenceBundle.created_at)
)


async def test_an_update_with_a_fixed_value_goes_out_by_itself_and_answers_in_utc(
    services: Services,
) -> None:
    sent = counted_round_trips(services.database)
    moved = datetime(2026, 2, 1, tzinfo=UTC)
    async with services.database.unit_of_work() as session:
        await session.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        ran = await run_prepared(session, _RENAMED, {"bundle": "bundle-a", "at": moved})
        missed = await run_prepared(session, _RENAMED, {"bundle": "bundle-b", "at": moved})
    # The value the statement fixes (SET created_by='renamed') is sent with it.
    assert ran.rows == [("bundle-a", moved)]
    assert ran.rows[0][1].tzinfo is UTC
    assert missed.rows == []
    assert (await stored(services, "bundle-a") or {})["created_by"] == "renamed"
    assert [s for s in sent if s.lstrip().startswith("UPDATE")] == []


async def test_an_update_answering_a_float_is_left_to_sqlalchemy(services: Services) -> None:
    # psycopg's float processor depends on the type the server names for the column.
    statement = (
        sqlalchemy.update(Analysis)
        .where(Analysis.id == bindparam("analysis"))
        .values(inconclusive=True)
        .returning(Analysis.overall_confidence)
    )
    dialect = services.database.engine.dialect
    assert postgres.compiled(statement, ["analysis"], dialect) is None
    assert postgres.compiled(_RENAMED, ["bundle", "at"], dialect) is not None


# --- A transaction's BEGIN, and reads asked ahead -------------------------------------------


async def test_a_transactions_begin_goes_out_with_its_first_statement_not_alone(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _backend_pid(services.database)  # connected (and introduced) before counting
    async with services.database.unit_of_work():
        pass  # the write units' pool too
    sends = record_sends(monkeypatch)
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        assert await insert_or_ignore(session, EvidenceBundle, bundle("bundle-b"))
        await insert_row(session, EvidenceBundle, bundle("bundle-c"))
    assert [[part.split()[0] for part in send] for send in sends] == [
        ["BEGIN", "INSERT", "INSERT"],
        ["INSERT", "COMMIT"],
    ]
    assert [await stored(services, b) is not None for b in ("bundle-a", "bundle-b")] == [True] * 2


async def test_a_transaction_begun_in_its_first_send_is_one_transaction_at_its_isolation_level(
    services: Services,
) -> None:
    level_and_id = select(
        func.current_setting("transaction_isolation"), func.pg_current_xact_id().cast(String)
    )
    async with services.database.unit_of_work() as session:
        first = await run_prepared(session, level_and_id, {})
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        second = await session.execute(level_and_id)
    assert first.rows[0][0] == "read committed"
    assert tuple(second.one()) == first.rows[0], "the same transaction throughout"


async def test_a_transaction_whose_first_send_fails_rolls_back_and_its_connection_serves_again(
    services: Services,
) -> None:
    async def link_to_nothing() -> None:
        async with services.database.unit_of_work() as session:
            await insert_row(session, EvidenceBundle, bundle("bundle-a"))
            # No such incident: the foreign key refuses it, in the send that begins.
            await insert_or_ignore(session, IncidentEvidence, link("bundle-a"))

    with pytest.raises(IntegrityError):
        await link_to_nothing()
    assert await stored(services, "bundle-a") is None
    async with services.database.unit_of_work() as session:
        assert await insert_or_ignore(session, EvidenceBundle, bundle("bundle-a"))
    assert await stored(services, "bundle-a") is not None


async def test_a_read_asked_ahead_goes_out_with_the_next_statement_that_needs_an_answer(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
    await _backend_pid(services.database)
    sends = record_sends(monkeypatch)
    async with services.database.unit_of_work() as session:
        assert await postgres.read_ahead(session, "mine", _IDS_BY, {"by": "first"})
        assert await postgres.answer_ahead(session, "mine") is None, "not sent yet"
        assert await insert_or_ignore(session, EvidenceBundle, bundle("bundle-b"))
        # Asked before the insert went out: the new row is not in its answer.
        assert await postgres.answer_ahead(session, "mine") == [("bundle-a",)]
        assert await postgres.answer_ahead(session, "mine") is None, "answered once"
    assert [[part.split()[0] for part in send] for send in sends] == [
        ["BEGIN", "SELECT", "INSERT"],
        ["COMMIT"],
    ]


async def test_a_read_asked_ahead_and_never_taken_ends_with_its_transaction(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await postgres.read_ahead(session, "mine", _IDS_BY, {"by": "first"})
        await insert_or_ignore(session, EvidenceBundle, bundle("bundle-a"))
    async with services.database.unit_of_work() as session:
        await insert_or_ignore(session, EvidenceBundle, bundle("bundle-b"))
        assert await postgres.answer_ahead(session, "mine") is None


# --- Values bound into a script's text ---------------------------------------------------------

_AWKWARD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -42,
    2**63 - 1,
    -(2**63),
    2**70,
    1.5,
    -0.25,
    float("nan"),
    "",
    "it's",
    "''",
    "back\\slash \\' and \\\\",
    "95% of %(x)s and %s",
    "line\nbreak\ttab -- not a comment /* nor this */ ;",
    "\u00e9\u20ac\U0001f600",
    datetime(2026, 12, 6, 15, 4, 5, 123456, tzinfo=UTC),
    datetime(2026, 12, 6, 15, 4, 5, tzinfo=UTC),
    datetime(2026, 12, 6, 15, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 12, 6, 15, 4, 5, tzinfo=UTC).replace(tzinfo=None),  # a naive instant
    Jsonb({"text": 'it\'s a \\ "quote" \u00e9', "n": -1.5, "none": None, "list": [1, "%s"]}),
    Jsonb(None),
    Jsonb([]),
    Jsonb("it's"),
    EventType.INCIDENT_CREATED,
]


async def _driver(session: Any) -> Any:
    connection = await session.connection()
    return connection.sync_connection.connection.driver_connection


@pytest.mark.parametrize("value", _AWKWARD_VALUES, ids=repr)
async def test_a_value_bound_into_the_text_reads_back_as_psycopgs_own_binding_of_it(
    database: Database, value: Any
) -> None:
    async with database.unit_of_work(write=False) as session:
        driver = await _driver(session)
        ours = postgres._Literals(driver).bound("SELECT %(v)s, %(v)s IS NULL", {"v": value})
        theirs = AsyncClientCursor(driver).mogrify("SELECT %(v)s, %(v)s IS NULL", {"v": value})
        cursor = driver.cursor()
        await cursor.execute(ours)
        read_ours = await cursor.fetchone()
        await cursor.execute(theirs)
        read_theirs = await cursor.fetchone()
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(read_ours[0])
        assert math.isnan(read_theirs[0])
    else:
        assert read_ours == read_theirs
    assert read_ours[1] is (value is None)


async def test_an_enum_members_literal_is_psycopgs_and_is_asked_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database.unit_of_work(write=False) as session:
        driver = await _driver(session)
        expected = AsyncClientCursor(driver).mogrify("SELECT %(v)s", {"v": EntityType.INCIDENT})
        assert postgres._Literals(driver).bound("SELECT %(v)s", {"v": EntityType.INCIDENT}) == (
            expected
        )
        monkeypatch.setattr(postgres, "Transformer", None)  # no adapter is asked again
        assert postgres._Literals(driver).bound("SELECT %(v)s", {"v": EntityType.INCIDENT}) == (
            expected
        )


async def test_a_text_with_a_nul_is_refused_as_psycopg_refuses_it(database: Database) -> None:
    async with database.unit_of_work(write=False) as session:
        driver = await _driver(session)
        with pytest.raises(psycopg.DataError, match="NUL"):
            postgres._Literals(driver).bound("SELECT %(v)s", {"v": "a\x00b"})


async def test_a_percent_the_statement_writes_itself_is_sent_as_one_percent(
    database: Database,
) -> None:
    async with database.unit_of_work(write=False) as session:
        driver = await _driver(session)
        sql = postgres._Literals(driver).bound("SELECT 7 %% 4, %(v)s", {"v": "%%"})
        cursor = driver.cursor()
        await cursor.execute(sql)
        assert await cursor.fetchone() == (3, "%%")


async def test_without_standard_conforming_strings_values_are_left_to_psycopg(
    database: Database,
) -> None:
    value = "back\\slash 'quoted'"
    async with database.unit_of_work(write=False) as session:
        driver = await _driver(session)
        cursor = driver.cursor()
        await cursor.execute("SET standard_conforming_strings = off")
        try:
            literals = postgres._Literals(driver)
            assert not literals.plain
            sql = literals.bound("SELECT %(v)s", {"v": value})
            assert sql == AsyncClientCursor(driver).mogrify("SELECT %(v)s", {"v": value})
            await cursor.execute(sql)
            assert await cursor.fetchone() == (value,)
        finally:
            await cursor.execute("SET standard_conforming_strings = on")


# --- The session's connection, asked once a transaction ------------------------------------------


def connections_asked_for(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The sessions that ask SQLAlchemy for a connection from now on, one entry per ask."""
    asked: list[object] = []
    connection = AsyncSession.connection

    async def counted(self: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        asked.append(self)
        return await connection(self, *args, **kwargs)

    monkeypatch.setattr(AsyncSession, "connection", counted)
    return asked


async def test_a_units_statements_never_ask_sqlalchemy_for_a_connection_across_its_commits(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = connections_asked_for(monkeypatch)
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        assert await insert_or_ignore(session, EvidenceBundle, bundle("bundle-b"))
        assert await postgres.fetch(session, _IDS_BY, {"by": "first"}) is not None
        # A commit in the middle ends the unit's own transaction; the next statement begins
        # another on the same connection.
        await session.commit()
        assert await insert_or_ignore(session, EvidenceBundle, bundle("bundle-c"))
    assert asked == []
    assert [await stored(services, b) is not None for b in ("bundle-a", "bundle-c")] == [True] * 2


async def test_a_transaction_outside_a_unit_asks_sqlalchemy_for_its_connection_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = connections_asked_for(monkeypatch)
    async with services.database.unit_of_work(write=False) as session:
        assert await postgres.fetch(session, _IDS_BY, {"by": "first"}) is not None
        assert await postgres.fetch(session, _IDS_BY, {"by": "second"}) is not None
    assert len(asked) == 1


async def test_a_unit_whose_statement_failed_and_was_caught_does_not_commit(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))

    async def caught_and_went_on() -> None:
        async with services.database.unit_of_work() as session:
            await insert_row(session, EvidenceBundle, bundle("bundle-b"))
            await insert_row(session, EvidenceBundle, bundle("bundle-a"))
            with pytest.raises(IntegrityError):
                await postgres.fetch(session, _IDS_BY, {"by": "first"})

    with pytest.raises(DBAPIError):
        await caught_and_went_on()
    # PostgreSQL would have answered the COMMIT with a silent ROLLBACK: the unit says so.
    assert await stored(services, "bundle-b") is None


async def test_a_unit_that_goes_through_the_session_commits_its_own_sends_with_it(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        # Through SQLAlchemy's execution: what waits goes out first, in the same transaction.
        await session.execute(sqlalchemy.text("SELECT 1"))
        await insert_row(session, EvidenceBundle, bundle("bundle-b"))
    assert [await stored(services, b) is not None for b in ("bundle-a", "bundle-b")] == [True] * 2

    async def failing() -> None:
        async with services.database.unit_of_work() as session:
            await insert_row(session, EvidenceBundle, bundle("bundle-c"))
            await session.execute(sqlalchemy.text("SELECT 1"))
            await insert_row(session, EvidenceBundle, bundle("bundle-d"))
            raise RuntimeError("the block fails")

    with pytest.raises(RuntimeError):
        await failing()
    assert [await stored(services, b) for b in ("bundle-c", "bundle-d")] == [None, None]


async def test_reads_outside_a_transaction_leave_the_pooled_connection_as_they_found_it(
    services: Services,
) -> None:
    async with services.database.reads() as session:
        rows = await postgres.fetch(session, sqlalchemy.select(sqlalchemy.text("1")), {})
        assert rows == [(1,)]
        # Each read is a transaction of its own: nothing is left open between them.
        raw = (await session.connection()).sync_connection
        assert raw is not None
        driver = raw.connection.driver_connection
        assert driver is not None
        assert driver.pgconn.transaction_status == TransactionStatus.IDLE
    # Back in the pool as a unit of work expects it: psycopg begins its transactions again.
    assert driver.autocommit is False
    assert driver.pgconn.transaction_status == TransactionStatus.IDLE


async def test_after_a_failed_statement_rolls_back_the_session_writes_on_a_fresh_transaction(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
    async with services.database.unit_of_work() as session:
        await insert_row(session, EvidenceBundle, bundle("bundle-a"))
        with pytest.raises(IntegrityError):
            await postgres.fetch(session, _IDS_BY, {"by": "first"})
        await session.rollback()
        assert await insert_or_ignore(session, EvidenceBundle, bundle("bundle-b"))
    assert await stored(services, "bundle-b") is not None
