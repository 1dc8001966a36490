"""Input at the edges of what the calendar, the JSON encoders and PostgreSQL can hold is a 400
naming the field, never a 500 — on both databases."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.fixtures.guide import request
from tests.web.api.test_changes import change

INGEST = "/v1/incidents/ingest"
CHANGES = "/v1/changes"

# Valid ISO 8601, but a day off Python's calendar once converted to UTC.
OFF_THE_CALENDAR = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]


def paths_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    return [error["path"] for error in response.json()["errors"]]


def cursor_at(instant: str) -> str:
    return base64.urlsafe_b64encode(f"{instant}|abc".encode()).decode().rstrip("=")


@pytest.mark.parametrize("instant", OFF_THE_CALENDAR)
async def test_an_incident_off_the_calendar_names_its_timeline_field(
    client: httpx.AsyncClient, analyst: dict[str, str], instant: str
) -> None:
    starting = await client.post(INGEST, json=request(timeline={"start": instant}), headers=analyst)
    assert paths_of(starting) == ["timeline.start"]
    ending = request(timeline={"start": "2024-01-15T10:00:00Z", "end": instant})
    assert paths_of(await client.post(INGEST, json=ending, headers=analyst)) == ["timeline.end"]


@pytest.mark.parametrize("instant", OFF_THE_CALENDAR)
async def test_a_change_off_the_calendar_names_its_timestamp(
    client: httpx.AsyncClient, analyst: dict[str, str], instant: str
) -> None:
    response = await client.post(CHANGES, json=change(timestamp=instant), headers=analyst)
    assert paths_of(response) == ["timestamp"]
    assert "outside the years 0001 to 9999" in response.text


@pytest.mark.parametrize("instant", OFF_THE_CALENDAR)
@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/v1/incidents", "startedAfter"),
        ("/v1/incidents", "startedBefore"),
        ("/v1/changes", "since"),
        ("/v1/changes", "until"),
    ],
)
async def test_a_filter_off_the_calendar_names_its_parameter(
    client: httpx.AsyncClient, viewer: dict[str, str], instant: str, path: str, parameter: str
) -> None:
    response = await client.get(path, params={parameter: instant}, headers=viewer)
    assert paths_of(response) == [parameter]


@pytest.mark.parametrize("instant", OFF_THE_CALENDAR)
@pytest.mark.parametrize("path", ["/v1/incidents", "/v1/changes"])
async def test_a_cursor_off_the_calendar_is_not_a_cursor(
    client: httpx.AsyncClient, viewer: dict[str, str], instant: str, path: str
) -> None:
    response = await client.get(path, params={"cursor": cursor_at(instant)}, headers=viewer)
    assert paths_of(response) == ["cursor"]


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/v1/incidents?service=check%00out", "service"),
        ("/v1/incidents?cursor=%00", "cursor"),
        ("/v1/changes?service=check%00out", "service"),
        ("/v1/audit-events?actor=a%00b", "actor"),
        ("/v1/incidents/inc%00ident", "incident_id"),
        ("/v1/incidents/inc%00ident/verify", "incident_id"),
        ("/v1/incidents/inc%00ident/audit-events", "incident_id"),
        ("/v1/evidence-bundles/b%00", "bundle_id"),
        ("/v1/analyses/a%00", "analysis_id"),
    ],
)
async def test_a_nul_byte_in_a_path_or_query_parameter_is_named(
    client: httpx.AsyncClient, admin: dict[str, str], path: str, named: str
) -> None:
    response = await client.get(path, headers=admin)
    assert paths_of(response) == [named]
    assert "NUL" in response.json()["errors"][0]["message"]


async def post_raw(
    client: httpx.AsyncClient, path: str, document: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        path, content=document, headers={**headers, "Content-Type": "application/json"}
    )


async def test_a_lone_surrogate_in_a_json_string_is_named(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    document = json.dumps(request(title="checkout SURROGATE down")).replace("SURROGATE", "\\ud800")
    response = await post_raw(client, INGEST, document, analyst)
    assert paths_of(response) == ["title"]
    assert "lone surrogate" in response.text


async def test_a_lone_surrogate_in_a_key_is_named_by_its_object(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    document = json.dumps(change(metadata={"SURROGATE": 1})).replace("SURROGATE", "\\udc00")
    assert paths_of(await post_raw(client, CHANGES, document, analyst)) == ["metadata"]


async def test_a_number_beyond_a_double_in_custom_fields_is_named(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    document = json.dumps(request(metadata={"customFields": {"budget": "HUGE"}})).replace(
        '"HUGE"', "1e400"
    )
    response = await post_raw(client, INGEST, document, analyst)
    assert paths_of(response) == ["metadata.customFields.budget"]


@pytest.mark.parametrize("number", [2**53, -(2**53), 2**64])
async def test_a_change_with_an_integer_beyond_2_to_the_53_names_it(
    client: httpx.AsyncClient, analyst: dict[str, str], number: int
) -> None:
    body = change(metadata={"build": {"ids": [1, number]}})
    response = await client.post(CHANGES, json=body, headers=analyst)
    assert paths_of(response) == ["metadata.build.ids[1]"]
    assert "send it as a string" in response.text


async def test_a_change_with_the_largest_safe_integer_is_recorded(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = change(metadata={"build": 2**53 - 1})
    response = await client.post(CHANGES, json=body, headers=analyst)
    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == {"build": 2**53 - 1}
