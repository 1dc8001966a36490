"""Failures after the incident is stored leave it stored, with the reason; never an orphan."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chronosops.analysis import AnalysisInput
from chronosops.bootstrap import build_services
from chronosops.config import Settings
from chronosops.reasoning import Reasoning
from chronosops.web.app import create_app
from tests.fixtures.app import ClientFactory
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"


class BrokenReasoner:
    name = "broken"

    async def reason(self, request: AnalysisInput) -> Reasoning:
        raise RuntimeError("reasoner exploded")


@pytest.fixture
async def broken_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    services = build_services(settings, reasoner=BrokenReasoner())
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://chronosops.test") as client:
        yield client
    await services.aclose()


async def test_a_failing_analysis_answers_201_failed_and_keeps_the_incident(
    broken_client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await broken_client.post(INGEST, json=request(), headers=analyst)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "failed"
    assert "reasoner exploded" in body["message"]
    assert body["analysisId"] is None
    incident = (
        await broken_client.get(f"/v1/incidents/{body['incidentId']}", headers=analyst)
    ).json()
    assert incident["status"] == "failed"
    assert "reasoner exploded" in incident["statusReason"]
    events = (
        await broken_client.get(f"/v1/incidents/{body['incidentId']}/audit-events", headers=analyst)
    ).json()
    assert [e["eventType"] for e in events] == ["INCIDENT_CREATED", "INCIDENT_FAILED"]


async def test_a_failed_incident_can_be_reanalysed_once_the_cause_is_fixed(
    broken_client: httpx.AsyncClient, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = (await broken_client.post(INGEST, json=request(), headers=analyst)).json()[
        "incidentId"
    ]
    repaired = await client.post(f"/v1/incidents/{incident_id}/reanalyze", headers=analyst)
    assert repaired.status_code == 201
    incident = (await client.get(f"/v1/incidents/{incident_id}", headers=analyst)).json()
    assert incident["status"] == "analyzed"
    assert incident["statusReason"] is None


async def test_with_analysis_switched_off_the_status_is_created_and_says_why(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    client, _ = await client_with(analyze_on_ingest=False)
    response = await client.post(INGEST, json=request(), headers=analyst)
    assert response.status_code == 201
    assert response.json()["status"] == "created"
    assert "CHRONOSOPS_ANALYZE_ON_INGEST=false" in response.json()["message"]
    assert response.json()["analysisId"] is None
