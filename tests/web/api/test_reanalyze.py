"""``POST /v1/incidents/{id}/reanalyze``: at once over stored evidence, else a ``reanalyze`` job
(asked async, evidence still to collect, or other work of the incident running); one at a time
per incident, retried, and a failed one listed and retryable by an admin."""

from __future__ import annotations

from typing import Any

import httpx

from chronosops.analysis import AnalysisInput
from chronosops.bootstrap import build_services
from chronosops.reasoning import Reasoning
from chronosops.web.app import create_app
from tests.fixtures.app import ClientFactory, make_settings
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"
ASYNC = {"Prefer": "respond-async"}


class BrokenReasoner:
    name = "broken"

    async def reason(self, request: AnalysisInput) -> Reasoning:
        raise RuntimeError("reasoner exploded")


async def _ingested(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    answer = await client.post(INGEST, json=request(), headers=headers)
    assert answer.status_code == 201
    incident_id: str = answer.json()["incidentId"]
    return incident_id


async def _detail(client: httpx.AsyncClient, incident_id: str, headers: dict[str, str]) -> Any:
    return (await client.get(f"/v1/incidents/{incident_id}", headers=headers)).json()


async def test_stored_evidence_is_reanalysed_in_the_request(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await _ingested(client, analyst)
    answer = await client.post(f"/v1/incidents/{incident_id}/reanalyze", headers=analyst)
    assert answer.status_code == 201
    assert answer.json()["status"] == "analyzed"
    assert len((await _detail(client, incident_id, analyst))["analyses"]) == 2


async def test_asked_async_the_reanalysis_is_a_job_answered_202_with_location(
    client_with: ClientFactory, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    client, services = await client_with()
    incident_id = await _ingested(client, analyst)
    url = f"/v1/incidents/{incident_id}/reanalyze"
    first = await client.post(url, headers={**analyst, **ASYNC})
    second = await client.post(url, headers={**analyst, **ASYNC})
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.headers["Location"] == f"/v1/incidents/{incident_id}"
    assert first.headers["Preference-Applied"] == "respond-async"
    assert first.json()["analysisId"] is None
    # The second request found the first one's job still queued: one job covers both.
    jobs = (await client.get(f"/v1/jobs?incidentId={incident_id}", headers=admin)).json()
    queued = [job for job in jobs["items"] if job["state"] == "queued"]
    assert [job["kind"] for job in queued] == ["reanalyze"]
    assert queued[0]["id"] in first.json()["message"]
    assert (await _detail(client, incident_id, analyst))["job"]["kind"] == "reanalyze"

    await services.runner.drain()
    detail = await _detail(client, incident_id, analyst)
    assert detail["status"] == "analyzed"
    assert len(detail["analyses"]) == 2
    assert detail["job"]["state"] == "succeeded"


async def test_a_reanalysis_asked_while_a_job_of_the_incident_runs_waits_its_turn(
    client_with: ClientFactory, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    client, services = await client_with()
    incident_id = await _ingested(client, analyst)
    async with services.database.unit_of_work() as session:
        running = await services.jobs.enqueue(
            session, kind="analyze", incident_id=incident_id, payload={}, by="test", hold=True
        )
    answer = await client.post(f"/v1/incidents/{incident_id}/reanalyze", headers=analyst)
    assert answer.status_code == 202
    # Not due while the other job of the incident runs.
    async with services.database.unit_of_work(write=False) as session:
        assert await services.jobs.due(session, limit=10) == []
    async with services.database.unit_of_work() as session:
        assert await services.jobs.succeed(session, running.id)
    await services.runner.drain()
    assert len((await _detail(client, incident_id, analyst))["analyses"]) == 2


async def test_a_reanalysis_asked_while_an_investigation_is_running_but_not_yet_started_waits(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    client, services = await client_with()
    incident_id = await _ingested(client, analyst)
    started = await client.post(f"/v1/incidents/{incident_id}/investigate", headers=analyst)
    assert started.status_code == 202
    session_url = started.headers["Location"]
    assert (await client.get(session_url, headers=analyst)).json()["status"] == "running"

    answer = await client.post(f"/v1/incidents/{incident_id}/reanalyze", headers=analyst)

    assert answer.status_code == 202
    assert answer.json()["analysisId"] is None
    assert len((await _detail(client, incident_id, analyst))["analyses"]) == 1
    await services.runner.drain()
    assert (await client.get(session_url, headers=analyst)).json()["status"] != "running"
    assert len((await _detail(client, incident_id, analyst))["analyses"]) >= 2


async def test_a_failed_reanalysis_job_is_listed_and_an_admin_runs_it_again(
    database_url: str,
    client_with: ClientFactory,
    analyst: dict[str, str],
    admin: dict[str, str],
) -> None:
    client, services = await client_with()
    incident_id = await _ingested(client, analyst)
    broken = build_services(
        make_settings(database_url, job_max_attempts=2, job_backoff_seconds=0),
        reasoner=BrokenReasoner(),
    )
    transport = httpx.ASGITransport(app=create_app(broken))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as broken_client:
            answer = await broken_client.post(
                f"/v1/incidents/{incident_id}/reanalyze", headers={**analyst, **ASYNC}
            )
            assert answer.status_code == 202
            await broken.runner.drain()
    finally:
        await broken.aclose()
    failed = (await client.get("/v1/jobs?state=failed", headers=admin)).json()["items"]
    job = next(job for job in failed if job["incidentId"] == incident_id)
    assert (job["kind"], job["attempts"]) == ("reanalyze", 2)
    assert "reasoner exploded" in job["lastError"]
    # The incident keeps the analysis it had.
    before = await _detail(client, incident_id, analyst)
    assert (before["status"], len(before["analyses"])) == ("analyzed", 1)

    retried = await client.post(f"/v1/jobs/{job['id']}/retry", headers=admin)
    assert retried.status_code in (200, 202)
    await services.runner.drain()
    detail = await _detail(client, incident_id, analyst)
    assert detail["status"] == "analyzed"
    assert len(detail["analyses"]) == 2
