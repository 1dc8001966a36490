"""Working an incident from its page: the buttons, who did it, roles and CSRF."""

from __future__ import annotations

import httpx

from chronosops.auth import Role
from tests.fixtures.console import SignIn, checkout_incident

INGEST = "/v1/incidents/ingest"


async def ingest(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(INGEST, json=checkout_incident(), headers=headers)
    assert response.status_code == 201, response.text
    incident_id: str = response.json()["incidentId"]
    return incident_id


async def test_an_analyst_acknowledges_assigns_resolves_and_reopens_from_the_page(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst)
    csrf = await sign_in(Role.ANALYST, sub="dana")
    page = (await client.get(f"/incidents/{incident}")).text
    assert "lifecycle-triggered" in page
    assert ">Acknowledge</button>" in page

    ack = await client.post(f"/incidents/{incident}/acknowledge", data={"csrf_token": csrf})
    assert ack.status_code == 303
    after = (await client.get(ack.headers["location"])).text
    assert "Acknowledged: you are on it." in after
    assert "lifecycle-acknowledged" in after
    assert ">Acknowledge</button>" not in after

    assigned = await client.post(
        f"/incidents/{incident}/assign", data={"csrf_token": csrf, "assignee": "me"}
    )
    assert assigned.status_code == 303
    api = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    assert api["assignee"] == "dana"
    assert api["lifecycle"]["acknowledgedBy"] == "dana"

    await client.post(f"/incidents/{incident}/resolve", data={"csrf_token": csrf})
    resolved = (await client.get(f"/incidents/{incident}")).text
    assert "lifecycle-resolved" in resolved
    assert ">Reopen</button>" in resolved
    reopened = await client.post(f"/incidents/{incident}/reopen", data={"csrf_token": csrf})
    assert reopened.status_code == 303
    api = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    assert api["lifecycle"]["state"] == "triggered"
    events = (await client.get(f"/v1/incidents/{incident}/audit-events", headers=analyst)).json()
    assert [e["payload"].get("via") for e in events[-4:]] == ["console"] * 4


async def test_viewers_see_no_lifecycle_buttons_and_cannot_post_them(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst)
    csrf = await sign_in(Role.VIEWER)
    page = (await client.get(f"/incidents/{incident}")).text
    assert "lifecycle-triggered" in page
    assert ">Acknowledge</button>" not in page
    response = await client.post(f"/incidents/{incident}/acknowledge", data={"csrf_token": csrf})
    assert response.status_code == 403
    api = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    assert api["lifecycle"]["state"] == "triggered"


async def test_a_lifecycle_post_without_the_form_token_changes_nothing(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst)
    await sign_in(Role.ANALYST)
    response = await client.post(f"/incidents/{incident}/resolve", data={"csrf_token": "forged"})
    assert response.status_code == 403
    api = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    assert api["lifecycle"]["state"] == "triggered"


async def test_the_list_shows_and_filters_by_lifecycle_and_assignee(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    first = await ingest(client, analyst)
    second_body = checkout_incident(sourceRef="second", title="Second incident")
    second = (await client.post(INGEST, json=second_body, headers=analyst)).json()["incidentId"]
    await client.post(f"/v1/incidents/{first}/acknowledge", headers=analyst)
    await client.patch(f"/v1/incidents/{second}", json={"assignee": "sam"}, headers=analyst)
    await sign_in(Role.VIEWER)
    listing = (await client.get("/incidents?lifecycle=acknowledged")).text
    assert f"open-{first}" in listing
    assert f"open-{second}" not in listing
    assert "lifecycle-acknowledged" in listing
    by_assignee = (await client.get("/incidents?assignee=sam")).text
    assert f"open-{second}" in by_assignee
    assert f"open-{first}" not in by_assignee
    nobody = (await client.get("/incidents?assignee=-")).text
    assert f"open-{first}" in nobody
    assert f"open-{second}" not in nobody
    unknown = (await client.get("/incidents?lifecycle=closed")).text
    assert "unknown value" in unknown


async def test_a_note_from_the_page_shows_in_the_activity_with_its_html_escaped(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst)
    csrf = await sign_in(Role.ANALYST, sub="dana")
    response = await client.post(
        f"/incidents/{incident}/notes",
        data={"csrf_token": csrf, "body": "Rolled **back** <script>alert(1)</script>"},
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("?done=noted#activity")
    page = (await client.get(f"/incidents/{incident}")).text
    assert "<strong>back</strong>" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'id="activity"' in page
    assert "kind-analysis" in page


async def test_an_empty_note_from_the_page_is_refused_and_nothing_is_kept(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst)
    csrf = await sign_in(Role.ANALYST)
    response = await client.post(
        f"/incidents/{incident}/notes", data={"csrf_token": csrf, "body": "  "}
    )
    assert response.status_code == 400
    notes = (await client.get(f"/v1/incidents/{incident}/notes", headers=analyst)).json()
    assert notes == []


async def test_a_nul_character_in_a_note_or_an_assignee_from_the_page_is_refused_naming_the_field(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst)
    csrf = await sign_in(Role.ANALYST)

    note = await client.post(
        f"/incidents/{incident}/notes", data={"csrf_token": csrf, "body": "rolled\x00back"}
    )
    assign = await client.post(
        f"/incidents/{incident}/assign", data={"csrf_token": csrf, "assignee": "dana\x00"}
    )

    assert (note.status_code, assign.status_code) == (400, 400)
    assert "body" in note.text
    assert "NUL" in note.text
    assert "assignee" in assign.text
    assert (await client.get(f"/v1/incidents/{incident}/notes", headers=analyst)).json() == []
    detail = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    assert detail["assignee"] is None
