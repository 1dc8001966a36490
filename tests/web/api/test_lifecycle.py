"""People work an incident: acknowledge, resolve, reopen, assign; vendors' acks drive the same."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.guide import request
from tests.fixtures.webhooks import Hooks
from tests.sources.payloads import load

INGEST = "/v1/incidents/ingest"


async def open_incident(
    client: httpx.AsyncClient, headers: dict[str, str], ref: str = "life-1", **changes: Any
) -> str:
    body = request(sourceRef=ref, timeline={"start": "2024-01-15T10:00:00Z"}, **changes)
    response = await client.post(INGEST, json=body, headers=headers)
    assert response.status_code == 201, response.text
    incident_id: str = response.json()["incidentId"]
    return incident_id


async def audit_types(
    client: httpx.AsyncClient, headers: dict[str, str], incident_id: str
) -> list[str]:
    response = await client.get(f"/v1/incidents/{incident_id}/audit-events", headers=headers)
    assert response.status_code == 200, response.text
    return [event["eventType"] for event in response.json()]


async def test_a_new_open_incident_is_triggered_and_unassigned(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await open_incident(client, analyst)
    body = (await client.get(f"/v1/incidents/{incident_id}", headers=analyst)).json()
    assert body["lifecycle"]["state"] == "triggered"
    assert body["assignee"] is None
    assert body["isResolved"] is False


async def test_a_full_record_that_already_ended_arrives_resolved_at_its_end(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = request(sourceRef="ended")
    incident_id = (await client.post(INGEST, json=body, headers=analyst)).json()["incidentId"]
    read = (await client.get(f"/v1/incidents/{incident_id}", headers=analyst)).json()
    assert read["lifecycle"]["state"] == "resolved"
    assert read["isResolved"] is True
    assert read["lifecycle"]["resolvedAt"] == read["timeline"]["end"]
    assert read["lifecycle"]["resolvedBy"] is not None


async def test_acknowledge_then_resolve_records_who_and_when_and_is_audited(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await open_incident(client, analyst)
    ack = await client.post(f"/v1/incidents/{incident_id}/acknowledge", headers=analyst)
    assert ack.status_code == 200, ack.text
    assert ack.json()["changed"] is True
    lifecycle = ack.json()["incident"]["lifecycle"]
    assert (lifecycle["state"], lifecycle["acknowledgedBy"]) == ("acknowledged", "analyst")
    assert lifecycle["acknowledgedAt"] is not None

    resolved = await client.post(f"/v1/incidents/{incident_id}/resolve", headers=analyst)
    assert resolved.status_code == 200, resolved.text
    lifecycle = resolved.json()["incident"]["lifecycle"]
    assert (lifecycle["state"], lifecycle["resolvedBy"]) == ("resolved", "analyst")
    assert lifecycle["resolvedAt"] is not None
    assert resolved.json()["incident"]["isResolved"] is True
    # the pipeline status is its own thing and is untouched
    assert resolved.json()["incident"]["status"] == "analyzed"

    types = await audit_types(client, analyst, incident_id)
    assert types[-2:] == ["INCIDENT_ACKNOWLEDGED", "INCIDENT_RESOLVED"]
    verified = (await client.get(f"/v1/incidents/{incident_id}/verify", headers=analyst)).json()
    assert verified["status"] == "VERIFIED"


async def test_asking_for_the_state_it_is_in_changes_nothing_and_audits_nothing(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await open_incident(client, analyst)
    await client.post(f"/v1/incidents/{incident_id}/acknowledge", headers=analyst)
    before = await audit_types(client, analyst, incident_id)
    again = await client.post(f"/v1/incidents/{incident_id}/acknowledge", headers=analyst)
    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert await audit_types(client, analyst, incident_id) == before


async def test_a_resolved_incident_must_be_reopened_before_it_is_acknowledged(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await open_incident(client, analyst)
    await client.post(f"/v1/incidents/{incident_id}/resolve", headers=analyst)
    refused = await client.post(f"/v1/incidents/{incident_id}/acknowledge", headers=analyst)
    assert refused.status_code == 409
    assert "reopen" in refused.json()["message"]

    reopened = await client.post(f"/v1/incidents/{incident_id}/reopen", headers=analyst)
    assert reopened.status_code == 200, reopened.text
    lifecycle = reopened.json()["incident"]["lifecycle"]
    assert (lifecycle["state"], lifecycle["resolvedBy"], lifecycle["resolvedAt"]) == (
        "triggered",
        None,
        None,
    )
    assert (await audit_types(client, analyst, incident_id))[-1] == "INCIDENT_REOPENED"


async def test_an_open_incident_cannot_be_reopened(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await open_incident(client, analyst)
    refused = await client.post(f"/v1/incidents/{incident_id}/reopen", headers=analyst)
    assert refused.status_code == 409


async def test_a_reopened_incident_takes_the_repeat_reports_of_its_reference(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await open_incident(client, analyst)
    await client.post(f"/v1/incidents/{incident_id}/resolve", headers=analyst)
    await client.post(f"/v1/incidents/{incident_id}/reopen", headers=analyst)
    body = request(sourceRef="life-1", timeline={"start": "2024-01-15T10:05:00Z"})
    repeat = await client.post(INGEST, json=body, headers=analyst)
    assert repeat.status_code == 200
    assert repeat.json()["incidentId"] == incident_id


async def test_viewers_may_read_but_not_change_the_lifecycle(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    incident_id = await open_incident(client, analyst)
    for action in ("acknowledge", "resolve", "reopen"):
        response = await client.post(f"/v1/incidents/{incident_id}/{action}", headers=viewer)
        assert response.status_code == 403
    patch = await client.patch(
        f"/v1/incidents/{incident_id}", json={"assignee": "x"}, headers=viewer
    )
    assert patch.status_code == 403


async def test_an_unknown_incident_is_a_404(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    assert (await client.post("/v1/incidents/nope/acknowledge", headers=analyst)).status_code == 404
    patch = await client.patch("/v1/incidents/nope", json={"assignee": "x"}, headers=analyst)
    assert patch.status_code == 404


async def test_patch_sets_assignee_severity_and_title_and_audits_the_changes(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = await open_incident(client, analyst)
    response = await client.patch(
        f"/v1/incidents/{incident_id}",
        json={"assignee": "  dana  ", "severity": "critical", "title": "Payments down"},
        headers=analyst,
    )
    assert response.status_code == 200, response.text
    incident = response.json()["incident"]
    assert (incident["assignee"], incident["severity"], incident["title"]) == (
        "dana",
        "critical",
        "Payments down",
    )
    assert response.json()["changes"]["severity"] == {"from": "high", "to": "critical"}
    events = (await client.get(f"/v1/incidents/{incident_id}/audit-events", headers=analyst)).json()
    assert events[-1]["eventType"] == "INCIDENT_UPDATED"
    assert events[-1]["payload"]["changes"]["assignee"] == {"from": None, "to": "dana"}

    unassigned = await client.patch(
        f"/v1/incidents/{incident_id}", json={"assignee": None}, headers=analyst
    )
    assert unassigned.json()["incident"]["assignee"] is None


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"severity": "urgent"}, "severity"),
        ({"severity": None}, "severity"),
        ({"title": ""}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"assignee": "a" * 257}, "assignee"),
        ({"assignee": 5}, "assignee"),
        ({"status": "analyzed"}, "status"),
        ({}, ""),
        ([], ""),
    ],
)
async def test_a_bad_patch_is_a_400_naming_the_field(
    client: httpx.AsyncClient, analyst: dict[str, str], body: Any, path: str
) -> None:
    incident_id = await open_incident(client, analyst)
    response = await client.patch(f"/v1/incidents/{incident_id}", json=body, headers=analyst)
    assert response.status_code == 400, response.text
    assert [error["path"] for error in response.json()["errors"]] == [path]


async def test_the_list_filters_by_lifecycle_state_and_assignee(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    first = await open_incident(client, analyst, "a")
    second = await open_incident(client, analyst, "b")
    third = await open_incident(client, analyst, "c")
    await client.post(f"/v1/incidents/{first}/acknowledge", headers=analyst)
    await client.post(f"/v1/incidents/{second}/resolve", headers=analyst)
    await client.patch(f"/v1/incidents/{third}", json={"assignee": "dana"}, headers=analyst)

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/v1/incidents?{query}", headers=analyst)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids("lifecycle=acknowledged") == [first]
    assert await ids("lifecycle=resolved") == [second]
    assert await ids("lifecycle=triggered") == [third]
    assert await ids("assignee=dana") == [third]
    assert await ids("assignee=-") == [second, first]
    assert await ids("resolved=false") == [third, first]
    bad = await client.get("/v1/incidents?lifecycle=closed", headers=analyst)
    assert bad.status_code == 400


async def test_a_pagerduty_acknowledgement_acknowledges_the_incident_as_its_agent(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    opened = await hooks.post("pagerduty", load("pagerduty", "v3_incident_triggered"))
    incident_id = opened.json()["events"][0]["incidentId"]
    ack = await hooks.post("pagerduty", load("pagerduty", "v3_incident_acknowledged"))
    assert ack.status_code == 200, ack.text
    event = ack.json()["events"][0]
    assert (event["incidentId"], event["lifecycle"], event["incidentLifecycle"]) == (
        incident_id,
        "acknowledge",
        "acknowledged",
    )
    read = (await hooks.http.get(f"/v1/incidents/{incident_id}", headers=viewer)).json()
    assert read["lifecycle"]["acknowledgedBy"] == "webhook:pagerduty/Dana Oncall"

    resolved = await hooks.post("pagerduty", load("pagerduty", "v3_incident_resolved"))
    assert resolved.json()["events"][0]["incidentLifecycle"] == "resolved"
    read = (await hooks.http.get(f"/v1/incidents/{incident_id}", headers=viewer)).json()
    assert read["lifecycle"]["state"] == "resolved"
    assert read["lifecycle"]["resolvedBy"].startswith("webhook:pagerduty")
    events = (
        await hooks.http.get(f"/v1/incidents/{incident_id}/audit-events", headers=viewer)
    ).json()
    assert [e["eventType"] for e in events][-2:] == ["INCIDENT_ACKNOWLEDGED", "INCIDENT_RESOLVED"]


async def test_an_opsgenie_acknowledgement_names_the_opsgenie_user(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    opened = await hooks.post("opsgenie", load("opsgenie", "create"))
    incident_id = opened.json()["events"][0]["incidentId"]
    ack = await hooks.post("opsgenie", load("opsgenie", "acknowledge"))
    assert ack.json()["events"][0]["outcome"] == "updated"
    read = (await hooks.http.get(f"/v1/incidents/{incident_id}", headers=viewer)).json()
    assert read["lifecycle"]["state"] == "acknowledged"
    assert read["lifecycle"]["acknowledgedBy"] == "webhook:opsgenie/dana@example.com"


async def test_a_vendor_acknowledgement_of_a_resolved_incident_is_recorded_not_refused(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    await hooks.post("pagerduty", load("pagerduty", "v3_incident_triggered"))
    await hooks.post("pagerduty", load("pagerduty", "v3_incident_resolved"))
    late = await hooks.post("pagerduty", load("pagerduty", "v3_incident_acknowledged"))
    assert late.status_code == 200, late.text
    assert late.json()["events"][0]["incidentLifecycle"] == "resolved"


async def test_a_new_relic_acknowledged_issue_arrives_acknowledged(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    response = await hooks.post("newrelic", load("newrelic", "workflow_acknowledged"))
    assert response.status_code == 201
    assert response.json()["events"][0]["incidentLifecycle"] == "acknowledged"
