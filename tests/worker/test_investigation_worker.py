"""On PostgreSQL, a real Procrastinate worker runs the investigation the API enqueued."""

from __future__ import annotations

import asyncio

import pytest

from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.investigation import InvestigateRequest
from tests.fixtures.database import on_postgres
from tests.fixtures.guide import example
from tests.fixtures.jobs import worker_running

pytestmark = pytest.mark.skipif(not on_postgres(), reason="Procrastinate needs PostgreSQL")


async def test_a_worker_runs_an_investigation_to_its_end(services: Services) -> None:
    outcome = await services.pipeline.ingest(
        IngestIncidentRequest.model_validate(example("example_2_with_evidence")),
        principal=SYSTEM_PRINCIPAL,
    )
    started = await services.investigations.start(
        outcome.response.incident_id,
        InvestigateRequest(confidence_target=0.99),
        principal=SYSTEM_PRINCIPAL,
    )
    status = "running"
    async with worker_running(services):
        for _ in range(300):
            async with services.database.unit_of_work(write=False) as session:
                status = (await services.investigations.get(session, started.session_id)).status
            if status != "running":
                break
            await asyncio.sleep(0.05)
    assert status == "stopped"
