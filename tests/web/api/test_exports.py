"""Exporting an incident over HTTP: everything a reviewer needs, redacted by role, re-verifiable."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx

from chronosops.investigation import read_export, verify_export
from tests.fixtures.guide import request

ANALYZE = "/v1/incidents/analyze"
INGEST = "/v1/incidents/ingest"

SECRET_LOGS = {
    "logs": [
        {
            "message": "login failed",
            "level": "ERROR",
            "timestamp": "2024-01-15T10:00:05Z",
            "service": "auth",
        }
    ],
    "metrics": [
        {
            "name": "errors",
            "value": 3,
            "timestamp": "2024-01-15T10:00:00Z",
            "labels": {"password": "hunter2"},
        }
    ],
    "events": [
        {
            "type": "deploy",
            "description": "auth 1.4.2",
            "timestamp": "2024-01-15T09:55:00Z",
            "metadata": {"service": "auth", "apiKey": "hunter2"},
        }
    ],
}


def labels_of(document: dict[str, Any]) -> Any:
    [metric] = [
        a for a in document["bundles"][0]["content"]["artifacts"] if a["kind"] == "metric_series"
    ]
    return metric["labels"]


def api_key_of(document: dict[str, Any]) -> Any:
    [event] = [
        a
        for a in document["bundles"][0]["content"]["artifacts"]
        if "apiKey" in (a.get("metadata") or {})
    ]
    return event["metadata"]["apiKey"]


async def scenario_incident(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(ANALYZE, json={"scenarioId": "latency-spike"}, headers=headers)
    assert response.status_code == 201, response.text
    incident_id: str = response.json()["incidentId"]
    await client.post(f"/v1/incidents/{incident_id}/reanalyze", headers=headers)
    return incident_id


async def exported(
    client: httpx.AsyncClient, headers: dict[str, str], incident_id: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/incidents/{incident_id}/export", headers=headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def test_the_export_holds_the_whole_record(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await scenario_incident(client, analyst)
    document = await exported(client, analyst, incident_id)
    counts = {key: len(document[key]) for key in ("bundles", "analyses", "postmortems")}
    assert counts == {"bundles": 1, "analyses": 2, "postmortems": 2}


async def test_the_export_carries_the_verification_and_the_chain_head(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await scenario_incident(client, analyst)
    audit = (await exported(client, analyst, incident_id))["audit"]
    assert audit["verification"]["status"] == "VERIFIED"
    assert audit["chainHead"]["hash"] == audit["events"][-1]["hash"]


async def test_an_untouched_export_verifies_offline(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await scenario_incident(client, analyst)
    result = verify_export(await exported(client, analyst, incident_id))
    # created, bundle, analysis, postmortem; the re-analysis and its postmortem
    assert (result.ok, result.bundles_verified, result.events_verified) == (True, 1, 6)


async def test_a_bundle_that_says_what_was_read_exports_with_it_and_verifies(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    evidence = {"logs": SECRET_LOGS["logs"], "readEmpty": ["deploys", "config"]}
    response = await client.post(
        INGEST, json=request(sourceRef="coverage-export", evidenceLite=evidence), headers=analyst
    )
    assert response.status_code == 201, response.text
    document = await exported(client, analyst, response.json()["incidentId"])
    assert document["bundles"][0]["content"]["coverage"] == ["deploys", "config"]
    result = verify_export(document)
    assert (result.ok, result.bundles_verified) == (True, 1), result.problems


async def test_an_edited_artifact_fails_offline_verification(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await scenario_incident(client, analyst)
    document = await exported(client, analyst, incident_id)
    document["bundles"][0]["content"]["artifacts"][0]["summary"] = "nothing to see"
    assert verify_export(document).problems[0].startswith("bundle ")


async def test_an_edited_audit_event_fails_offline_verification(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await scenario_incident(client, analyst)
    document = await exported(client, analyst, incident_id)
    document["audit"]["events"][2]["payload"]["overallConfidence"] = 0.99
    assert verify_export(document).problems == [
        f"audit event seq {document['audit']['events'][2]['seq']}: hash mismatch (modified)"
    ]


async def test_a_dropped_audit_event_fails_offline_verification(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await scenario_incident(client, analyst)
    document = await exported(client, analyst, incident_id)
    del document["audit"]["events"][1]
    assert "incident link broken" in verify_export(document).problems[0]


async def test_viewers_get_redacted_payload_values_and_no_source_payload(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    body = request(sourceRef="secret", evidenceLite=SECRET_LOGS)
    incident_id = (await client.post(INGEST, json=body, headers=analyst)).json()["incidentId"]
    document = await exported(client, viewer, incident_id)
    assert api_key_of(document) == "[REDACTED]"
    assert "sourcePayload" not in document


async def test_a_redacted_bundle_is_reported_as_redacted_not_tampered(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    body = request(sourceRef="secret", evidenceLite=SECRET_LOGS)
    incident_id = (await client.post(INGEST, json=body, headers=analyst)).json()["incidentId"]
    result = verify_export(await exported(client, viewer, incident_id))
    assert (result.ok, result.bundles_redacted) == (True, 1)


async def test_admins_get_the_raw_payloads_and_a_fully_rehashable_export(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    body = request(sourceRef="secret", evidenceLite=SECRET_LOGS)
    incident_id = (await client.post(INGEST, json=body, headers=analyst)).json()["incidentId"]
    document = await exported(client, admin, incident_id)
    assert api_key_of(document) == "hunter2"
    # A metric label named like a secret is redacted before the bundle is hashed, for everyone.
    assert labels_of(document) == {"password": "[REDACTED]"}
    assert verify_export(document).bundles_verified == 1


async def test_the_zip_holds_the_json_each_bundle_and_each_postmortem_markdown(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await scenario_incident(client, analyst)
    response = await client.get(f"/v1/incidents/{incident_id}/export?format=zip", headers=analyst)
    assert response.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    document = read_export(response.content)
    assert sorted(names) == sorted(
        ["export.json", "postmortems/v1.md", "postmortems/v2.md"]
        + [f"bundles/{b['bundleId']}.json" for b in document["bundles"]]
    )


async def test_an_unknown_format_is_400_naming_format(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await scenario_incident(client, analyst)
    response = await client.get(f"/v1/incidents/{incident_id}/export?format=pdf", headers=analyst)
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["errors"]] == ["format"]


async def test_an_unknown_incident_is_404(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    assert (await client.get("/v1/incidents/nope/export", headers=viewer)).status_code == 404
