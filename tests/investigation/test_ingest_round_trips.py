"""On PostgreSQL a synchronous ingest writes in one short transaction: its checks before that
run without one, and its writes leave in a few sends, not one round trip each."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, event

from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.storage import postgres
from tests.fixtures.database import on_postgres
from tests.fixtures.guide import example
from tests.fixtures.psycopg_sends import record_sends

pytestmark = pytest.mark.skipif(
    not on_postgres(), reason="needs CHRONOSOPS_TEST_DATABASE_URL (PostgreSQL)"
)


def example_2(ref: str) -> IngestIncidentRequest:
    return IngestIncidentRequest.model_validate(
        {**example("example_2_with_evidence"), "sourceRef": ref}
    )


async def test_an_analysed_ingest_is_one_transaction_of_few_statements(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await services.pipeline.ingest(example_2("warm-up"), principal=SYSTEM_PRINCIPAL)
    transactions: list[str] = []
    through_sqlalchemy: list[str] = []
    engine = services.database.engine.sync_engine

    @event.listens_for(engine, "commit")
    def _commit(connection: Connection) -> None:
        transactions.append(connection.get_execution_options().get("isolation_level", "default"))

    @event.listens_for(engine, "before_cursor_execute")
    def _sent(_c: object, _cur: object, statement: str, *_args: object) -> None:
        through_sqlalchemy.append(" ".join(statement.split()))

    sends = record_sends(monkeypatch)
    outcome = await services.pipeline.ingest(example_2("alert-1"), principal=SYSTEM_PRINCIPAL)
    assert outcome.response.status == "analyzed"
    # The unit's transaction is its own, carried by its sends: SQLAlchemy's session never
    # began one (nor committed one), and the checks before the write began none at all.
    assert transactions == []
    statements = [part.split()[0] for send in sends for part in send]
    assert statements.count("BEGIN") == 1
    assert statements.count("COMMIT") == 1
    # The writes whose answers are not read never went out one by one through SQLAlchemy:
    # they left together with the statements that needed an answer, and with the COMMIT.
    batched = (
        "INSERT INTO incident_alert",
        "INSERT INTO job",
        "INSERT INTO analysis",
        "INSERT INTO postmortem",
        "audit_event",
    )
    assert not [s for s in through_sqlalchemy if any(b in s for b in batched)], through_sqlalchemy
    # The reads (the templates, the reference's state in one statement, whether any silence is
    # active) are built once and go out through psycopg too: nothing through SQLAlchemy.
    assert through_sqlalchemy == []


async def test_a_repeat_of_the_reference_is_the_same_incident(services: Services) -> None:
    first = await services.pipeline.ingest(example_2("alert-1"), principal=SYSTEM_PRINCIPAL)
    again = await services.pipeline.ingest(example_2("alert-1"), principal=SYSTEM_PRINCIPAL)
    assert not again.created
    assert again.response.incident_id == first.response.incident_id


async def test_the_analysed_incidents_status_goes_out_with_the_chains_lock_not_alone(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await services.pipeline.ingest(example_2("warm-up"), principal=SYSTEM_PRINCIPAL)
    sends: list[list[str]] = []
    send = postgres._send

    async def counted(*args: Any, **kwargs: Any) -> Any:
        statements, answering = args[1], kwargs["answering"]
        sends.append([" ".join(sql.split()[:3]) for sql, *_ in [*statements, *answering]])
        return await send(*args, **kwargs)

    monkeypatch.setattr(postgres, "_send", counted)
    outcome = await services.pipeline.ingest(example_2("alert-1"), principal=SYSTEM_PRINCIPAL)
    assert outcome.response.status == "analyzed"
    # The incident was inserted by this very transaction: its status needs no answer of its
    # own, and leaves with the analysis, the postmortem and the chain's lock.
    (with_lock,) = [s for s in sends if any("pg_advisory_xact_lock" in part for part in s)]
    assert any(part.startswith("UPDATE incident") for part in with_lock), sends
    assert not [s for s in sends if s and s[-1].startswith("UPDATE incident")], sends


async def test_an_analysed_ingest_is_two_round_trips_its_begin_reads_insert_and_bundle_sent_together(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await services.pipeline.ingest(example_2("warm-up"), principal=SYSTEM_PRINCIPAL)
    sends = record_sends(monkeypatch)
    outcome = await services.pipeline.ingest(example_2("alert-1"), principal=SYSTEM_PRINCIPAL)
    assert outcome.response.status == "analyzed"
    tables = [[_table(part) for part in send] for send in sends]
    assert tables == [
        # The transaction's BEGIN, whether a silence is active, the remembered templates the
        # log line was mined against (from this process's copy: read again here, not before),
        # the reference's state, and the incident itself, inserted where the reference has
        # none and joined none: whether it was decides the rest. Then its evidence bundle
        # and the bundle's link, taking place only where the incident was inserted: whether
        # the bundle was new decides its audit event.
        [
            *("BEGIN", "silence", "log_template_state", "incident", "incident"),
            *("evidence_bundle", "incident_evidence"),
        ],
        # The alert and the job, the analysis, the chain's lock, then its events, each linked
        # to the head and hashed by the server, and the COMMIT: the lock is held for no round
        # trip.
        ["incident_alert", "job", "analysis", "postmortem", "incident", "pg_advisory_xact_lock"]
        + ["audit_event"] * 4
        + ["COMMIT"],
    ], sends


def _table(words: str) -> str:
    """What a statement of a send is about, from its first three words."""
    verb, *rest = words.split()
    if verb in ("BEGIN", "COMMIT"):
        return verb
    if verb == "INSERT":
        return rest[1]
    if verb == "UPDATE":
        return rest[0]
    if "pg_advisory_xact_lock" in words:
        return "pg_advisory_xact_lock"
    if "anon_1" in words:
        return "audit head"
    column = rest[1] if rest[0] == "(SELECT" else rest[0]  # the reference's state: subqueries
    return column.split(".")[0]


async def test_a_respond_async_ingest_of_a_new_reference_is_two_round_trips(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await services.pipeline.ingest(
        example_2("warm-up"), principal=SYSTEM_PRINCIPAL, mode="background"
    )
    sends = record_sends(monkeypatch)
    outcome = await services.pipeline.ingest(
        example_2("alert-1"), principal=SYSTEM_PRINCIPAL, mode="background"
    )
    assert outcome.created
    tables = [[_table(part) for part in send] for send in sends]
    # The incident's insert rides with BEGIN and the two reads; its answer decides the
    # second send, which ends with the COMMIT.
    assert tables[0] == ["BEGIN", "silence", "incident", "incident"], sends
    assert len(tables) == 2, sends
    assert tables[1][-1] == "COMMIT", sends
