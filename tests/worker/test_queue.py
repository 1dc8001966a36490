"""`chronosops worker` on PostgreSQL: a real Procrastinate worker runs the job the ingest
deferred in its own transaction."""

from __future__ import annotations

import asyncio
from contextlib import suppress

import pytest

from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.worker import run_worker
from chronosops.worker.queue import libpq_url
from tests.fixtures.database import on_postgres
from tests.fixtures.guide import request

pytestmark = pytest.mark.skipif(not on_postgres(), reason="Procrastinate needs PostgreSQL")


async def status_of(services: Services, incident_id: str) -> str:
    async with services.database.unit_of_work(write=False) as session:
        return (await services.incidents.get(session, incident_id)).status


async def test_a_worker_analyses_an_incident_accepted_in_the_background(
    services: Services,
) -> None:
    outcome = await services.pipeline.ingest(
        IngestIncidentRequest.model_validate(request()),
        principal=SYSTEM_PRINCIPAL,
        mode="background",
    )
    worker = asyncio.create_task(run_worker(services))
    try:
        for _ in range(200):
            if await status_of(services, outcome.response.incident_id) == "analyzed":
                break
            await asyncio.sleep(0.05)
    finally:
        worker.cancel()
        with suppress(asyncio.CancelledError):
            await worker
    assert await status_of(services, outcome.response.incident_id) == "analyzed"


def test_the_queue_connects_with_libpq_urls() -> None:
    assert libpq_url("postgresql+psycopg://u@h:5432/d") == "postgresql://u@h:5432/d"
