"""A worker drains a backlog at the pace of its jobs, however long the backlog is.

On PostgreSQL the next job comes from Procrastinate's fetch, one at a time; every ChronosOps
job carries a lock (its incident), and that fetch used to cost time in the square of the
backlog (migration 0019). On SQLite the jobs table's loop claims the due jobs in rounds and
must not wait out its polling interval between rounds while jobs are due.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import text

from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services, build_services
from chronosops.config import Settings
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.jobs import PROCRASTINATE_QUEUE, PROCRASTINATE_TASK
from tests.fixtures.app import make_settings
from tests.fixtures.database import on_postgres
from tests.fixtures.guide import request
from tests.fixtures.jobs import worker_running

on_postgres_only = pytest.mark.skipif(not on_postgres(), reason="Procrastinate needs PostgreSQL")

# Queued as the ingest queues them (a lock per incident, due now), for job rows that do not
# exist: the worker's task then finds nothing to claim, so what the drain costs is the queue's.
_BACKLOG = text(
    "SELECT count(*) FROM unnest(procrastinate.procrastinate_defer_jobs_v1(ARRAY("
    "SELECT ROW(:queue, :task, 0, 'incident:backlog-' || n, NULL, "
    "jsonb_build_object('job_id', 'backlog-' || n), now())"
    "::procrastinate.procrastinate_job_to_defer_v1 FROM generate_series(1, :jobs) AS n)))"
)
_REGISTER = text("SELECT worker_id FROM procrastinate.procrastinate_register_worker_v1()")
_FETCH_PLAN = text(
    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
    "SELECT * FROM procrastinate.procrastinate_fetch_job_v2(ARRAY[:queue]::varchar[], :worker)"
)
_LEFT = text("SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE status = 'todo'")


async def queue_backlog(services: Services, jobs: int) -> None:
    async with services.database.unit_of_work() as session:
        queued = await session.scalar(
            _BACKLOG, {"queue": PROCRASTINATE_QUEUE, "task": PROCRASTINATE_TASK, "jobs": jobs}
        )
    assert queued == jobs


async def pages_one_fetch_reads(services: Services) -> int:
    """The buffers PostgreSQL touches to hand a worker its next job (the plan counts the
    function's own statements): work, not time, so a busy machine cannot move it."""
    async with services.database.unit_of_work() as session:
        worker = await session.scalar(_REGISTER)
        # The first fetch also plans the function's statements (catalog reads); the second
        # costs what every later fetch of a worker costs.
        await session.execute(_FETCH_PLAN, {"queue": PROCRASTINATE_QUEUE, "worker": worker})
        plan: Any = await session.scalar(
            _FETCH_PLAN, {"queue": PROCRASTINATE_QUEUE, "worker": worker}
        )
    buffers = plan[0]["Plan"]
    return int(buffers["Shared Hit Blocks"]) + int(buffers["Shared Read Blocks"])


@on_postgres_only
async def test_taking_the_next_job_reads_as_little_behind_a_backlog_of_thousands_as_behind_a_few(
    services: Services,
) -> None:
    await queue_backlog(services, 20)
    few = await pages_one_fetch_reads(services)
    await queue_backlog(services, 3000)
    thousands = await pages_one_fetch_reads(services)
    # Before 0019 each fetch looked at every queued job's lock by walking every queued job:
    # ~6,300 pages behind 625 jobs, growing with the square of the backlog.
    assert thousands <= few + 50, (few, thousands)


async def wait_until_drained(services: Services, *, within: float) -> float:
    """Seconds until no Procrastinate job is left to do (at most ``within``)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        async with services.database.unit_of_work(write=False) as session:
            if not await session.scalar(_LEFT):
                return time.monotonic() - started
        await asyncio.sleep(0.2)
    async with services.database.unit_of_work(write=False) as session:
        left = await session.scalar(_LEFT)
    raise AssertionError(f"{left} jobs still queued after {within:.0f} s")


@on_postgres_only
async def test_one_worker_drains_a_backlog_of_thousands_at_the_pace_of_its_jobs(
    services: Services,
) -> None:
    await queue_backlog(services, 2000)
    async with worker_running(services):
        # A few milliseconds a job, 10-20 s on a loaded two-core machine. Before 0019 the
        # fetches alone took minutes (each ~0.3 s at the start, in the square of what is left).
        took = await wait_until_drained(services, within=90)
    assert took < 90


@pytest.fixture
def slow_polling(database_url: str) -> Settings:
    # Jobs only in the runner under test; a poll interval no drain of this size could hide.
    return make_settings(database_url, job_runner="worker", job_poll_seconds=30)


async def test_a_worker_drains_a_backlog_of_analyses_without_waiting_out_its_poll_between_rounds(
    slow_polling: Settings,
) -> None:
    services = build_services(slow_polling)
    try:
        incidents = []
        for number in range(24):
            body = request()
            body["sourceRef"] = f"drain-{number}"
            outcome = await services.pipeline.ingest(
                IngestIncidentRequest.model_validate(body),
                principal=SYSTEM_PRINCIPAL,
                mode="background",
            )
            incidents.append(outcome.response.incident_id)
        started = time.monotonic()
        async with worker_running(services):
            while time.monotonic() - started < 60:
                async with services.database.unit_of_work(write=False) as session:
                    counts = await services.jobs.counts(session)
                if counts.get("succeeded") == len(incidents):
                    break
                await asyncio.sleep(0.1)
        took = time.monotonic() - started
        async with services.database.unit_of_work(write=False) as session:
            statuses = {(await services.incidents.get(session, i)).status for i in incidents}
        assert statuses == {"analyzed"}
        # Six rounds of four at the default concurrency: one poll between them is 30 s.
        assert took < slow_polling.job_poll_seconds, took
    finally:
        await services.aclose()
