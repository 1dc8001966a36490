"""Every rule of the contract at its boundary: 4xx naming the field, and nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"


async def post(client: httpx.AsyncClient, headers: dict[str, str], body: Any) -> httpx.Response:
    return await client.post(INGEST, json=body, headers=headers)


async def incident_count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return len((await client.get("/v1/incidents?limit=200", headers=headers)).json()["items"])


def paths(response: httpx.Response) -> list[str]:
    return [error["path"] for error in response.json()["errors"]]


@pytest.mark.parametrize(
    ("field", "accepted", "rejected"),
    [("title", 500, 501), ("sourceRef", 512, 513), ("description", 5000, 5001)],
)
async def test_string_limits_hold_at_their_boundary(
    field: str, accepted: int, rejected: int, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    ok = await post(
        client,
        analyst,
        request(
            **{field: "x" * accepted, "sourceRef": f"ok-{field}"}
            if field != "sourceRef"
            else {field: "x" * accepted}
        ),
    )
    assert ok.status_code == 201, ok.text
    too_long = await post(client, analyst, request(**{field: "y" * rejected}))
    assert too_long.status_code == 400
    assert too_long.json()["message"] == "Invalid request body"
    assert too_long.json()["errors"] == [
        {"path": field, "message": f"String should have at most {accepted} characters"}
    ]


@pytest.mark.parametrize("field", ["title", "sourceRef"])
async def test_required_strings_may_not_be_empty(
    field: str, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await post(client, analyst, request(**{field: ""}))
    assert response.status_code == 400
    assert paths(response) == [field]


@pytest.mark.parametrize(("minutes", "status"), [(1, 201), (120, 201), (0, 400), (121, 400)])
@pytest.mark.parametrize("side", ["windowMinutesBefore", "windowMinutesAfter"])
async def test_windows_are_between_1_and_120_minutes(
    side: str, minutes: int, status: int, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = request(sourceRef=f"w-{side}-{minutes}", collectionContext={side: minutes})
    response = await post(client, analyst, body)
    assert response.status_code == status, response.text
    if status == 400:
        assert paths(response) == [f"collectionContext.{side}"]


async def test_every_violated_rule_is_listed_at_once(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = {
        "sourceType": "SPLUNK",
        "sourceRef": "",
        "title": "t" * 501,
        "severity": "urgent",
        "timeline": {"start": "2024-01-15 10:00:00", "end": None},
        "collectionContext": {"windowMinutesBefore": 0, "forceCollect": "yes"},
        "surprise": True,
    }
    response = await post(client, analyst, body)
    assert response.status_code == 400
    assert sorted(paths(response)) == sorted(
        [
            "sourceType",
            "sourceRef",
            "title",
            "severity",
            "timeline.start",
            "collectionContext.windowMinutesBefore",
            "collectionContext.forceCollect",
            "surprise",
        ]
    )
    messages = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert "CUSTOM" in messages["sourceType"]
    assert "ISO 8601" in messages["timeline.start"]
    assert "unknown field" in messages["surprise"]


async def test_required_fields_are_reported_missing(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await post(client, analyst, {"timeline": {}})
    assert response.status_code == 400
    assert sorted(paths(response)) == ["sourceRef", "sourceType", "timeline.start", "title"]
    assert {e["message"] for e in response.json()["errors"]} == {"required field is missing"}


async def test_an_end_before_the_start_is_rejected(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = request(timeline={"start": "2024-01-15T10:00:00Z", "end": "2024-01-15T09:59:59Z"})
    response = await post(client, analyst, body)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "timeline.end", "message": "must not be before timeline.start"}
    ]


@pytest.mark.parametrize(
    ("body_change", "path"),
    [
        ({"severity": "CRITICAL"}, "severity"),
        ({"severity": None}, "severity"),
        ({"metadata": {"service": None}}, "metadata.service"),
        ({"metadata": {"tags": {"team": 7}}}, "metadata.tags.team"),
        (
            {"timeline": {"start": "2024-01-15T10:00:00Z", "detectedAt": None}},
            "timeline.detectedAt",
        ),
        (
            {"collectionContext": {"windowMinutesAfter": 15.5}},
            "collectionContext.windowMinutesAfter",
        ),
        (
            {"collectionContext": {"windowMinutesAfter": "15"}},
            "collectionContext.windowMinutesAfter",
        ),
        (
            {
                "evidenceLite": {
                    "metrics": [{"name": "x", "value": "1", "timestamp": "2024-01-15T10:00:00Z"}]
                }
            },
            "evidenceLite.metrics[0].value",
        ),
        (
            {
                "evidenceLite": {
                    "metrics": [
                        {
                            "name": "x",
                            "value": 1,
                            "timestamp": "2024-01-15T10:00:00Z",
                            "unit": "percent of the pod's limit, sampled",
                        }
                    ]
                }
            },
            "evidenceLite.metrics[0].unit",
        ),
        ({"evidenceLite": {"logs": [{"message": "x"}]}}, "evidenceLite.logs[0].timestamp"),
        (
            {
                "evidenceLite": {
                    "traces": [
                        {
                            "traceId": "t",
                            "spanId": "s",
                            "service": "a",
                            "timestamp": "2024-01-15T10:00:00Z",
                        }
                    ]
                }
            },
            "evidenceLite.traces[0].operation",
        ),
        (
            {
                "evidenceLite": {
                    "events": [{"type": "deploy", "timestamp": "2024-01-15T10:00:00Z", "extra": 1}]
                }
            },
            "evidenceLite.events[0].description",
        ),
        (
            {
                "evidenceLite": {
                    "traces": [
                        {
                            "traceId": "t",
                            "spanId": "s",
                            "service": "a",
                            "operation": "op",
                            "timestamp": "2024-01-15T10:00:00Z",
                            "kind": "sideways",
                        }
                    ]
                }
            },
            "evidenceLite.traces[0].kind",
        ),
        (
            {
                "evidenceLite": {
                    "traces": [
                        {
                            "traceId": "t",
                            "spanId": "s",
                            "service": "a",
                            "operation": "op",
                            "timestamp": "2024-01-15T10:00:00Z",
                            "parentSpanId": "p",
                            "httpRoute": "/x",
                        }
                    ]
                }
            },
            "evidenceLite.traces[0].httpRoute",
        ),
    ],
)
async def test_type_and_shape_rules_name_the_offending_field(
    body_change: dict[str, Any], path: str, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await post(client, analyst, request(**body_change))
    assert response.status_code == 400, response.text
    assert path in paths(response)


async def test_nullable_fields_accept_null(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = request(
        description=None,
        timeline={"start": "2024-01-15T10:00:00Z", "end": None, "resolvedAt": None},
        sourcePayload=None,
    )
    assert (await post(client, analyst, body)).status_code == 201


async def test_source_payload_accepts_any_json(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    for index, payload in enumerate([[1, "two", None], "text", 3.5, {"deep": {"er": [True]}}]):
        body = request(sourceRef=f"payload-{index}", sourcePayload=payload)
        assert (await post(client, analyst, body)).status_code == 201


async def test_malformed_json_is_a_400(client: httpx.AsyncClient, analyst: dict[str, str]) -> None:
    response = await client.post(
        INGEST,
        content=b'{"sourceType": "CUSTOM",',
        headers={**analyst, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Malformed JSON body"
    assert "not valid JSON" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("content", [b"[]", b'"text"', b"NaN"])
async def test_a_body_that_is_not_an_object_is_a_400(
    content: bytes, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(
        INGEST, content=content, headers={**analyst, "Content-Type": "application/json"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_json_is_a_415(
    content_type: str | None, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    headers = dict(analyst)
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post(INGEST, content=b'{"a": 1}', headers=headers)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported-media-type"


async def test_json_with_a_charset_is_accepted(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    import json

    response = await client.post(
        INGEST,
        content=json.dumps(request()).encode(),
        headers={**analyst, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


async def test_bad_input_leaves_what_is_stored_untouched(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    first = (await post(client, analyst, request())).json()
    before = (await client.get(f"/v1/incidents/{first['incidentId']}", headers=analyst)).json()
    for bad in (request(title=""), request(timeline={"start": "nope"}), {"x": 1}):
        assert (await post(client, analyst, bad)).status_code == 400
    assert await incident_count(client, analyst) == 1
    after = (await client.get(f"/v1/incidents/{first['incidentId']}", headers=analyst)).json()
    assert after == before


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (request(title="a\u0000b"), "title"),
        (request(sourcePayload={"k": ["ok", "x\u0000"]}), "sourcePayload.k[1]"),
        (request(metadata={"tags": {"a\u0000": "b"}}), "metadata.tags"),
    ],
)
async def test_the_nul_character_is_a_400_naming_the_field_on_every_database(
    body: Any, path: str, client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    # PostgreSQL cannot store NUL in text or JSONB; without this check it was a 500 there.
    response = await post(client, analyst, body)
    assert response.status_code == 400, response.text
    assert paths(response) == [path]
    assert await incident_count(client, analyst) == 0


async def test_a_body_nested_too_deeply_is_a_400_not_a_recursion_error(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    for depth in (70, 5000):
        payload = '{"sourcePayload": ' + "[" * depth + "]" * depth + "}"
        response = await client.post(
            INGEST, content=payload, headers={**analyst, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text


DEPLOY = {"type": "deployment", "description": "v2", "timestamp": "2024-01-15T09:58:00Z"}


@pytest.mark.parametrize(
    ("read_empty", "events", "path", "rule"),
    [
        (["deploy"], None, "evidenceLite.readEmpty[0]", "'metrics', 'logs', 'traces', 'deploys'"),
        (["logs", "logs"], None, "evidenceLite.readEmpty", "names a kind twice"),
        ("deploys", None, "evidenceLite.readEmpty", "valid list"),
        (None, None, "evidenceLite.readEmpty", "must not be null"),
        (["config", "deploys"], [DEPLOY], "evidenceLite.readEmpty", "'deploys' (1 sent)"),
    ],
    ids=["an-unknown-kind", "a-kind-twice", "not-a-list", "null", "a-kind-sent-too"],
)
async def test_kinds_declared_read_and_empty_are_refused_naming_the_field_and_the_rule(
    read_empty: Any,
    events: Any,
    path: str,
    rule: str,
    client: httpx.AsyncClient,
    analyst: dict[str, str],
) -> None:
    lite: dict[str, Any] = {"readEmpty": read_empty} | ({"events": events} if events else {})
    response = await post(client, analyst, request(evidenceLite=lite))
    assert response.status_code == 400, response.text
    errors = {error["path"]: error["message"] for error in response.json()["errors"]}
    assert rule in errors[path]


async def test_kinds_declared_read_and_empty_are_sealed_into_the_bundle_as_its_coverage(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    lite = {
        "metrics": [
            {"name": "latency_p95_ms", "value": 120.0, "timestamp": "2024-01-15T09:50:00Z"},
            {"name": "latency_p95_ms", "value": 900.0, "timestamp": "2024-01-15T10:05:00Z"},
        ],
        "readEmpty": ["config", "deploys"],
    }
    response = await post(client, analyst, request(evidenceLite=lite))
    assert response.status_code == 201, response.text
    bundle_id = response.json()["evidenceBundleId"]
    bundle = (await client.get(f"/v1/evidence-bundles/{bundle_id}", headers=analyst)).json()
    assert bundle["coverage"] == ["deploys", "config"]
    (note,) = bundle["collection"]
    assert (note["source"], note["read"]) == ("evidenceLite", ["deploys", "config"])
    analysis_id = response.json()["analysisId"]
    analysis = (await client.get(f"/v1/analyses/{analysis_id}", headers=analyst)).json()
    assert analysis["result"]["completeness"]["readEmpty"] == ["DEPLOYS", "CONFIG"]


async def test_an_unknown_field_beside_the_declaration_is_still_refused_by_name(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    lite = {"readEmpty": ["deploys"], "readEmptyKinds": ["config"]}
    response = await post(client, analyst, request(evidenceLite=lite))
    assert response.status_code == 400
    assert "evidenceLite.readEmptyKinds" in paths(response)
