"""Investigations over HTTP: started as a job, gated, recorded step by step, one at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from chronosops.auth.principals import Principal
from chronosops.bootstrap import Services
from chronosops.storage import DatabaseUnavailableError
from tests.collectors.prometheus_server import PrometheusServer, available, running_prometheus
from tests.fixtures.app import ClientFactory
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"

# Thin evidence: one log line, no metrics; collectors only run on the investigation's request.
THIN = {
    "logs": [
        {
            "message": "upstream request timed out after 1000 ms",
            "level": "ERROR",
            "timestamp": "2024-01-15T10:02:00Z",
            "service": "payment-service",
        }
    ]
}


async def thin_incident(
    client: httpx.AsyncClient, headers: dict[str, str], ref: str = "thin"
) -> str:
    response = await client.post(
        INGEST, json=request(sourceRef=ref, evidenceLite=THIN), headers=headers
    )
    assert response.status_code == 201, response.text
    incident_id: str = response.json()["incidentId"]
    return incident_id


async def start(
    client: httpx.AsyncClient, headers: dict[str, str], incident_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/incidents/{incident_id}/investigate", json=body, headers=headers)


async def investigation(
    client: httpx.AsyncClient, headers: dict[str, str], session_id: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/investigations/{session_id}", headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_start_is_202_with_the_running_session(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await thin_incident(client, analyst)
    response = await start(client, analyst, incident_id)
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["maxIterations"], body["confidenceTarget"]) == (
        "running",
        5,
        0.8,
    )
    assert response.headers["location"] == f"/v1/investigations/{body['sessionId']}"


async def test_a_second_start_is_409_naming_the_running_one(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await thin_incident(client, analyst)
    first = (await start(client, analyst, incident_id)).json()
    second = await start(client, analyst, incident_id)
    assert second.status_code == 409
    assert first["sessionId"] in second.json()["message"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"maxIterations": 0}, "maxIterations"),
        ({"maxIterations": 11}, "maxIterations"),
        ({"confidenceTarget": 0.4}, "confidenceTarget"),
        ({"confidenceTarget": 1.0}, "confidenceTarget"),
        ({"maxIteration": 3}, "maxIteration"),
        # Wrong JSON types are refused as the ingest request refuses them, never coerced.
        ({"maxIterations": True}, "maxIterations"),
        ({"maxIterations": "3"}, "maxIterations"),
        ({"maxIterations": 3.0}, "maxIterations"),
        ({"confidenceTarget": "0.9"}, "confidenceTarget"),
        ({"confidenceTarget": False}, "confidenceTarget"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(
    client: httpx.AsyncClient, analyst: dict[str, str], body: dict[str, Any], path: str
) -> None:
    incident_id = await thin_incident(client, analyst)
    response = await start(client, analyst, incident_id, **body)
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["errors"]] == [path]


async def test_a_json_integer_is_still_an_iteration_count(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await thin_incident(client, analyst)
    response = await start(client, analyst, incident_id, maxIterations=1)
    assert response.status_code == 202, response.text
    assert response.json()["maxIterations"] == 1


async def test_an_unknown_incident_is_404(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    assert (await start(client, analyst, "no-such-incident")).status_code == 404


async def test_viewers_may_watch_but_not_start(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    incident_id = await thin_incident(client, analyst)
    assert (await start(client, viewer, incident_id)).status_code == 403


async def test_without_collectors_every_request_is_refused_with_its_reason(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    incident_id = await thin_incident(client, analyst)
    session_id = (await start(client, analyst, incident_id)).json()["sessionId"]
    await services.runner.drain()
    found = await investigation(client, analyst, session_id)
    assert (found["status"], found["stopCode"]) == ("stopped", "ALL_REJECTED")
    [iteration] = found["iterations"]
    assert {d["code"] for d in iteration["decisions"]} == {"NO_ALLOWED_COLLECTOR"}


async def test_every_step_is_on_the_audit_chain(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    incident_id = await thin_incident(client, analyst)
    await start(client, analyst, incident_id)
    await services.runner.drain()
    events = (await client.get(f"/v1/incidents/{incident_id}/audit-events", headers=analyst)).json()
    kinds = [e["eventType"] for e in events if e["eventType"].startswith("INVESTIGATION_")]
    assert kinds == [
        "INVESTIGATION_STARTED",
        "INVESTIGATION_ITERATION_RECORDED",
        "INVESTIGATION_FINISHED",
    ]


async def test_a_finished_session_frees_the_incident_for_another(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    incident_id = await thin_incident(client, analyst)
    await start(client, analyst, incident_id)
    await services.runner.drain()
    assert (await start(client, analyst, incident_id)).status_code == 202
    listed = (
        await client.get(f"/v1/incidents/{incident_id}/investigations", headers=analyst)
    ).json()
    assert [s["status"] for s in listed] == ["running", "stopped"]


async def test_a_cancelled_session_stops_before_its_next_iteration(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    incident_id = await thin_incident(client, analyst)
    session_id = (await start(client, analyst, incident_id)).json()["sessionId"]
    cancel = await client.post(f"/v1/investigations/{session_id}/cancel", headers=analyst)
    assert cancel.json()["cancelRequested"] is True
    await services.runner.drain()
    found = await investigation(client, analyst, session_id)
    assert (found["status"], found["iterations"]) == ("cancelled", [])


async def test_a_cancel_that_arrives_during_an_iteration_ends_the_session_cancelled(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    incident_id = await thin_incident(client, analyst)
    session_id = (await start(client, analyst, incident_id)).json()["sessionId"]
    await client.post(f"/v1/investigations/{session_id}/cancel", headers=analyst)
    # The iteration that was running when the cancel came ends with a reason of its own.
    worker = Principal(subject="worker", roles=frozenset(), issuer="system")
    await services.investigations._stop(session_id, "stopped", "NO_PROGRESS", "nothing new", worker)
    found = await investigation(client, analyst, session_id)
    assert (found["status"], found["stopCode"]) == ("cancelled", "CANCELLED")
    assert "NO_PROGRESS" in found["reason"]


async def test_a_session_whose_job_is_gone_is_closed_at_start(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    incident_id = await thin_incident(client, analyst)
    session_id = (await start(client, analyst, incident_id)).json()["sessionId"]
    async with services.database.unit_of_work() as session:
        await session.execute(text("UPDATE job SET state = 'failed' WHERE kind = 'investigate'"))
    assert await services.investigations.recover() == [session_id]
    found = await investigation(client, analyst, session_id)
    assert (found["status"], found["stopCode"]) == ("failed", "RECOVERED")


async def test_a_database_lost_mid_run_requeues_the_job_and_the_rerun_finishes_the_session(
    client: httpx.AsyncClient,
    analyst: dict[str, str],
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    incident_id = await thin_incident(client, analyst)
    session_id = (await start(client, analyst, incident_id)).json()["sessionId"]
    loop = services.investigations
    real_run = loop._run

    async def lost(session_id: str, principal: Principal) -> None:
        raise DatabaseUnavailableError("the database connection was lost", connection_lost=True)

    monkeypatch.setattr(loop, "_run", lost)
    await services.runner.drain()
    found = await investigation(client, analyst, session_id)
    assert found["status"] == "running"
    async with services.database.unit_of_work() as session:
        state, error = (
            await session.execute(
                text("SELECT state, last_error FROM job WHERE kind = 'investigate'")
            )
        ).one()
        assert state == "queued"
        assert "connection was lost" in error
        # Its backoff over, the job is due again.
        await session.execute(text("UPDATE job SET run_after = created_at"))
    monkeypatch.setattr(loop, "_run", real_run)
    await services.runner.drain()
    found = await investigation(client, analyst, session_id)
    assert found["status"] == "stopped"


async def test_the_export_holds_the_investigations(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    incident_id = await thin_incident(client, analyst)
    session_id = (await start(client, analyst, incident_id)).json()["sessionId"]
    await services.runner.drain()
    document = (await client.get(f"/v1/incidents/{incident_id}/export", headers=analyst)).json()
    assert [s["sessionId"] for s in document["investigations"]] == [session_id]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    if not available():
        pytest.skip("needs /usr/bin/prometheus and promtool")
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as server:
        yield server


@pytest.mark.slow
async def test_thin_evidence_is_completed_from_the_metrics_prometheus_holds(
    prometheus: PrometheusServer,
    client_with: ClientFactory,
    analyst: dict[str, str],
    tmp_path: Path,
) -> None:
    config = tmp_path / "collectors.toml"
    config.write_text(
        f'[[collectors]]\nname = "prometheus-prod"\nbackend = "prometheus"\n'
        f'endpoint = "{prometheus.url}"\n'
    )
    client, services = await client_with(collectors_file=str(config))
    incident_id = await thin_incident(client, analyst, ref="thin-prometheus")
    session_id = (
        await start(client, analyst, incident_id, maxIterations=3, confidenceTarget=0.95)
    ).json()["sessionId"]
    await services.runner.drain()
    found = await investigation(client, analyst, session_id)
    first = found["iterations"][0]
    approved = {d["kind"]: d for d in first["decisions"] if d["approved"]}
    assert approved["METRICS"]["collectors"] == ["prometheus"]
    assert first["completenessAfter"] > first["completenessBefore"]
    bundle = (await client.get(f"/v1/evidence-bundles/{first['bundleId']}", headers=analyst)).json()
    assert {a["source"] for a in bundle["artifacts"]} == {"evidenceLite", "prometheus-prod"}
    # What the investigation read is sealed with it: the metrics it asked Prometheus for.
    assert bundle["coverage"] == ["metrics"]
    (note,) = [n for n in bundle["collection"] if n["source"] == "prometheus-prod"]
    assert note["read"] == ["metrics"]


async def test_the_incident_timeline_shows_the_investigation_from_start_to_end(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    incident_id = await thin_incident(client, analyst)
    session_id = (await start(client, analyst, incident_id)).json()["sessionId"]
    await services.runner.drain()
    timeline = (await client.get(f"/v1/incidents/{incident_id}/timeline", headers=analyst)).json()
    entries = [entry for entry in timeline["entries"] if entry["kind"] == "investigation"]
    assert [entry["title"] for entry in entries][:2] == [
        "Investigation started",
        "Investigation iteration 1",
    ]
    assert entries[-1]["title"].startswith("Investigation stopped: ALL_REJECTED")
    assert {entry["ref"] for entry in entries} == {session_id}
