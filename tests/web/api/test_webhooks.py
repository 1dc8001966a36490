"""Vendors post their own payloads: incidents open, resolve, and each delivery counts once."""

from __future__ import annotations

import asyncio
import base64
import copy
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chronosops.audit.tables import AuditEvent
from chronosops.auth import signature
from tests.fixtures.webhooks import PAGERDUTY_SECRET, TOKENS, Hooks, encode
from tests.sources.payloads import load


async def incidents_of(
    hooks: Hooks, headers: dict[str, str], source_type: str
) -> list[dict[str, Any]]:
    response = await hooks.http.get(
        f"/v1/incidents?sourceType={source_type}&limit=200", headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def incident(hooks: Hooks, headers: dict[str, str], incident_id: str) -> dict[str, Any]:
    response = await hooks.http.get(f"/v1/incidents/{incident_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def audit_types(hooks: Hooks) -> list[str]:
    async with hooks.services.database.unit_of_work(write=False) as session:
        return list(await session.scalars(select(AuditEvent.event_type).order_by(AuditEvent.seq)))


# Each source's opening payload, the payload that ends it, its sourceType and when it ended.
LIFECYCLES = [
    ("pagerduty", "v3_incident_triggered", "v3_incident_resolved", "PAGERDUTY", "2024-03-12T08:51:40.337Z"),
    ("pagerduty", "events_v2_trigger", "events_v2_resolve", "PAGERDUTY", None),
    ("datadog", "monitor_triggered", "monitor_recovered", "DATADOG", "2024-03-12T08:45:01.000Z"),
    ("datadog", "monitor_default_payload_triggered", "monitor_default_payload_recovered", "DATADOG", "2024-03-12T11:40:00.000Z"),
    ("datadog", "incident_active", "incident_resolved", "DATADOG", "2024-03-12T09:15:30.000Z"),
    ("newrelic", "workflow_activated", "workflow_closed", "NEW_RELIC", "2024-03-12T08:54:17.383Z"),
    ("newrelic", "workflow_custom_template_activated", "workflow_custom_template_closed", "NEW_RELIC", "2024-03-12T10:42:15.419Z"),
    ("google-cloud-monitoring", "alerting_open", "alerting_closed", "GOOGLE_CLOUD", "2024-03-12T08:50:12.000Z"),
    ("grafana", "firing", "resolved", "GRAFANA", "2024-03-12T08:21:03.157Z"),
    ("opsgenie", "create", "close", "OPSGENIE", "2024-03-12T09:22:54.669Z"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "opening", "ending", "source_type", "ended_at"), LIFECYCLES)
async def test_a_vendor_incident_opens_and_is_resolved_by_its_own_closing_payload(
    kind: str,
    opening: str,
    ending: str,
    source_type: str,
    ended_at: str | None,
    hooks: Hooks,
    viewer: dict[str, str],
) -> None:
    opened = await hooks.post(kind, load(kind, opening))
    assert opened.status_code == 201, opened.text
    first = opened.json()["events"][0]
    assert first["outcome"] == "created"
    # Answered once stored: the analysis follows from the job written with the incident.
    assert first["status"] == "created"
    await hooks.services.runner.drain()
    analysed = await incident(hooks, viewer, first["incidentId"])
    assert analysed["status"] == "analyzed"
    assert analysed["latestAnalysisId"].startswith("anl-")

    closed = await hooks.post(kind, load(kind, ending))
    assert closed.status_code == 200, closed.text
    event = closed.json()["events"][0]
    assert event["outcome"] in ("resolved", "updated")
    assert event["incidentId"] == first["incidentId"]
    if kind == "grafana":
        # Both firing alerts share a groupKey, so they are one incident: it resolves with
        # the last of them, not with the first.
        assert (await incident(hooks, viewer, first["incidentId"]))["isResolved"] is False
        last = copy.deepcopy(load(kind, ending))
        last["alerts"][0]["fingerprint"] = load(kind, opening)["alerts"][1]["fingerprint"]
        assert (await hooks.post(kind, last)).json()["events"][0]["outcome"] == "resolved"

    stored = await incident(hooks, viewer, first["incidentId"])
    assert stored["sourceType"] == source_type
    assert stored["isResolved"] is True
    if ended_at is not None:
        assert stored["timeline"]["end"] == ended_at
    opened_ids = {event["incidentId"] for event in opened.json()["events"]}
    assert len(await incidents_of(hooks, viewer, source_type)) == len(opened_ids)


async def test_an_alertmanager_group_opens_one_incident_that_holds_every_alert(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    payload = load("alertmanager", "firing")
    response = await hooks.post("alertmanager", payload)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["shape"] == "webhook-v4"
    assert [event["outcome"] for event in body["events"]] == ["created", "joined"]
    assert [event["alert"] for event in body["events"]] == ["opened", "joined"]
    stored = await incidents_of(hooks, viewer, "ALERTMANAGER")
    assert [item["sourceRef"] for item in stored] == [payload["alerts"][0]["fingerprint"]]
    alerts = await hooks.http.get(f"/v1/incidents/{stored[0]['id']}/alerts", headers=viewer)
    assert sorted(alert["sourceRef"] for alert in alerts.json()["items"]) == sorted(
        alert["fingerprint"] for alert in payload["alerts"]
    )
    detail = await incident(hooks, viewer, body["events"][0]["incidentId"])
    assert detail["title"] == "5xx rate above 1/s on checkout"
    assert detail["severity"] == "critical"
    assert detail["timeline"]["start"] == "2024-03-12T08:00:27.300Z"
    assert detail["timeline"]["end"] is None
    assert detail["metadata"]["service"] == "checkout"
    assert detail["metadata"]["environment"] == "production"
    assert detail["metadata"]["region"] == "eu-west-1"
    assert detail["metadata"]["team"] == "payments"
    assert detail["metadata"]["tags"]["instance"] == "10.0.3.17:8080"
    assert detail["metadata"]["customFields"]["annotations"]["runbook_url"].startswith("https://")


async def test_a_mixed_batch_resolves_one_alert_and_keeps_the_incident_open_for_the_other(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    await hooks.post("alertmanager", load("alertmanager", "firing"))
    response = await hooks.post("alertmanager", load("alertmanager", "mixed_batch"))
    assert response.status_code == 200
    assert [event["outcome"] for event in response.json()["events"]] == ["updated", "unchanged"]
    assert [event["alert"] for event in response.json()["events"]] == [None, "joined"]
    (stored,) = await incidents_of(hooks, viewer, "ALERTMANAGER")
    assert stored["sourceRef"] == "8b8daca1a81d1a6e"
    assert stored["isResolved"] is False


async def test_a_resolve_is_audited_and_the_chain_still_verifies(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    opened = (await hooks.post("opsgenie", load("opsgenie", "create"))).json()
    await hooks.post("opsgenie", load("opsgenie", "close"))
    incident_id = opened["events"][0]["incidentId"]
    events = (
        await hooks.http.get(f"/v1/incidents/{incident_id}/audit-events", headers=viewer)
    ).json()
    assert [event["eventType"] for event in events][-1] == "INCIDENT_RESOLVED"
    assert events[-1]["actor"] == "webhook:opsgenie"
    assert events[-1]["payload"]["changes"]["end"]["to"] == "2024-03-12T09:22:54.669Z"
    verified = (await hooks.http.get(f"/v1/incidents/{incident_id}/verify", headers=viewer)).json()
    assert verified["status"] == "VERIFIED"


async def test_a_resolve_for_an_unknown_reference_is_a_202_recorded_without_an_incident(
    hooks: Hooks, viewer: dict[str, str], admin: dict[str, str]
) -> None:
    response = await hooks.post("alertmanager", load("alertmanager", "resolved"))
    assert response.status_code == 202, response.text
    assert [event["outcome"] for event in response.json()["events"]] == ["unmatched", "unmatched"]
    assert await incidents_of(hooks, viewer, "ALERTMANAGER") == []
    assert (await audit_types(hooks)).count("SOURCE_RESOLVE_UNMATCHED") == 2
    deliveries = (await hooks.http.get("/v1/webhooks/deliveries", headers=admin)).json()["items"]
    assert deliveries[0]["source"] == "alertmanager"
    assert deliveries[0]["statusCode"] == 202
    assert deliveries[0]["response"]["events"][0]["outcome"] == "unmatched"


async def test_a_retried_delivery_is_answered_again_without_a_second_ingest(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    payload = load("grafana", "firing")
    first = await hooks.post("grafana", payload)
    audit_before = await audit_types(hooks)
    again = await hooks.post("grafana", payload)
    assert first.status_code == again.status_code == 201
    assert again.headers["X-ChronosOps-Replayed"] == "true"
    assert again.json()["replayed"] is True
    assert again.json()["events"] == first.json()["events"]
    # Two alerts of one group: one incident.
    assert len(await incidents_of(hooks, viewer, "GRAFANA")) == 1
    assert await audit_types(hooks) == audit_before


async def test_a_delivery_id_seen_before_is_a_replay_even_with_another_body(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    payload = load("pagerduty", "v3_incident_triggered")
    retry = copy.deepcopy(payload)
    retry["event"]["data"]["title"] = "a body that changed between attempts"
    first = await hooks.post("pagerduty", payload, headers={"X-Webhook-Id": "wh-0001"})
    second = await hooks.post("pagerduty", retry, headers={"X-Webhook-Id": "wh-0001"})
    assert second.json()["replayed"] is True
    assert second.json()["events"] == first.json()["events"]
    stored = await incidents_of(hooks, viewer, "PAGERDUTY")
    assert [item["title"] for item in stored] == [payload["event"]["data"]["title"]]


async def test_concurrent_retries_of_one_delivery_store_one_incident(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    payload = load("newrelic", "workflow_activated")
    responses = await asyncio.gather(*(hooks.post("newrelic", payload) for _ in range(6)))
    codes = sorted(response.status_code for response in responses)
    assert 201 in codes
    assert set(codes) <= {201, 503}, codes
    for response in responses:
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "2"
            assert response.json()["code"] == "delivery-in-flight"
    assert len(await incidents_of(hooks, viewer, "NEW_RELIC")) == 1


async def test_a_source_without_a_secret_is_switched_off_with_a_404_naming_the_setting(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/webhooks/alertmanager",
        content=encode(load("alertmanager", "firing")),
        headers={"Authorization": f"Bearer {TOKENS['alertmanager']}"},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "webhook-disabled"
    assert "CHRONOSOPS_WEBHOOK_ALERTMANAGER_TOKEN" in response.json()["message"]
    pagerduty = await client.post("/v1/webhooks/pagerduty", content=b"{}")
    assert "CHRONOSOPS_WEBHOOK_PAGERDUTY_SECRET" in pagerduty.json()["message"]


async def test_an_unknown_source_is_a_404_listing_the_known_ones(hooks: Hooks) -> None:
    response = await hooks.http.post("/v1/webhooks/splunk", content=b"{}")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown-source"
    assert "alertmanager" in response.json()["message"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-the-token"}, 401),
        ({"Authorization": "Token abc"}, 401),
        ({"Authorization": f"Bearer {TOKENS['alertmanager']}"}, 201),
        (
            {"Authorization": "Basic " + base64.b64encode(f"am:{TOKENS['alertmanager']}".encode()).decode()},
            201,
        ),
        ({"Authorization": "Basic " + base64.b64encode(b"am:wrong").decode()}, 401),
    ],
)  # fmt: skip
async def test_alertmanager_authenticates_with_its_token_as_bearer_or_basic_password(
    headers: dict[str, str], status: int, hooks: Hooks, viewer: dict[str, str]
) -> None:
    response = await hooks.post(
        "alertmanager", load("alertmanager", "firing"), headers=headers, sign=False
    )
    assert response.status_code == status, response.text
    stored = await incidents_of(hooks, viewer, "ALERTMANAGER")
    assert len(stored) == (1 if status == 201 else 0)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_query_token_is_accepted_only_from_google_cloud_monitoring(hooks: Hooks) -> None:
    gcm = await hooks.post(
        "google-cloud-monitoring",
        load("google-cloud-monitoring", "alerting_open"),
        sign=False,
        path=f"/v1/webhooks/google-cloud-monitoring?token={TOKENS['google-cloud-monitoring']}",
    )
    assert gcm.status_code == 201, gcm.text
    assert gcm.headers["X-ChronosOps-Authenticated-By"] == "query"
    grafana = await hooks.post(
        "grafana",
        load("grafana", "firing"),
        sign=False,
        path=f"/v1/webhooks/grafana?token={TOKENS['grafana']}",
    )
    assert grafana.status_code == 401


SIGNATURE_CASES = [
    ("valid", lambda raw: signature(PAGERDUTY_SECRET, raw), None, 201),
    (
        "rotation",
        lambda raw: f"{signature('the-old-secret-0123456789abcdef', raw)},{signature(PAGERDUTY_SECRET, raw)}",
        None,
        201,
    ),
    ("wrong secret", lambda raw: signature("someone-else-0123456789abcdef01234", raw), None, 401),
    ("missing header", None, None, 401),
    ("tampered body", lambda raw: signature(PAGERDUTY_SECRET, raw), b"Disk", 401),
    ("malformed", lambda raw: "sha256=" + signature(PAGERDUTY_SECRET, raw)[3:], None, 401),
]  # fmt: skip


@pytest.mark.parametrize(("case", "sign", "tamper", "status"), SIGNATURE_CASES)
async def test_pagerduty_deliveries_must_carry_a_matching_v1_signature(
    case: str, sign: Any, tamper: bytes | None, status: int, hooks: Hooks, viewer: dict[str, str]
) -> None:
    raw = encode(load("pagerduty", "v3_incident_triggered"))
    headers = {"Content-Type": "application/json"}
    if sign is not None:
        headers["X-PagerDuty-Signature"] = sign(raw)
    if tamper is not None:
        raw = raw.replace(b"payment-service", tamper, 1)
    response = await hooks.http.post("/v1/webhooks/pagerduty", content=raw, headers=headers)
    assert response.status_code == status, (case, response.text)
    assert len(await incidents_of(hooks, viewer, "PAGERDUTY")) == (1 if status == 201 else 0)
    if status == 201:
        assert response.headers["X-ChronosOps-Authenticated-By"] == "signature"


async def test_events_api_senders_authenticate_with_the_routing_key_which_is_never_stored(
    client_with: Any, admin: dict[str, str]
) -> None:
    from tests.fixtures.webhooks import webhook_settings

    http, _services = await client_with(
        **webhook_settings(webhook_pagerduty_token="R0UT1NGK3Y0000000000000000000000")
    )
    payload = load("pagerduty", "events_v2_trigger")
    response = await http.post("/v1/webhooks/pagerduty", content=encode(payload))
    assert response.status_code == 201, response.text
    assert response.headers["X-ChronosOps-Authenticated-By"] == "body"
    stored = await http.get(
        f"/v1/incidents/{response.json()['events'][0]['incidentId']}", headers=admin
    )
    assert stored.json()["sourcePayload"]["routing_key"] == "[REDACTED]"
    assert stored.json()["sourcePayload"]["dedup_key"] == "checkout-latency-prod-eu1"
    wrong = dict(payload, routing_key="R0UT1NGK3Y-WRONG-00000000000000000")
    assert (await http.post("/v1/webhooks/pagerduty", content=encode(wrong))).status_code == 401


async def test_the_raw_payload_is_kept_as_the_source_payload_of_the_alert_that_opened_it(
    hooks: Hooks, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    payload = load("alertmanager", "firing")
    body = (await hooks.post("alertmanager", payload)).json()
    second = body["events"][1]["incidentId"]
    assert second == body["events"][0]["incidentId"]
    stored = await incident(hooks, admin, second)
    assert stored["sourcePayload"]["groupKey"] == payload["groupKey"]
    assert stored["sourcePayload"]["alerts"] == [payload["alerts"][0]]
    assert "sourcePayload" not in await incident(hooks, viewer, second)


async def test_a_payload_the_source_cannot_read_is_a_400_naming_its_shapes(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    response = await hooks.post("opsgenie", {"hello": "world"})
    assert response.status_code == 400
    assert response.json()["code"] == "source-payload-invalid"
    assert "alert-webhook" in response.json()["errors"][0]["message"]
    batch = load("alertmanager", "firing")
    batch["alerts"][1] = "not an alert"
    bad = await hooks.post("alertmanager", batch)
    assert bad.status_code == 400
    assert bad.json()["errors"] == [{"path": "alerts[1]", "message": "must be an object"}]
    assert await incidents_of(hooks, viewer, "ALERTMANAGER") == []


@pytest.mark.parametrize(
    "raw", [b"", b"{", b'{"a": NaN}', "[" * 5000 + "]" * 5000, '{"title": "a\\u0000b"}']
)
async def test_bodies_storage_cannot_hold_are_400s_not_500s(hooks: Hooks, raw: Any) -> None:
    response = await hooks.post("datadog", raw if isinstance(raw, bytes) else raw.encode())
    assert response.status_code == 400, response.text
    assert response.json()["errors"]


async def test_an_unknown_or_missing_severity_becomes_medium_and_is_recorded(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    response = await hooks.post(
        "google-cloud-monitoring", load("google-cloud-monitoring", "alerting_no_severity")
    )
    event = response.json()["events"][0]
    assert [note["code"] for note in event["notes"]] == ["severity-defaulted"]
    stored = await incident(hooks, viewer, event["incidentId"])
    assert stored["severity"] == "medium"
    assert stored["metadata"]["customFields"]["normalization"][0]["code"] == "severity-defaulted"


async def test_over_long_titles_are_truncated_on_a_character_boundary_not_rejected(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    payload = load("alertmanager", "firing")
    payload["alerts"] = payload["alerts"][:1]
    payload["alerts"][0]["annotations"]["summary"] = "数" * 497 + "👩‍💻👩‍💻"
    response = await hooks.post("alertmanager", payload)
    assert response.status_code == 201, response.text
    stored = await incident(hooks, viewer, response.json()["events"][0]["incidentId"])
    assert stored["title"] == "数" * 497 + "…"
    assert stored["metadata"]["customFields"]["normalization"][0]["code"] == "text-truncated"


async def test_titles_survive_byte_exact_in_utf8(hooks: Hooks, viewer: dict[str, str]) -> None:
    payload = load("pagerduty", "v3_unicode_title")
    response = await hooks.post("pagerduty", payload)
    stored = await incident(hooks, viewer, response.json()["events"][0]["incidentId"])
    assert stored["title"].encode() == payload["event"]["data"]["title"].encode()


async def test_truncated_alerts_are_reported_never_silently_dropped(
    hooks: Hooks, admin: dict[str, str]
) -> None:
    response = await hooks.post(
        "alertmanager", load("alertmanager", "truncated_without_fingerprint")
    )
    assert response.status_code == 201
    notes = response.json()["notes"]
    assert [note["code"] for note in notes] == ["alerts-truncated"]
    assert "3 alert(s)" in notes[0]["message"]
    delivery = (await hooks.http.get("/v1/webhooks/deliveries", headers=admin)).json()["items"][0]
    assert delivery["response"]["notes"] == notes


async def test_a_reopened_pagerduty_incident_after_its_resolve_is_the_next_occurrence(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    for name in ("v3_incident_triggered", "v3_incident_resolved", "v3_incident_reopened"):
        response = await hooks.post("pagerduty", load("pagerduty", name))
        assert response.status_code in (200, 201), response.text
    stored = await incidents_of(hooks, viewer, "PAGERDUTY")
    assert sorted((item["occurrence"], item["isResolved"]) for item in stored) == [
        (1, True),
        (2, False),
    ]


async def test_notes_and_acknowledgements_without_an_incident_change_nothing(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    note = await hooks.post("pagerduty", load("pagerduty", "v3_incident_annotated"))
    ack = await hooks.post("pagerduty", load("pagerduty", "events_v2_acknowledge"))
    ping = await hooks.post("pagerduty", load("pagerduty", "v3_pagey_ping"))
    assert (note.status_code, ack.status_code, ping.status_code) == (202, 202, 202)
    assert note.json()["events"][0]["outcome"] == "recorded"
    assert ack.json()["events"][0]["outcome"] == "unmatched"
    assert ping.json()["events"] == []
    assert await incidents_of(hooks, viewer, "PAGERDUTY") == []


async def test_an_acknowledgement_carrying_the_incident_makes_good_a_missed_trigger(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    response = await hooks.post("newrelic", load("newrelic", "workflow_acknowledged"))
    assert response.status_code == 201
    assert response.json()["events"][0]["action"] == "acknowledge"
    again = await hooks.post("opsgenie", load("opsgenie", "create"))
    ack = await hooks.post("opsgenie", load("opsgenie", "acknowledge"))
    assert ack.status_code == 200
    assert ack.json()["events"][0]["incidentId"] == again.json()["events"][0]["incidentId"]


async def test_the_whole_status_feed_is_one_incident_per_entry(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    response = await hooks.post("google-cloud-status", load("google-cloud-status", "feed"))
    assert response.status_code == 201
    stored = {item["sourceRef"]: item for item in await incidents_of(hooks, viewer, "GOOGLE_CLOUD")}
    assert set(stored) == {"rZvZvSKVdDHyWh4dZJ8D", "TEST_INCIDENT_01", "mLBHeCxhRia17anXCSX1"}
    assert stored["rZvZvSKVdDHyWh4dZJ8D"]["isResolved"] is False
    assert stored["mLBHeCxhRia17anXCSX1"]["isResolved"] is True
    assert stored["TEST_INCIDENT_01"]["isResolved"] is True


async def test_deliveries_are_for_admins_only(hooks: Hooks, viewer: dict[str, str]) -> None:
    response = await hooks.http.get("/v1/webhooks/deliveries", headers=viewer)
    assert response.status_code == 403
