"""The guide's requests, verbatim, go in and come back out as incidents, bundles and analyses."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.guide import EXAMPLES, example, request

# The guide's keys, plus ``alert`` (opened / joined: alert grouping, docs/operations.md).
RESPONSE_KEYS = {"incidentId", "evidenceBundleId", "analysisId", "status", "message", "alert"}


@pytest.mark.parametrize("name", EXAMPLES)
async def test_every_guide_example_is_stored_and_analysed(
    name: str, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post("/v1/incidents/ingest", json=example(name), headers=analyst)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == RESPONSE_KEYS
    assert body["alert"] == "opened"
    assert body["status"] == "analyzed"
    assert body["message"] == "Incident ingested and analyzed successfully"
    assert body["evidenceBundleId"].startswith("bundle-")
    assert body["analysisId"].startswith("anl-")
    assert len(body["incidentId"]) == 25


async def test_the_basic_request_reads_back_through_the_api(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    created = (await client.post("/v1/incidents/ingest", json=request(), headers=analyst)).json()

    incident = (await client.get(f"/v1/incidents/{created['incidentId']}", headers=viewer)).json()
    assert incident["title"] == "Service outage in payment-service"
    assert incident["severity"] == "high"
    assert incident["timeline"] == {
        "start": "2024-01-15T10:00:00.000Z",
        "end": "2024-01-15T11:00:00.000Z",
        "detectedAt": None,
        "resolvedAt": None,
    }
    assert incident["metadata"]["service"] == "payment-service"
    assert incident["latestAnalysis"]["analysisId"] == created["analysisId"]
    assert incident["evidenceBundles"][0]["bundleId"] == created["evidenceBundleId"]
    assert incident["evidenceBundles"][0]["windowStart"] == "2024-01-15T09:45:00.000Z"
    assert incident["evidenceBundles"][0]["windowEnd"] == "2024-01-15T11:15:00.000Z"

    bundle = (
        await client.get(f"/v1/evidence-bundles/{created['evidenceBundleId']}", headers=viewer)
    ).json()
    assert bundle["artifacts"] == []
    assert bundle["incidentIds"] == [created["incidentId"]]

    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=viewer)).json()
    assert analysis["incidentId"] == created["incidentId"]
    assert analysis["inconclusive"] is True
    assert analysis["result"]["hypotheses"][0]["id"] == "UNKNOWN"


async def test_example_2_evidence_becomes_artifacts_the_analysis_cites(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = (
        await client.post(
            "/v1/incidents/ingest", json=example("example_2_with_evidence"), headers=analyst
        )
    ).json()
    bundle = (
        await client.get(f"/v1/evidence-bundles/{created['evidenceBundleId']}", headers=analyst)
    ).json()
    kinds = sorted(a["kind"] for a in bundle["artifacts"])
    assert kinds == ["log_template", "metric_series"]
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    top = analysis["result"]["hypotheses"][0]
    assert top["id"] == "CAPACITY_SATURATION"
    artifact_ids = {a["artifactId"] for a in bundle["artifacts"]}
    for hypothesis in analysis["result"]["hypotheses"]:
        assert set(hypothesis["evidenceRefs"]) <= artifact_ids


async def test_metric_units_sent_with_the_evidence_reach_the_bundle_and_the_reading(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = example("example_2_with_evidence")
    for point in body["evidenceLite"]["metrics"]:
        point["unit"] = "%"
    created = (await client.post("/v1/incidents/ingest", json=body, headers=analyst)).json()
    bundle = (
        await client.get(f"/v1/evidence-bundles/{created['evidenceBundleId']}", headers=analyst)
    ).json()
    series = [a for a in bundle["artifacts"] if a["kind"] == "metric_series"]
    assert series
    assert {a["unit"] for a in series} == {"%"}
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    # Example 2's CPU is in percent (45 -> 95): saying so keeps the reading it had.
    assert analysis["result"]["hypotheses"][0]["id"] == "CAPACITY_SATURATION"


async def test_timestamps_with_offsets_are_stored_in_utc(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = request(
        timeline={"start": "2024-01-15T12:00:00+02:00", "detectedAt": "2024-01-15T07:05:00-03:00"}
    )
    created = (await client.post("/v1/incidents/ingest", json=body, headers=analyst)).json()
    incident = (await client.get(f"/v1/incidents/{created['incidentId']}", headers=analyst)).json()
    assert incident["timeline"]["start"] == "2024-01-15T10:00:00.000Z"
    assert incident["timeline"]["detectedAt"] == "2024-01-15T10:05:00.000Z"
    assert incident["timeline"]["end"] is None
    assert incident["isResolved"] is False


async def test_defaults_apply_when_the_collection_context_is_absent(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = (await client.post("/v1/incidents/ingest", json=request(), headers=analyst)).json()
    incident = (await client.get(f"/v1/incidents/{created['incidentId']}", headers=analyst)).json()
    assert incident["collectionContext"] == {
        "windowMinutesBefore": 15,
        "windowMinutesAfter": 15,
        "forceCollect": False,
    }


async def test_titles_survive_byte_exact(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    title = '🔥 支付服务 outage — ünïcödé <b>bold</b> & "quotes"'
    created = (
        await client.post("/v1/incidents/ingest", json=request(title=title), headers=analyst)
    ).json()
    incident = (await client.get(f"/v1/incidents/{created['incidentId']}", headers=analyst)).json()
    assert incident["title"] == title
