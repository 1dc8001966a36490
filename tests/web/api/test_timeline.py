"""Notes are kept and rendered safely; the timeline tells the incident's story in time order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.console import checkout_incident

INGEST = "/v1/incidents/ingest"


async def ingest(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> str:
    response = await client.post(INGEST, json=body, headers=headers)
    assert response.status_code == 201, response.text
    incident_id: str = response.json()["incidentId"]
    return incident_id


async def test_a_note_is_kept_with_its_author_and_its_markdown_rendered(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    response = await client.post(
        f"/v1/incidents/{incident}/notes",
        json={"body": "Rolled back **v2.4.1**; see [runbook](https://runbooks.example/checkout)"},
        headers=analyst,
    )
    assert response.status_code == 201, response.text
    note = response.json()
    assert note["author"] == "analyst"
    assert "<strong>v2.4.1</strong>" in note["bodyHtml"]
    assert 'href="https://runbooks.example/checkout"' in note["bodyHtml"]
    assert 'rel="nofollow noopener noreferrer"' in note["bodyHtml"]
    listed = (await client.get(f"/v1/incidents/{incident}/notes", headers=analyst)).json()
    assert [n["id"] for n in listed] == [note["id"]]
    events = (await client.get(f"/v1/incidents/{incident}/audit-events", headers=analyst)).json()
    assert events[-1]["eventType"] == "INCIDENT_NOTE_ADDED"
    assert events[-1]["payload"]["noteId"] == note["id"]


@pytest.mark.parametrize(
    ("markdown", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("[click](javascript:alert(1))", 'href="javascript'),
        ("[click](JAVASCRIPT:alert(1))", "href="),
        ("[data](data:text/html;base64,PHNjcmlwdD4=)", "href="),
        ("![pixel](https://tracker.example/p.gif)", "<img"),
        ('[x](https://e.com "t\\" onmouseover=\\"alert(1)")', 'onmouseover="'),
        ("<a href='https://e.com'>x</a>", "<a href='"),
    ],
)
async def test_html_and_dangerous_links_in_a_note_never_render_as_markup(
    client: httpx.AsyncClient, analyst: dict[str, str], markdown: str, forbidden: str
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    response = await client.post(
        f"/v1/incidents/{incident}/notes", json={"body": markdown}, headers=analyst
    )
    assert response.status_code == 201, response.text
    assert forbidden not in response.json()["bodyHtml"]
    assert response.json()["body"] == markdown


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "body"),
        ({"body": "   "}, "body"),
        ({"body": 5}, "body"),
        ({"body": "x" * 20_001}, "body"),
        ({"body": "ok", "author": "someone else"}, "author"),
        (["body"], ""),
    ],
)
async def test_a_bad_note_is_a_400_naming_the_field(
    client: httpx.AsyncClient, analyst: dict[str, str], body: Any, path: str
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    response = await client.post(f"/v1/incidents/{incident}/notes", json=body, headers=analyst)
    assert response.status_code == 400, response.text
    assert [error["path"] for error in response.json()["errors"]] == [path]


async def test_viewers_read_notes_but_cannot_write_them(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    denied = await client.post(
        f"/v1/incidents/{incident}/notes", json={"body": "hi"}, headers=viewer
    )
    assert denied.status_code == 403
    assert (await client.get(f"/v1/incidents/{incident}/notes", headers=viewer)).status_code == 200
    missing = await client.post("/v1/incidents/nope/notes", json={"body": "hi"}, headers=analyst)
    assert missing.status_code == 404


async def test_the_timeline_merges_alert_change_evidence_analysis_lifecycle_and_notes_in_order(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    await client.post(f"/v1/incidents/{incident}/acknowledge", headers=analyst)
    await client.post(
        f"/v1/incidents/{incident}/notes", json={"body": "Looking at the deploy"}, headers=analyst
    )
    await client.patch(f"/v1/incidents/{incident}", json={"assignee": "dana"}, headers=analyst)
    await client.post(f"/v1/incidents/{incident}/resolve", headers=analyst)

    response = await client.get(f"/v1/incidents/{incident}/timeline", headers=analyst)
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    kinds = [entry["kind"] for entry in entries]
    for kind in ("alert", "change", "evidence", "analysis", "lifecycle", "note", "update"):
        assert kind in kinds, kinds
    instants = [entry["at"] for entry in entries]
    assert instants == sorted(instants)
    # the deploy happened before the incident started, the note after it was acknowledged
    assert kinds.index("change") < kinds.index("alert")
    titles = [entry["title"] for entry in entries]
    assert titles.index("Acknowledged (via api)") < titles.index("Note")
    assert titles[-1] == "Resolved (via api)"
    note = next(entry for entry in entries if entry["kind"] == "note")
    assert note["detail"]["body"] == "Looking at the deploy"
    # an analysis reads after the evidence it was made from
    assert kinds.index("evidence") < kinds.index("analysis")
    analysis = next(entry for entry in entries if entry["kind"] == "analysis")
    assert analysis["ref"] is not None
    assert analysis["title"].startswith("Analysis: ")


async def test_the_timeline_of_an_unknown_incident_is_a_404(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    response = await client.get("/v1/incidents/nope/timeline", headers=viewer)
    assert response.status_code == 404
