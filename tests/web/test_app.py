"""The app's lifespan: whether the API process runs jobs itself (`CHRONOSOPS_JOB_RUNNER`)."""

from __future__ import annotations

import asyncio

from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services, build_services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.web.app import create_app
from tests.fixtures.app import make_settings
from tests.fixtures.guide import request
from tests.fixtures.jobs import worker_running


async def state_of(services: Services, incident_id: str) -> tuple[str, str | None]:
    async with services.database.unit_of_work(write=False) as session:
        incident = await services.incidents.get(session, incident_id)
        job = await services.jobs.latest(session, incident_id)
    return incident.status, job.state if job is not None else None


async def accepted(services: Services) -> str:
    outcome = await services.pipeline.ingest(
        IngestIncidentRequest.model_validate(request(sourceRef="left-to-a-worker")),
        principal=SYSTEM_PRINCIPAL,
        mode="background",
    )
    return outcome.response.incident_id


async def test_an_api_told_to_leave_jobs_to_workers_runs_none_and_a_worker_analyses_them(
    database_url: str,
) -> None:
    services = build_services(
        make_settings(database_url, job_runner="worker", job_poll_seconds=0.05)
    )
    app = create_app(services)
    try:
        async with app.router.lifespan_context(app):
            incident_id = await accepted(services)
            # Many poll intervals: an in-process runner would have taken the job by now.
            await asyncio.sleep(0.5)
            assert await state_of(services, incident_id) == ("created", "queued")
            # `chronosops worker` (on SQLite it polls the jobs table) beside the API.
            async with worker_running(services):
                for _ in range(200):
                    if (await state_of(services, incident_id))[0] == "analyzed":
                        break
                    await asyncio.sleep(0.05)
            assert await state_of(services, incident_id) == ("analyzed", "succeeded")
    finally:
        await services.aclose()


async def test_the_api_on_sqlite_runs_the_jobs_itself_by_default(database_url: str) -> None:
    services = build_services(make_settings(database_url, job_poll_seconds=0.05))
    if not services.settings.api_runs_jobs:
        await services.aclose()
        return  # PostgreSQL: its jobs go to `chronosops worker` processes by default
    app = create_app(services)
    try:
        async with app.router.lifespan_context(app):
            incident_id = await accepted(services)
            for _ in range(200):
                if (await state_of(services, incident_id))[0] == "analyzed":
                    break
                await asyncio.sleep(0.05)
            assert await state_of(services, incident_id) == ("analyzed", "succeeded")
    finally:
        await services.aclose()
