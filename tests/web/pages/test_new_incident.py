"""New incident: the pasted request meets the API's own validator, errors shown in place."""

from __future__ import annotations

import json
import re
from html import unescape

import httpx
import pytest

from chronosops.auth import Role
from tests.fixtures.console import SignIn
from tests.fixtures.guide import example

HTMX = {"HX-Request": "true", "HX-Target": "ingest-form"}


def shown_errors(html: str) -> list[tuple[str, str]]:
    return [
        (unescape(path), unescape(message))
        for path, message in re.findall(r"<li><code>([^<]*)</code>: ([^<]*)</li>", html)
    ]


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps({"sourceType": "SPLUNK", "sourceRef": "", "timeline": {"start": "yesterday"}}),
        json.dumps({**example("basic_request"), "severity": "urgent", "extra": 1}),
        json.dumps([1, 2]),
    ],
)
async def test_a_bad_request_lists_exactly_the_errors_the_api_gives(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn, payload: str
) -> None:
    api = await client.post(
        "/v1/incidents/ingest",
        content=payload,
        headers={**analyst, "Content-Type": "application/json"},
    )
    assert api.status_code == 400
    csrf = await sign_in(Role.ANALYST)
    page = await client.post("/new", data={"csrf_token": csrf, "payload": payload})
    assert page.status_code == 400
    expected = [(e["path"], e["message"]) for e in api.json()["errors"]]
    assert [e for e in shown_errors(page.text) if e[0]] == [e for e in expected if e[0]]
    assert "Nothing was stored." in page.text
    assert 'aria-invalid="true"' in page.text
    assert unescape(payload) in unescape(page.text)  # what was typed is kept
    listed = await client.get("/v1/incidents", headers=analyst)
    assert listed.json()["items"] == []


async def test_malformed_json_says_where_it_broke(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ANALYST)
    page = await client.post("/new", data={"csrf_token": csrf, "payload": '{"title": "x",}'})
    assert page.status_code == 400
    assert "Malformed JSON body" in page.text
    assert "line 1 column 15" in page.text


async def test_htmx_gets_the_form_back_with_its_errors(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ANALYST)
    page = await client.post("/new", data={"csrf_token": csrf, "payload": "   "}, headers=HTMX)
    assert page.status_code == 200
    assert page.text.lstrip().startswith('<form id="ingest-form"')
    assert "paste an ingest request" in page.text


async def test_a_good_request_is_ingested_and_opens_the_incident(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ANALYST, sub="ann")
    payload = json.dumps(example("example_2_with_evidence"))
    response = await client.post("/new", data={"csrf_token": csrf, "payload": payload})
    assert response.status_code == 303
    incident_id = response.headers["location"].split("/incidents/")[1].split("?")[0]
    assert response.headers["location"].endswith("?done=created")
    api = (await client.get(f"/v1/incidents/{incident_id}", headers=analyst)).json()
    assert api["title"] == "Database connection pool exhaustion"
    assert api["createdBy"] == "ann"
    assert api["latestAnalysis"]["result"]["hypotheses"][0]["id"] == "CAPACITY_SATURATION"

    again = await client.post("/new", data={"csrf_token": csrf, "payload": payload}, headers=HTMX)
    assert again.status_code == 200
    assert again.headers["hx-redirect"] == f"/incidents/{incident_id}?done=duplicate"


async def test_examples_prefill_the_form(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    await sign_in(Role.ANALYST)
    page = await client.get("/new?example=basic")
    assert "incident-12345" in page.text
    assert "incident-12345" not in (await client.get("/new")).text


async def test_viewers_cannot_open_or_post_the_form(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.VIEWER)
    assert (await client.get("/new")).status_code == 403
    response = await client.post(
        "/new", data={"csrf_token": csrf, "payload": json.dumps(example("basic_request"))}
    )
    assert response.status_code == 403


async def test_a_form_must_be_url_encoded(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    csrf = await sign_in(Role.ANALYST)
    response = await client.post(
        "/new",
        json={"csrf_token": csrf, "payload": "{}"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 415
