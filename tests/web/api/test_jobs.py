"""Ingest answers: 201 analysed when the work finishes at once, 202 + Location when it is left
to a runner; the job is written with the incident, so the work survives the process; failed
jobs are listed for admins and retried on request."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from chronosops.analysis import AnalysisInput
from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.investigation.ingest import IngestOutcome
from chronosops.jobs import JobService
from chronosops.reasoning import BuiltinReasoner, Reasoning
from chronosops.web.api.incidents import wants_async
from tests.fixtures.app import ClientFactory
from tests.fixtures.guide import example, request
from tests.fixtures.webhooks import TOKENS, webhook_settings
from tests.investigation.test_once import dead_process_name
from tests.sources.payloads import load

INGEST = "/v1/incidents/ingest"
ASYNC = {"Prefer": "respond-async"}


class BrokenReasoner:
    name = "broken"

    async def reason(self, request: AnalysisInput) -> Reasoning:
        raise RuntimeError("reasoner exploded")


async def analyses_of(client: httpx.AsyncClient, incident_id: str, headers: Any) -> list[Any]:
    detail = (await client.get(f"/v1/incidents/{incident_id}", headers=headers)).json()
    return list(detail["analyses"])


async def test_evidence_supplied_is_analysed_in_the_request_201(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(INGEST, json=example("example_2_with_evidence"), headers=analyst)
    assert (response.status_code, response.json()["status"]) == (201, "analyzed")


async def test_the_job_of_an_incident_analysed_at_once_is_done(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = (await client.post(INGEST, json=request(), headers=analyst)).json()
    detail = (await client.get(f"/v1/incidents/{body['incidentId']}", headers=analyst)).json()
    assert (detail["job"]["state"], detail["job"]["attempts"]) == ("succeeded", 1)


async def test_prefer_respond_async_answers_202_with_the_incidents_location(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(INGEST, json=request(), headers={**analyst, **ASYNC})
    body = response.json()
    assert (response.status_code, body["status"], body["analysisId"]) == (202, "created", None)
    assert response.headers["Location"] == f"/v1/incidents/{body['incidentId']}"
    assert response.headers["Preference-Applied"] == "respond-async"


async def test_an_accepted_incident_shows_its_queued_job_then_its_analysis(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    response = await client.post(INGEST, json=request(), headers={**analyst, **ASYNC})
    location = response.headers["Location"]
    before = (await client.get(location, headers=analyst)).json()
    await services.runner.drain()
    after = (await client.get(location, headers=analyst)).json()
    assert (before["status"], before["job"]["state"]) == ("created", "queued")
    assert (after["status"], after["job"]["state"], len(after["analyses"])) == (
        "analyzed",
        "succeeded",
        1,
    )


async def test_an_incident_whose_process_died_before_analysing_is_analysed_once_by_a_runner(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    client, services = await client_with(job_stale_seconds=0.05)
    # A request that died after its first commit: the incident and its held job, nothing more.
    dead = JobService(
        clock=services.clock, ids=services.ids, owner="dead:1:0", policy=services.jobs.policy
    )
    async with services.database.unit_of_work() as session:
        registration = await services.incidents.register(
            session, IngestIncidentRequest.model_validate(request()), by="analyst"
        )
        await dead.enqueue(
            session,
            kind="analyze",
            incident_id=registration.incident.id,
            payload={},
            by="analyst",
            hold=True,
        )
    await asyncio.sleep(0.1)
    await services.runner.drain()
    await services.runner.drain()
    incident_id = registration.incident.id
    assert len(await analyses_of(client, incident_id, analyst)) == 1


@pytest.fixture
async def broken(client_with: ClientFactory) -> tuple[httpx.AsyncClient, Services]:
    client, services = await client_with(job_max_attempts=1)
    services.reasoning.reasoner = BrokenReasoner()
    return client, services


async def test_failed_jobs_are_listed_for_admins_with_their_error(
    broken: tuple[httpx.AsyncClient, Services], analyst: dict[str, str], admin: dict[str, str]
) -> None:
    client, _ = broken
    body = (await client.post(INGEST, json=request(), headers=analyst)).json()
    listed = (await client.get("/v1/jobs?state=failed", headers=admin)).json()
    assert [(j["incidentId"], j["lastError"]) for j in listed["items"]] == [
        (body["incidentId"], "RuntimeError: reasoner exploded")
    ]


async def test_the_jobs_list_is_for_admins_only(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    assert (await client.get("/v1/jobs", headers=analyst)).status_code == 403


async def test_an_admin_retry_runs_a_failed_job_again(
    broken: tuple[httpx.AsyncClient, Services], analyst: dict[str, str], admin: dict[str, str]
) -> None:
    client, services = broken
    body = (await client.post(INGEST, json=request(), headers=analyst)).json()
    (failed,) = (await client.get("/v1/jobs?state=failed", headers=admin)).json()["items"]
    services.reasoning.reasoner = BuiltinReasoner()
    retried = await client.post(f"/v1/jobs/{failed['id']}/retry", headers=admin)
    await services.runner.drain()
    detail = (await client.get(f"/v1/incidents/{body['incidentId']}", headers=analyst)).json()
    assert (retried.status_code, retried.json()["state"]) == (202, "queued")
    assert (detail["status"], detail["job"]["state"]) == ("analyzed", "succeeded")


async def test_a_job_that_is_not_failed_cannot_be_retried(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    await client.post(INGEST, json=request(), headers=analyst)
    (done,) = (await client.get("/v1/jobs", headers=admin)).json()["items"]
    response = await client.post(f"/v1/jobs/{done['id']}/retry", headers=admin)
    assert (response.status_code, response.json()["code"]) == (409, "job-not-retryable")


async def test_the_clients_retry_of_a_failed_incident_runs_its_job_again(
    broken: tuple[httpx.AsyncClient, Services], analyst: dict[str, str]
) -> None:
    client, services = broken
    first = (await client.post(INGEST, json=request(), headers=analyst)).json()
    services.reasoning.reasoner = BuiltinReasoner()
    again = await client.post(INGEST, json=request(), headers=analyst)
    await services.runner.drain()
    detail = (await client.get(f"/v1/incidents/{first['incidentId']}", headers=analyst)).json()
    assert (again.status_code, first["status"], detail["status"]) == (200, "failed", "analyzed")


async def test_an_unknown_job_is_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post("/v1/jobs/nope/retry", headers=admin)
    assert (response.status_code, response.json()["code"]) == (404, "job-not-found")


async def test_ingest_through_the_pipeline_in_background_mode_leaves_a_queued_job(
    services: Services,
) -> None:
    outcome = await services.pipeline.ingest(
        IngestIncidentRequest.model_validate(request()),
        principal=SYSTEM_PRINCIPAL,
        mode="background",
    )
    assert (outcome.queued_job is not None, outcome.response.status) == (True, "created")


async def test_a_large_delivery_is_answered_202_and_its_job_stores_every_incident(
    client_with: ClientFactory, admin: dict[str, str]
) -> None:
    # Grouping off, so each alert is its own incident and every one must be stored.
    client, services = await client_with(
        webhook_job_events=1, alert_grouping=False, **webhook_settings()
    )
    payload = load("alertmanager", "firing")
    response = await client.post(
        "/v1/webhooks/alertmanager",
        json=payload,
        headers={"Authorization": f"Bearer {TOKENS['alertmanager']}"},
    )
    await services.runner.drain()
    listed = (await client.get("/v1/incidents?sourceType=ALERTMANAGER", headers=admin)).json()
    assert (response.status_code, response.json()["jobId"] is not None) == (202, True)
    assert sorted((i["sourceRef"], i["status"]) for i in listed["items"]) == sorted(
        (alert["fingerprint"], "analyzed") for alert in payload["alerts"]
    )


@pytest.mark.parametrize(
    ("prefer", "expected"),
    [
        ("respond-async", True),
        ("wait=10, respond-async", True),
        ("Respond-Async; foo=bar", True),
        ("return=minimal", False),
        (None, False),
    ],
)
def test_prefer_respond_async_is_read_among_other_preferences(
    prefer: str | None, expected: bool
) -> None:
    assert wants_async(prefer) is expected


async def test_a_job_held_by_a_process_known_dead_is_taken_over_at_once(
    services: Services, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    # A request that died after its first commit; the stale limit (30 s) is nowhere near.
    dead = JobService(
        clock=services.clock,
        ids=services.ids,
        owner=dead_process_name(),
        policy=services.jobs.policy,
    )
    async with services.database.unit_of_work() as session:
        registration = await services.incidents.register(
            session, IngestIncidentRequest.model_validate(request()), by="analyst"
        )
        await dead.enqueue(
            session,
            kind="analyze",
            incident_id=registration.incident.id,
            payload={},
            by="analyst",
            hold=True,
        )
    await services.runner.drain()
    assert len(await analyses_of(client, registration.incident.id, analyst)) == 1


async def _queued(services: Services) -> IngestOutcome:
    """The guide's basic request accepted with its analysis left to a job."""
    outcome = await services.pipeline.ingest(
        IngestIncidentRequest.model_validate(request()),
        principal=SYSTEM_PRINCIPAL,
        mode="background",
    )
    assert outcome.queued_job is not None
    return outcome


