"""Comparing two analyses and drawing one: over HTTP, against stored analyses and bundles."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx

from chronosops.auth import Principal
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.investigation import window_of
from tests.fixtures.guide import example, request

ANALYZE = "/v1/incidents/analyze"
INGEST = "/v1/incidents/ingest"


async def scenario(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(
        ANALYZE, json={"scenarioId": "latency-spike", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def two_analyses_with_more_evidence(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> tuple[str, str]:
    """An incident analysed on thin evidence, then again with logs added (a new bundle)."""
    thin = example("example_2_with_evidence")
    thin["evidenceLite"] = {"metrics": thin["evidenceLite"]["metrics"]}
    first = (await client.post(INGEST, json=thin, headers=headers)).json()
    richer = example("example_2_with_evidence")
    second = (
        await client.post(INGEST, json={**richer, "sourceRef": "other"}, headers=headers)
    ).json()
    return first["analysisId"], second["analysisId"]


async def test_reanalysing_the_same_evidence_changes_nothing_that_matters(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await scenario(client, analyst)
    again = (
        await client.post(f"/v1/incidents/{created['incidentId']}/reanalyze", headers=analyst)
    ).json()
    response = await client.get(
        f"/v1/analyses/{created['analysisId']}/compare/{again['analysisId']}", headers=analyst
    )
    assert response.status_code == 200, response.text
    assert response.json()["keyChanges"] == []


async def test_analyses_of_different_incidents_are_400_naming_b(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    a, b = await two_analyses_with_more_evidence(client, analyst)
    response = await client.get(f"/v1/analyses/{a}/compare/{b}", headers=analyst)
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["errors"]] == ["b"]


async def test_an_unknown_analysis_is_404(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await scenario(client, analyst)
    response = await client.get(
        f"/v1/analyses/{created['analysisId']}/compare/anl-nope", headers=analyst
    )
    assert response.status_code == 404


async def test_a_richer_bundle_shows_as_evidence_added(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    body = request(
        sourceRef="drift",
        evidenceLite={
            "metrics": [{"name": "error_rate", "value": 0.2, "timestamp": "2024-01-15T10:00:00Z"}]
        },
    )
    created = (await client.post(INGEST, json=body, headers=analyst)).json()
    incident_id = created["incidentId"]
    # The same incident reported again with a log line: a re-analysis of a richer bundle.
    async with services.database.unit_of_work() as session:
        incident = await services.incidents.get(session, incident_id)
    logs = IngestIncidentRequest.model_validate(example("example_2_with_evidence"))
    richer = services.evidence.seal(
        [
            *await _artifacts(services, created["evidenceBundleId"]),
            *services.evidence.artifacts_from_request(logs)[1:],
        ]
    )
    outcome = await services.pipeline.analyze_bundle(
        incident,
        richer,
        window=window_of(incident),
        principal=Principal(subject="analyst", roles=frozenset(), issuer="local"),
    )
    compared = (
        await client.get(
            f"/v1/analyses/{created['analysisId']}/compare/{outcome.analysis.analysis_id}",
            headers=analyst,
        )
    ).json()
    assert compared["evidence"]["bundleChanged"] is True
    assert {a["kind"] for a in compared["evidence"]["added"]} >= {"log_template"}


async def _artifacts(services: Services, bundle_id: str) -> list[Any]:
    async with services.database.unit_of_work(write=False) as session:
        artifacts: list[Any] = await services.evidence.artifacts(session, bundle_id)
    return artifacts


async def test_the_graph_runs_from_evidence_to_one_conclusion(
    client: httpx.AsyncClient, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    created = await scenario(client, analyst)
    graph = (await client.get(f"/v1/analyses/{created['analysisId']}/graph", headers=viewer)).json()
    types = {node["type"] for node in graph["nodes"]}
    assert types == {"EVIDENCE", "SIGNAL", "HYPOTHESIS", "ACTION", "CONCLUSION"}


async def test_the_conclusion_names_the_top_hypothesis(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await scenario(client, analyst)
    graph = (
        await client.get(f"/v1/analyses/{created['analysisId']}/graph", headers=analyst)
    ).json()
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    top = analysis["result"]["hypotheses"][0]
    leads_to = [e for e in graph["edges"] if e["to"] == "conclusion"]
    assert [e["from"] for e in leads_to] == [f"hypothesis:{top['id']}"]


async def test_every_edge_joins_two_nodes_and_every_node_links_somewhere(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await scenario(client, analyst)
    graph = (
        await client.get(f"/v1/analyses/{created['analysisId']}/graph", headers=analyst)
    ).json()
    ids = {node["id"] for node in graph["nodes"]}
    assert {e["from"] for e in graph["edges"]} | {e["to"] for e in graph["edges"]} <= ids
    assert all(node["href"] for node in graph["nodes"])


async def test_evidence_nodes_are_the_bundle_artifacts(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await scenario(client, analyst)
    graph = (
        await client.get(f"/v1/analyses/{created['analysisId']}/graph", headers=analyst)
    ).json()
    bundle = (
        await client.get(f"/v1/evidence-bundles/{created['evidenceBundleId']}", headers=analyst)
    ).json()
    evidence = {n["refersTo"]["artifactId"] for n in graph["nodes"] if n["type"] == "EVIDENCE"}
    assert evidence == {a["artifactId"] for a in bundle["artifacts"]}


async def test_the_svg_is_well_formed_with_one_box_per_node(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await scenario(client, analyst)
    path = f"/v1/analyses/{created['analysisId']}/graph"
    graph = (await client.get(path, headers=analyst)).json()
    response = await client.get(path, headers={**analyst, "Accept": "image/svg+xml"})
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)
    boxes = root.findall(".//{http://www.w3.org/2000/svg}rect")
    assert len(boxes) == len(graph["nodes"])


async def test_incident_text_in_the_svg_is_escaped(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = request(
        sourceRef="markup",
        evidenceLite={
            "logs": [
                {
                    "message": '<script>alert(1)</script> & "quoted"',
                    "level": "ERROR",
                    "timestamp": "2024-01-15T10:00:05Z",
                }
            ]
        },
    )
    created = (await client.post(INGEST, json=body, headers=analyst)).json()
    svg = (
        await client.get(
            f"/v1/analyses/{created['analysisId']}/graph",
            headers={**analyst, "Accept": "image/svg+xml"},
        )
    ).text
    assert "<script>" not in svg
    ET.fromstring(svg)  # still well-formed XML
