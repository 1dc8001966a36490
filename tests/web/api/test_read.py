"""Reading incidents back: filters, cursor pages, shared bundles, analyses, 404s."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.guide import example, request

INGEST = "/v1/incidents/ingest"


async def seed(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    bodies = [
        request(
            sourceRef="a",
            title="Checkout latency",
            severity="high",
            metadata={"service": "checkout"},
            timeline={"start": "2024-01-10T10:00:00Z"},
        ),
        request(
            sourceRef="b",
            title="Payments errors",
            severity="critical",
            sourceType="PAGERDUTY",
            metadata={"service": "payments"},
            timeline={"start": "2024-01-11T10:00:00Z"},
        ),
        request(
            sourceRef="c",
            title="checkout DNS failure",
            severity="low",
            metadata={"service": "checkout"},
            timeline={"start": "2024-01-12T10:00:00Z", "end": "2024-01-12T11:00:00Z"},
        ),
        request(
            sourceRef="d",
            title="Search 100% CPU_spike",
            severity="high",
            sourceType="DATADOG",
            metadata={"service": "search"},
            timeline={"start": "2024-01-13T10:00:00Z"},
        ),
    ]
    ids = []
    for body in bodies:
        ids.append((await client.post(INGEST, json=body, headers=headers)).json()["incidentId"])
    return ids


def refs(response: httpx.Response) -> list[str]:
    return [item["sourceRef"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["d", "c", "b", "a"]),
        ("?severity=high", ["d", "a"]),
        ("?sourceType=PAGERDUTY", ["b"]),
        ("?service=checkout", ["c", "a"]),
        ("?q=CHECKOUT", ["c", "a"]),
        ("?q=100%25", ["d"]),
        ("?q=_spike", ["d"]),
        ("?resolved=true", ["c"]),
        ("?resolved=false&service=checkout", ["a"]),
        ("?startedAfter=2024-01-11T00:00:00Z&startedBefore=2024-01-13T00:00:00Z", ["c", "b"]),
        ("?status=analyzed&severity=critical", ["b"]),
    ],
)
async def test_filters_narrow_the_list(
    client: httpx.AsyncClient, analyst: dict[str, str], query: str, expected: list[str]
) -> None:
    await seed(client, analyst)
    response = await client.get(f"/v1/incidents{query}", headers=analyst)
    assert response.status_code == 200, response.text
    assert refs(response) == expected


async def test_the_cursor_walks_every_incident_once(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    await seed(client, analyst)
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/v1/incidents{query}", headers=analyst)).json()
        seen += [item["sourceRef"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ["d", "c", "b", "a"]


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("?severity=urgent", "severity"),
        ("?sourceType=SPLUNK", "sourceType"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?startedAfter=yesterday", "startedAfter"),
        ("?cursor=not-a-cursor", "cursor"),
    ],
)
async def test_bad_query_parameters_are_400_naming_the_parameter(
    client: httpx.AsyncClient, analyst: dict[str, str], query: str, path: str
) -> None:
    response = await client.get(f"/v1/incidents{query}", headers=analyst)
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["errors"]] == [path]


async def test_identical_evidence_is_one_bundle_shared_by_both_incidents(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    first = example("example_2_with_evidence")
    second = {**first, "sourceRef": "another-incident", "title": "Same evidence, other incident"}
    a = (await client.post(INGEST, json=first, headers=analyst)).json()
    b = (await client.post(INGEST, json=second, headers=analyst)).json()
    assert a["incidentId"] != b["incidentId"]
    assert a["evidenceBundleId"] == b["evidenceBundleId"]
    bundle = (
        await client.get(f"/v1/evidence-bundles/{a['evidenceBundleId']}", headers=analyst)
    ).json()
    assert sorted(bundle["incidentIds"]) == sorted([a["incidentId"], b["incidentId"]])
    assert bundle["hash"] == a["evidenceBundleId"].removeprefix("bundle-")
    events = (
        await client.get(f"/v1/incidents/{b['incidentId']}/audit-events", headers=analyst)
    ).json()
    assert "EVIDENCE_BUNDLE_ATTACHED" in [e["eventType"] for e in events]
    assert "EVIDENCE_BUNDLE_CREATED" not in [e["eventType"] for e in events]


async def test_sensitive_keys_in_evidence_are_redacted_for_non_admins(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    body = request(
        evidenceLite={
            "events": [
                {
                    "type": "config",
                    "description": "rotated",
                    "timestamp": "2024-01-15T09:50:00Z",
                    "metadata": {"password": "hunter2", "key": "DB_POOL"},
                }
            ]
        }
    )
    bundle_id = (await client.post(INGEST, json=body, headers=analyst)).json()["evidenceBundleId"]
    seen_by_analyst = (
        await client.get(f"/v1/evidence-bundles/{bundle_id}", headers=analyst)
    ).json()
    assert seen_by_analyst["redacted"] is True
    assert seen_by_analyst["artifacts"][0]["metadata"] == {
        "password": "[REDACTED]",
        "key": "DB_POOL",
    }
    seen_by_admin = (await client.get(f"/v1/evidence-bundles/{bundle_id}", headers=admin)).json()
    assert seen_by_admin["artifacts"][0]["metadata"]["password"] == "hunter2"


async def test_reanalysis_keeps_a_new_analysis_of_the_same_bundle(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = (
        await client.post(INGEST, json=example("example_2_with_evidence"), headers=analyst)
    ).json()
    again = await client.post(f"/v1/incidents/{created['incidentId']}/reanalyze", headers=analyst)
    assert again.status_code == 201
    assert again.json()["evidenceBundleId"] == created["evidenceBundleId"]
    assert again.json()["analysisId"] != created["analysisId"]
    first = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    second = (
        await client.get(f"/v1/analyses/{again.json()['analysisId']}", headers=analyst)
    ).json()
    assert first["result"] == second["result"]  # same bundle, same answer
    detail = (await client.get(f"/v1/incidents/{created['incidentId']}", headers=analyst)).json()
    assert detail["latestAnalysis"]["analysisId"] == again.json()["analysisId"]
    assert len(detail["analyses"]) == 2


@pytest.mark.parametrize(
    "path",
    [
        "/v1/incidents/nope",
        "/v1/incidents/nope/verify",
        "/v1/evidence-bundles/bundle-0000",
        "/v1/analyses/anl-nope",
    ],
)
async def test_unknown_ids_are_404_with_a_json_message(
    client: httpx.AsyncClient, analyst: dict[str, str], path: str
) -> None:
    response = await client.get(path, headers=analyst)
    assert response.status_code == 404
    assert "not found" in response.json()["message"].lower()


async def test_reanalysing_an_unknown_incident_is_404(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    assert (await client.post("/v1/incidents/nope/reanalyze", headers=analyst)).status_code == 404
