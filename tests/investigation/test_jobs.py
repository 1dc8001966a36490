"""The job runner: a poll claims its due jobs (and reads an analyze job's evidence) in one
transaction, an idle poll writes nothing, and a job whose incident was analysed meanwhile
still stores the next postmortem version, not a second first one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.investigation.ingest import SEAL_ON_LOOP_ITEMS
from chronosops.storage import postgres
from tests.fixtures.database import on_postgres
from tests.fixtures.guide import example
from tests.fixtures.psycopg_sends import record_sends


async def queued(
    services: Services, count: int, *, metric_points: int = 1
) -> list[tuple[str, str]]:
    """(incident id, job id) of ``count`` accepted incidents (the guide's Example 2) whose
    analysis is queued, each with ``metric_points`` points of its metric in its evidenceLite."""
    found = []
    for number in range(count):
        body = example("example_2_with_evidence")
        body["sourceRef"] = f"{body['sourceRef']}-{number}-{metric_points}"
        point = body["evidenceLite"]["metrics"][0]
        body["evidenceLite"]["metrics"] = [
            {**point, "timestamp": f"2024-01-15T11:{second // 60:02d}:{second % 60:02d}Z"}
            for second in range(metric_points)
        ]
        outcome = await services.pipeline.ingest(
            IngestIncidentRequest.model_validate(body),
            principal=SYSTEM_PRINCIPAL,
            mode="background",
        )
        assert outcome.queued_job is not None
        found.append((outcome.response.incident_id, outcome.queued_job))
    return found


def count_write_units(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one for each write unit of work opened from now on."""
    opened: list[int] = []
    original = services.database.unit_of_work

    @asynccontextmanager
    async def counting(*, write: bool = True) -> AsyncIterator[Any]:
        if write:
            opened.append(1)
        async with original(write=write) as session:
            yield session

    monkeypatch.setattr(services.database, "unit_of_work", counting)
    return opened


async def test_a_poll_claims_its_due_jobs_in_one_transaction(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = await queued(services, 3)
    claim = services.jobs.claim
    claimed_in: list[AsyncSession] = []

    async def watched(session: AsyncSession, job_id: str) -> Any:
        claimed_in.append(session)
        return await claim(session, job_id)

    monkeypatch.setattr(services.jobs, "claim", watched)
    assert await services.runner.run_due() == 3

    assert len(claimed_in) == 3
    assert len(set(map(id, claimed_in))) == 1
    async with services.database.unit_of_work(write=False) as session:
        for incident_id, job_id in incidents:
            assert (await services.jobs.get(session, job_id)).state == "succeeded"
            assert (await services.incidents.get(session, incident_id)).status == "analyzed"


async def test_a_poll_of_an_empty_queue_writes_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = count_write_units(services, monkeypatch)

    assert await services.runner.run_due() == 0
    assert writes == []


async def test_a_poll_whose_due_jobs_fill_the_runner_does_not_look_for_orphans_and_commits_its_claims(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = await queued(services, services.runner.concurrency + 1)
    orphans = services.jobs._orphans
    looked: list[int] = []

    async def watched(session: AsyncSession, *, limit: int) -> list[str]:
        looked.append(limit)
        return await orphans(session, limit=limit)

    monkeypatch.setattr(services.jobs, "_orphans", watched)
    # The first poll's due jobs fill every place: an orphan could take none of them.
    assert await services.runner.run_due() == services.runner.concurrency
    assert looked == []
    # The next finds one job for four places: the rest are offered to orphans.
    assert await services.runner.run_due() == 1
    assert looked == [services.runner.concurrency]
    async with services.database.unit_of_work(write=False) as session:
        for incident_id, job_id in incidents:
            # Claimed (and on PostgreSQL committed) with no statement through SQLAlchemy's
            # session before the reads' savepoint.
            assert (await services.jobs.get(session, job_id)).state == "succeeded"
            assert (await services.incidents.get(session, incident_id)).status == "analyzed"


async def test_a_job_whose_incident_was_analysed_after_its_claim_stores_the_next_postmortem(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    [(incident_id, job_id)] = await queued(services, 1)
    gather = services.pipeline.gatherer.gather
    interrupted: list[str] = []

    async def reanalysed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # The job claimed the incident unanalysed; an analysis in a request lands before
        # the job stores its own.
        if not interrupted:
            interrupted.append(incident_id)
            await services.pipeline.reanalyze(incident_id, principal=SYSTEM_PRINCIPAL)
        return await gather(*args, **kwargs)

    monkeypatch.setattr(services.pipeline.gatherer, "gather", reanalysed_meanwhile)
    result = await services.runner.run(job_id)

    assert interrupted == [incident_id]
    assert result is not None
    assert result.state == "succeeded"
    async with services.database.unit_of_work(write=False) as session:
        versions = [
            p.version for p in await services.postmortems.for_incident(session, incident_id)
        ]
    assert sorted(versions) == [1, 2]


async def test_a_job_seals_a_small_evidence_lite_on_the_loop_and_a_large_one_on_a_thread(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    [(_, small)] = await queued(services, 1, metric_points=SEAL_ON_LOOP_ITEMS - 1)
    [(_, large)] = await queued(services, 1, metric_points=SEAL_ON_LOOP_ITEMS + 1)
    to_thread = asyncio.to_thread
    sealed_on_threads: list[str] = []

    async def watched(function: Any, /, *args: Any, **kwargs: Any) -> Any:
        if function == services.evidence.seal:
            sealed_on_threads.append(current)
        return await to_thread(function, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", watched)
    for current in (small, large):
        result = await services.runner.run(current)
        assert result is not None
        assert result.state == "succeeded"

    assert sealed_on_threads == [large]


async def test_a_job_whose_reads_with_its_claim_fail_is_claimed_once_and_read_apart(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    [(incident_id, job_id)] = await queued(services, 1)
    read_only = services.pipeline.incidents.read_only
    failed: list[str] = []

    async def failing_once(session: AsyncSession, wanted: str) -> Any:
        if not failed:
            failed.append(wanted)
            # As the database would fail it (a cancelled statement, a lost backend).
            await session.execute(text("SELECT * FROM no_such_table"))
        return await read_only(session, wanted)

    monkeypatch.setattr(services.pipeline.incidents, "read_only", failing_once)
    result = await services.runner.run(job_id)

    assert failed == [incident_id]
    assert result is not None
    assert result.state == "succeeded"
    async with services.database.unit_of_work(write=False) as session:
        job = await services.jobs.get(session, job_id)
        assert (await services.incidents.get(session, incident_id)).status == "analyzed"
    # The claim made with the failed reads was rolled back (on PostgreSQL) or kept without
    # them (on SQLite): either way one attempt, not two.
    assert job.attempts == 1


@pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's round trips")
async def test_an_analyze_job_on_postgresql_is_five_round_trips_its_claim_and_finish_carrying_reads(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await services.runner.run((await queued(services, 1))[0][1])  # warm-up
    [(_, job_id)] = await queued(services, 1, metric_points=2)
    sends = record_sends(monkeypatch)
    result = await services.runner.run(job_id)

    assert result is not None
    assert result.state == "succeeded"
    assert [[" ".join(part.split()[:2]) for part in send] for send in sends] == [
        # The claim with its transaction's BEGIN (no savepoint around the reads after it;
        # the server's isolation level, READ COMMITTED, as SQLAlchemy's engine leaves it).
        ["BEGIN", "UPDATE job"],
        # The job's incident, its joined alerts asked ahead to go with it.
        ["SELECT incident_alert.request", "SELECT incident.id,"],
        ["COMMIT"],
        # The storing transaction's BEGIN, whether the incident was ever analysed, the
        # remembered templates its lines were mined against from this process's copy (no
        # read of their own before), the bundle (content-addressed) and its link, and the
        # finish guarded by the job's owner: one round trip.
        [
            "BEGIN",
            "SELECT incident.latest_analysis_id",
            "SELECT log_template_state.service,",
            "INSERT INTO",
            "INSERT INTO",
            "UPDATE job",
        ],
        # The analysis, its postmortem, the incident's status (held by the analysis's
        # foreign key: no answer to wait for), the chain's lock, its events linked and hashed
        # by the server, the COMMIT.
        ["INSERT INTO", "INSERT INTO", "UPDATE incident"]
        + ["SELECT pg_advisory_xact_lock(3690534549688360092)"]
        + ["INSERT INTO"] * 3
        + ["COMMIT"],
    ], sends


@pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's round trips")
async def test_an_analyze_job_run_with_its_incident_claims_reads_and_commits_in_one_round_trip(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await services.runner.run((await queued(services, 1))[0][1])  # warm-up
    [(incident_id, job_id)] = await queued(services, 1, metric_points=2)
    sends = record_sends(monkeypatch)
    result = await services.runner.run(job_id, incident_id=incident_id)

    assert result is not None
    assert result.state == "succeeded"
    assert [[" ".join(part.split()[:2]) for part in send] for send in sends][:1] == [
        # The incident and its joined alerts asked ahead of the claim, the COMMIT after it.
        [
            "BEGIN",
            "SELECT incident.id,",
            "SELECT incident_alert.request",
            "UPDATE job",
            "COMMIT",
        ],
    ], sends
    assert len(sends) == 3, "the storing unit as above: two round trips"
    async with services.database.unit_of_work(write=False) as session:
        job = await services.jobs.get(session, job_id)
        assert (await services.incidents.get(session, incident_id)).status == "analyzed"
    assert job.attempts == 1


@pytest.mark.skipif(not on_postgres(), reason="reads asked ahead of the claim")
async def test_a_job_whose_reads_asked_ahead_fail_the_claim_is_claimed_once_and_read_apart(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    [(incident_id, job_id)] = await queued(services, 1)
    ask = services.pipeline.incidents.ask_read_only_ahead
    failed: list[str] = []

    async def failing_once(session: AsyncSession, wanted: str) -> bool:
        if not failed:
            failed.append(wanted)
            # As the database would fail it (a cancelled statement, a lost backend).
            missing: sqlalchemy.Select[Any] = sqlalchemy.select(sqlalchemy.column("x")).select_from(
                sqlalchemy.table("no_such_table")
            )
            return await postgres.read_ahead(session, "missing", missing, {})
        return await ask(session, wanted)

    monkeypatch.setattr(services.pipeline.incidents, "ask_read_only_ahead", failing_once)
    result = await services.runner.run(job_id, incident_id=incident_id)

    assert failed == [incident_id]
    assert result is not None
    assert result.state == "succeeded"
    async with services.database.unit_of_work(write=False) as session:
        job = await services.jobs.get(session, job_id)
    # The claim that carried the failed reads was rolled back with them: one attempt.
    assert job.attempts == 1


@pytest.mark.skipif(not on_postgres(), reason="reads asked ahead of the claim")
async def test_a_job_run_with_another_incidents_id_is_read_apart_and_analyses_its_own(
    services: Services,
) -> None:
    [(incident_id, job_id), (other_id, _)] = await queued(services, 2)
    result = await services.runner.run(job_id, incident_id=other_id)

    assert result is not None
    assert result.state == "succeeded"
    async with services.database.unit_of_work(write=False) as session:
        assert (await services.incidents.get(session, incident_id)).status == "analyzed"
        assert (await services.incidents.get(session, other_id)).status == "created"
