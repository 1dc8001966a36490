"""Scenarios over HTTP: browsing is public, analysing stores a SCENARIO incident, all synthetic."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.app import ClientFactory
from tests.fixtures.guide import request

ANALYZE = "/v1/incidents/analyze"


async def _bundle(client: httpx.AsyncClient, headers: dict[str, str], bundle_id: str) -> Any:
    response = await client.get(f"/v1/evidence-bundles/{bundle_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_scenario_list_is_public_and_labelled_synthetic(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/scenarios")
    assert response.status_code == 200
    items = response.json()
    assert len(items) >= 12
    ids = [item["scenarioId"] for item in items]
    assert "latency-spike" in ids
    assert "downstream-outage" in ids
    assert all(item["synthetic"] is True for item in items)
    outage = next(item for item in items if item["scenarioId"] == "downstream-outage")
    assert outage["rootCause"] == {
        "hypothesisId": "DOWNSTREAM_OUTAGE",
        "culpritService": "feature-store",
    }
    assert outage["reportedService"] == "recommendation-engine"


async def test_a_scenario_detail_keeps_the_reference_fields_and_adds_its_topology(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/v1/scenarios/latency-spike")).json()
    assert body["scenarioId"] == "latency-spike"
    assert body["deployment"]["serviceId"] == "checkout-api"
    assert body["deployment"]["versionFrom"] == "1.8.2"
    assert body["deployment"]["versionTo"] == "1.8.3"
    assert body["deployment"]["timestamp"] == "2026-01-01T13:09:00.000Z"
    metrics = {point["metric"] for point in body["metrics"]}
    assert metrics == {"p95_latency_ms", "error_rate", "rps"}
    assert {point["serviceId"] for point in body["metrics"]} == {"checkout-api"}
    services = {node["service"]: node["dependsOn"] for node in body["topology"]}
    assert services["checkout-api"] == ["postgres", "payments-api"]
    assert body["groundTruth"]["hypothesisId"] == "DB_QUERY_REGRESSION"
    assert body["artifactCounts"]["metric_series"] > 10
    assert all(change["synthetic"] for change in body["changes"])


async def test_a_scenario_detail_follows_the_requested_variant(client: httpx.AsyncClient) -> None:
    canonical = (await client.get("/v1/scenarios/downstream-outage")).json()
    variant = (await client.get("/v1/scenarios/downstream-outage?variant=3&seed=9")).json()
    assert variant["variant"] == 3
    assert variant["rootCause"]["culpritService"] != canonical["rootCause"]["culpritService"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/scenarios/no-such-scenario", 404),
        ("/v1/scenarios/latency-spike?variant=99", 400),
        ("/v1/scenarios/latency-spike?seed=-1", 400),
    ],
)
async def test_unknown_scenarios_and_bad_queries_are_4xx(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)
    assert response.status_code == status
    if status == 404:
        assert response.json()["message"] == "Scenario not found: no-such-scenario"


async def test_analyze_stores_a_scenario_incident_with_synthetic_evidence_and_analyses_it(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(
        ANALYZE,
        json={"scenarioId": "latency-spike", "windowMinutesBefore": 30, "windowMinutesAfter": 10},
        headers=analyst,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "analyzed"
    assert created["scenarioId"] == "latency-spike"
    assert created["synthetic"] is True
    assert created["groundTruth"] == {
        "hypothesisId": "DB_QUERY_REGRESSION",
        "culpritService": "checkout-api",
    }

    incident = (await client.get(f"/v1/incidents/{created['incidentId']}", headers=analyst)).json()
    assert incident["sourceType"] == "SCENARIO"
    assert incident["sourceRef"].startswith("latency-spike:")
    assert incident["metadata"]["service"] == "checkout-api"
    assert incident["metadata"]["tags"] == {"scenario": "latency-spike", "synthetic": "true"}
    assert incident["timeline"]["start"] == "2026-01-01T13:12:00.000Z"
    window = incident["evidenceBundles"][0]
    assert window["synthetic"] is True
    assert window["windowStart"] == "2026-01-01T12:42:00.000Z"
    assert window["windowEnd"] == "2026-01-01T13:42:00.000Z"

    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    assert bundle["synthetic"] is True
    assert bundle["sources"] == ["scenario:latency-spike"]
    assert all(artifact["synthetic"] for artifact in bundle["artifacts"])
    kinds = {artifact["kind"] for artifact in bundle["artifacts"]}
    assert kinds == {"metric_series", "log_template", "span_group", "change_event"}
    notes = {note["source"]: note for note in bundle["collection"]}
    assert notes["scenario:latency-spike"]["status"] == "ok"
    assert "synthetic" in notes["scenario:latency-spike"]["detail"]
    assert notes["collectors"]["status"] == "skipped"

    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    notes_text = " ".join(analysis["result"]["completeness"]["notes"])
    assert "synthetic evidence generated by demo scenario latency-spike" in notes_text


async def test_analysing_a_scenario_twice_makes_two_incidents_citing_one_bundle(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = {"scenarioId": "cache-miss-storm"}
    first = (await client.post(ANALYZE, json=body, headers=analyst)).json()
    second = (await client.post(ANALYZE, json=body, headers=analyst)).json()
    assert first["incidentId"] != second["incidentId"]
    assert first["evidenceBundleId"] == second["evidenceBundleId"]
    bundle = await _bundle(client, analyst, first["evidenceBundleId"])
    assert sorted(bundle["incidentIds"]) == sorted([first["incidentId"], second["incidentId"]])


async def test_another_seed_gives_another_bundle(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    first = (await client.post(ANALYZE, json={"scenarioId": "memory-leak"}, headers=analyst)).json()
    other = (
        await client.post(ANALYZE, json={"scenarioId": "memory-leak", "seed": 4}, headers=analyst)
    ).json()
    assert first["evidenceBundleId"] != other["evidenceBundleId"]


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({}, ["scenarioId"]),
        ({"scenarioId": "latency-spike", "windowMinutesBefore": 0}, ["windowMinutesBefore"]),
        ({"scenarioId": "latency-spike", "windowMinutesAfter": 121}, ["windowMinutesAfter"]),
        ({"scenarioId": "latency-spike", "windowMinutesBefore": "15"}, ["windowMinutesBefore"]),
        ({"scenarioId": "latency-spike", "windowMinutesBefor": 15}, ["windowMinutesBefor"]),
        ({"scenarioId": 7, "variant": 6}, ["scenarioId", "variant"]),
    ],
)
async def test_bad_analyze_bodies_are_400_naming_each_field(
    client: httpx.AsyncClient, analyst: dict[str, str], body: dict[str, Any], paths: list[str]
) -> None:
    response = await client.post(ANALYZE, json=body, headers=analyst)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "Invalid request body"
    assert sorted(e["path"] for e in response.json()["errors"]) == sorted(paths)
    listed = (await client.get("/v1/incidents", headers=analyst)).json()
    assert listed["items"] == []


async def test_malformed_and_non_object_bodies_are_400(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    malformed = await client.post(
        ANALYZE,
        content=b'{"scenarioId": ',
        headers={**analyst, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["message"] == "Malformed JSON body"
    listed = await client.post(ANALYZE, json=["latency-spike"], headers=analyst)
    assert listed.status_code == 400


async def test_an_unknown_scenario_is_404_and_stores_nothing(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(ANALYZE, json={"scenarioId": "no-such"}, headers=analyst)
    assert response.status_code == 404
    assert response.json() == {
        "message": "Scenario not found: no-such",
        "code": "scenario-not-found",
    }
    assert (await client.get("/v1/incidents", headers=analyst)).json()["items"] == []


async def test_analyze_needs_an_analyst(client: httpx.AsyncClient, viewer: dict[str, str]) -> None:
    anonymous = await client.post(ANALYZE, json={"scenarioId": "latency-spike"})
    assert anonymous.status_code == 401
    forbidden = await client.post(ANALYZE, json={"scenarioId": "latency-spike"}, headers=viewer)
    assert forbidden.status_code == 403
    assert "CHRONOSOPS_ANALYST" in forbidden.json()["requiredRoles"]


def _scenario_request(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "sourceType": "SCENARIO",
        "sourceRef": "downstream-outage:pagerduty-drill",
        "timeline": {"start": "2026-03-01T09:00:00Z"},
        "metadata": {"service": "recommendation-engine", "environment": "production"},
    }
    return request(**{**fields, **changes})


async def test_a_generic_scenario_ingest_naming_a_scenario_gets_its_evidence(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post("/v1/incidents/ingest", json=_scenario_request(), headers=analyst)
    assert response.status_code == 201, response.text
    bundle = await _bundle(client, analyst, response.json()["evidenceBundleId"])
    assert bundle["synthetic"] is True
    assert bundle["sources"] == ["scenario:downstream-outage"]
    series = [a for a in bundle["artifacts"] if a["kind"] == "metric_series"]
    starts = {a["points"][0]["ts"] for a in series}
    ends = {a["points"][-1]["ts"] for a in series}
    # No end: the window is start − 15 min to start + 15 min, and so is the telemetry.
    assert starts == {"2026-03-01T08:45:00.000Z"}
    assert ends == {"2026-03-01T09:15:00.000Z"}


async def test_evidence_lite_on_a_scenario_ingest_wins_unless_collection_is_forced(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    lite = {
        "logs": [
            {
                "message": "feature-store unavailable",
                "level": "ERROR",
                "timestamp": "2026-03-01T09:01:00Z",
            }
        ]
    }
    plain = await client.post(
        "/v1/incidents/ingest", json=_scenario_request(evidenceLite=lite), headers=analyst
    )
    bundle = await _bundle(client, analyst, plain.json()["evidenceBundleId"])
    assert bundle["synthetic"] is False
    assert bundle["sources"] == ["evidenceLite"]

    forced = await client.post(
        "/v1/incidents/ingest",
        json=_scenario_request(
            sourceRef="downstream-outage:forced",
            evidenceLite=lite,
            collectionContext={"forceCollect": True},
        ),
        headers=analyst,
    )
    merged = await _bundle(client, analyst, forced.json()["evidenceBundleId"])
    assert merged["sources"] == ["evidenceLite", "scenario:downstream-outage"]
    assert merged["synthetic"] is True


async def test_bad_scenario_options_in_custom_fields_are_400_before_anything_is_stored(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = _scenario_request(
        metadata={"service": "x", "customFields": {"scenario": {"seed": "1", "variant": 77}}}
    )
    response = await client.post("/v1/incidents/ingest", json=body, headers=analyst)
    assert response.status_code == 400, response.text
    paths = [e["path"] for e in response.json()["errors"]]
    # Every broken rule at once, each named: the seed's type and the variant's range.
    assert paths == [
        "metadata.customFields.scenario.seed",
        "metadata.customFields.scenario.variant",
    ]
    assert (await client.get("/v1/incidents", headers=analyst)).json()["items"] == []


async def test_a_scenario_ingest_whose_ref_names_no_scenario_simply_has_no_evidence(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/incidents/ingest", json=_scenario_request(sourceRef="drill-42"), headers=analyst
    )
    assert response.status_code == 201
    bundle = await _bundle(client, analyst, response.json()["evidenceBundleId"])
    assert bundle["artifacts"] == []
    assert bundle["synthetic"] is False


async def test_switching_scenarios_off_hides_them_and_ingests_without_them(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    client, _ = await client_with(scenarios_enabled=False)
    listed = await client.get("/v1/scenarios")
    assert listed.status_code == 404
    assert listed.json()["code"] == "disabled"
    analyze = await client.post(ANALYZE, json={"scenarioId": "latency-spike"}, headers=analyst)
    assert analyze.status_code == 404
    ingested = await client.post("/v1/incidents/ingest", json=_scenario_request(), headers=analyst)
    assert ingested.status_code == 201
    bundle = await _bundle(client, analyst, ingested.json()["evidenceBundleId"])
    assert bundle["artifacts"] == []
    assert bundle["collection"][0]["status"] == "skipped"


async def test_reanalysing_a_scenario_incident_reuses_its_bundle(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = (
        await client.post(ANALYZE, json={"scenarioId": "rate-limit-triggered"}, headers=analyst)
    ).json()
    again = await client.post(f"/v1/incidents/{created['incidentId']}/reanalyze", headers=analyst)
    assert again.status_code == 201
    assert again.json()["evidenceBundleId"] == created["evidenceBundleId"]
    assert again.json()["analysisId"] != created["analysisId"]
