"""Postmortems over HTTP: drafted with every analysis, versioned, JSON or Markdown, grounded in the bundle."""

from __future__ import annotations

from typing import Any

import httpx

ANALYZE = "/v1/incidents/analyze"


async def analysed_scenario(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post(ANALYZE, json={"scenarioId": "latency-spike"}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def postmortems_of(
    client: httpx.AsyncClient, headers: dict[str, str], incident_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/incidents/{incident_id}/postmortems", headers=headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def cited_refs(content: dict[str, Any]) -> set[str]:
    refs: set[str] = set(content["rootCause"]["evidenceRefs"]) | set(
        content["impact"]["evidenceRefs"]
    )
    for key in ("timeline", "contributingFactors", "whatWentWell", "whatWentBadly", "actionItems"):
        for item in content[key]:
            refs |= set(item["evidenceRefs"])
    return refs


async def test_an_analysis_drafts_version_one_of_the_postmortem(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    listed = await postmortems_of(client, analyst, created["incidentId"])
    assert [(p["version"], p["analysisId"]) for p in listed] == [(1, created["analysisId"])]


async def test_the_postmortem_has_every_section_the_issue_names(
    client: httpx.AsyncClient, viewer: dict[str, str], analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    [summary] = await postmortems_of(client, viewer, created["incidentId"])
    content = (
        await client.get(f"/v1/postmortems/{summary['postmortemId']}", headers=viewer)
    ).json()["content"]
    assert {
        "executiveSummary",
        "impact",
        "timeline",
        "rootCause",
        "contributingFactors",
        "whatWentWell",
        "whatWentBadly",
        "actionItems",
        "evidence",
    } <= set(content)


async def test_the_root_cause_is_the_analysis_top_hypothesis_with_its_confidence(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    [summary] = await postmortems_of(client, analyst, created["incidentId"])
    root = (await client.get(f"/v1/postmortems/{summary['postmortemId']}", headers=analyst)).json()[
        "content"
    ]["rootCause"]
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    top = analysis["result"]["hypotheses"][0]
    assert (root["hypothesisId"], root["confidence"]) == (top["id"], top["confidence"])


async def test_action_items_have_no_owner_yet(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    [summary] = await postmortems_of(client, analyst, created["incidentId"])
    items = (
        await client.get(f"/v1/postmortems/{summary['postmortemId']}", headers=analyst)
    ).json()["content"]["actionItems"]
    assert {item["owner"] for item in items} == {None}


async def test_every_cited_evidence_id_is_listed_and_resolves_in_the_bundle(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    [summary] = await postmortems_of(client, analyst, created["incidentId"])
    content = (
        await client.get(f"/v1/postmortems/{summary['postmortemId']}", headers=analyst)
    ).json()["content"]
    bundle = (
        await client.get(f"/v1/evidence-bundles/{created['evidenceBundleId']}", headers=analyst)
    ).json()
    in_bundle = {a["artifactId"] for a in bundle["artifacts"]}
    listed = {a["artifactId"] for a in content["evidence"]["artifacts"]}
    assert cited_refs(content) == listed != set()
    assert listed <= in_bundle


async def test_a_synthetic_incident_says_so_in_the_markdown(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    [summary] = await postmortems_of(client, analyst, created["incidentId"])
    markdown = (
        await client.get(f"/v1/postmortems/{summary['postmortemId']}.md", headers=analyst)
    ).text
    assert "**Synthetic evidence.**" in markdown


async def test_markdown_comes_with_the_suffix_or_the_accept_header_alike(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    [summary] = await postmortems_of(client, analyst, created["incidentId"])
    by_suffix = await client.get(f"/v1/postmortems/{summary['postmortemId']}.md", headers=analyst)
    by_accept = await client.get(
        f"/v1/postmortems/{summary['postmortemId']}",
        headers={**analyst, "Accept": "text/markdown"},
    )
    assert by_accept.headers["content-type"].startswith("text/markdown")
    assert by_suffix.text == by_accept.text


async def test_the_accept_headers_quality_values_decide_between_json_and_markdown(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    [summary] = await postmortems_of(client, analyst, created["incidentId"])

    async def media_for(accept: str) -> str:
        response = await client.get(
            f"/v1/postmortems/{summary['postmortemId']}", headers={**analyst, "Accept": accept}
        )
        return response.headers["content-type"].split(";")[0]

    assert await media_for("text/markdown;q=0.1, application/json") == "application/json"
    assert await media_for("text/markdown;q=0") == "application/json"
    assert await media_for("application/json;q=0.5, text/markdown") == "text/markdown"
    assert await media_for("text/markdown, application/json") == "text/markdown"
    assert await media_for("application/json, text/markdown") == "application/json"
    assert await media_for("*/*") == "application/json"


async def test_the_markdown_has_the_sections_in_order(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    [summary] = await postmortems_of(client, analyst, created["incidentId"])
    markdown = (
        await client.get(f"/v1/postmortems/{summary['postmortemId']}.md", headers=analyst)
    ).text
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Executive summary",
        "## Impact",
        "## Timeline",
        "## Root cause",
        "## Contributing factors",
        "## What went well",
        "## What went badly",
        "## Action items",
        "## Evidence",
    ]


async def test_reanalysis_drafts_the_next_version_with_the_same_content(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    again = await client.post(f"/v1/incidents/{created['incidentId']}/reanalyze", headers=analyst)
    assert again.status_code == 201, again.text
    listed = await postmortems_of(client, analyst, created["incidentId"])
    assert [p["version"] for p in listed] == [2, 1]
    # Same evidence, same engine: only the analysis it was drafted from differs.
    first, second = [
        (await client.get(f"/v1/postmortems/{p['postmortemId']}", headers=analyst)).json()[
            "content"
        ]
        for p in listed[::-1]
    ]
    assert first["rootCause"] == second["rootCause"]


async def test_postmortem_creation_is_on_the_audit_chain(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_scenario(client, analyst)
    events = (
        await client.get(f"/v1/incidents/{created['incidentId']}/audit-events", headers=analyst)
    ).json()
    assert [e["eventType"] for e in events][-1] == "POSTMORTEM_CREATED"


async def test_unknown_postmortems_and_incidents_are_404(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    assert (await client.get("/v1/postmortems/pm-nope", headers=viewer)).status_code == 404
    assert (await client.get("/v1/postmortems/pm-nope.md", headers=viewer)).status_code == 404
    assert (await client.get("/v1/incidents/nope/postmortems", headers=viewer)).status_code == 404


async def test_postmortems_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/postmortems/pm-x")).status_code == 401