async def _run_queued(services: Services, outcome: IngestOutcome) -> tuple[Any, Any, Any]:
    """Run the outcome's job; the runner's result, then the job and incident as stored."""
    assert outcome.queued_job is not None
    result = await services.runner.run(outcome.queued_job)
    async with services.database.unit_of_work(write=False) as session:
        job = await services.jobs.get(session, outcome.queued_job)
        incident = await services.incidents.get(session, outcome.response.incident_id)
    assert result is not None
    return result, job, incident


async def test_a_job_that_stored_its_analysis_reports_it_succeeded(services: Services) -> None:
    result, stored, incident = await _run_queued(services, await _queued(services))
    assert (result.state, stored.state, incident.status) == ("succeeded", "succeeded", "analyzed")


async def test_a_job_whose_stored_request_cannot_be_read_fails_on_the_job_and_the_incident(
    client_with: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _client, services = await client_with(job_max_attempts=1)
    outcome = await _queued(services)

    async def unreadable(*_args: Any, **_kwargs: Any) -> Any:
        raise ValueError("unreadable request")

    # Read with the incident, before the analysis starts: still recorded as the analysis's failure.
    monkeypatch.setattr(services.pipeline.incidents, "stored_request", unreadable)
    result, job, incident = await _run_queued(services, outcome)
    assert (result.state, job.state, job.last_error) == (
        "failed",
        "failed",
        "ValueError: unreadable request",
    )
    assert incident.status == "failed"
