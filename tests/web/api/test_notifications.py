"""Notifications reach real local receivers: Slack, Teams and a signed webhook, by rules,
as jobs with retries, logged per incident; a failing receiver never blocks ingest."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronosops.auth import Role
from chronosops.bootstrap import Services
from tests.fixtures.app import ClientFactory, bearer
from tests.fixtures.console import checkout_incident
from tests.fixtures.receivers import Receivers

INGEST = "/v1/incidents/ingest"
SECRET = "hook-secret-0123456789abcdef"


def config(receivers: Receivers, **rule: Any) -> dict[str, Any]:
    return {
        "receivers": [
            {"name": "ops-slack", "type": "slack", "url": receivers.url("/slack")},
            {"name": "ops-teams", "type": "teams", "url": receivers.url("/teams")},
            {"name": "pager", "type": "webhook", "url": receivers.url("/hook"), "secret": SECRET},
            {
                "name": "broken",
                "type": "webhook",
                "url": receivers.url("/broken"),
                "secret": SECRET,
            },
        ],
        "rules": [
            {
                "receivers": ["ops-slack", "ops-teams", "pager"],
                "events": ["incident.created", "analysis.completed", "lifecycle.changed"],
                **rule,
            }
        ],
    }


async def start(
    client_with: ClientFactory, tmp_path: Path, body: dict[str, Any], **settings: Any
) -> tuple[httpx.AsyncClient, Services, dict[str, str]]:
    path = tmp_path / "notifications.json"
    path.write_text(json.dumps(body))
    values: dict[str, Any] = {"public_url": "https://chronosops.example", **settings}
    http, services = await client_with(notifications_file=path, job_backoff_seconds=0, **values)
    assert services.issuer is not None
    token = services.issuer.mint(subject="analyst", roles=[Role.ANALYST], ttl=timedelta(hours=1))
    return http, services, bearer(token)


async def test_a_new_incident_and_its_diagnosis_reach_slack_teams_and_the_signed_webhook(
    client_with: ClientFactory, tmp_path: Path, receivers: Receivers
) -> None:
    http, services, analyst = await start(client_with, tmp_path, config(receivers))
    response = await http.post(INGEST, json=checkout_incident(), headers=analyst)
    assert response.status_code == 201, response.text
    incident_id = response.json()["incidentId"]
    await services.runner.drain()

    slack = [r.json for r in receivers.at("/slack")]
    assert [m["text"].split(":")[0] for m in slack] == ["New incident", "Diagnosis ready"]
    diagnosis = slack[1]["blocks"]
    assert any("*Diagnosis*" in b.get("text", {}).get("text", "") for b in diagnosis)
    button = next(b for b in diagnosis if b["type"] == "actions")["elements"][0]
    assert button["url"] == f"https://chronosops.example/incidents/{incident_id}"

    teams = [r.json for r in receivers.at("/teams")]
    card = teams[1]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["actions"][0]["url"].endswith(f"/incidents/{incident_id}")

    hooks = receivers.at("/hook")
    assert [h.json["event"] for h in hooks] == ["incident.created", "analysis.completed"]
    for hook in hooks:
        timestamp = hook.headers["X-ChronosOps-Timestamp"]
        expected = hmac.new(
            SECRET.encode(), timestamp.encode() + b"." + hook.body, hashlib.sha256
        ).hexdigest()
        assert hook.headers["X-ChronosOps-Signature"] == f"v1={expected}"
    assert hooks[1].json["analysis"]["topHypothesisId"]
    read = (await http.get(f"/v1/incidents/{incident_id}", headers=analyst)).json()
    assert hooks[0].json["incident"]["start"] == read["timeline"]["start"]  # the API's own form

    log = (await http.get(f"/v1/incidents/{incident_id}/notifications", headers=analyst)).json()
    assert len(log["items"]) == 6
    assert {item["state"] for item in log["items"]} == {"sent"}


async def test_lifecycle_changes_are_notified_with_who_did_them(
    client_with: ClientFactory, tmp_path: Path, receivers: Receivers
) -> None:
    http, services, analyst = await start(client_with, tmp_path, config(receivers))
    incident_id = (await http.post(INGEST, json=checkout_incident(), headers=analyst)).json()[
        "incidentId"
    ]
    await http.post(f"/v1/incidents/{incident_id}/acknowledge", headers=analyst)
    await services.runner.drain()
    last = receivers.at("/hook")[-1].json
    assert last["event"] == "lifecycle.changed"
    assert last["lifecycle"] == {
        "state": "acknowledged",
        "transition": "acknowledge",
        "by": "analyst",
        "via": "api",
    }


async def test_rules_filter_by_severity_service_and_environment(
    client_with: ClientFactory, tmp_path: Path, receivers: Receivers
) -> None:
    http, services, analyst = await start(
        client_with, tmp_path, config(receivers, severities=["critical"], services=["checkout"])
    )
    await http.post(INGEST, json=checkout_incident(severity="medium"), headers=analyst)
    await services.runner.drain()
    assert receivers.received == []


async def test_a_failing_receiver_never_blocks_ingest_and_is_retried_then_given_up(
    client_with: ClientFactory, tmp_path: Path, receivers: Receivers
) -> None:
    body = config(receivers)
    body["rules"] = [{"receivers": ["broken", "pager"], "events": ["incident.created"]}]
    receivers.failing.add("/broken")
    http, services, analyst = await start(client_with, tmp_path, body, job_max_attempts=3)
    response = await http.post(INGEST, json=checkout_incident(), headers=analyst)
    assert response.status_code == 201
    assert response.json()["status"] == "analyzed"
    incident_id = response.json()["incidentId"]
    await services.runner.drain()
    assert len(receivers.at("/broken")) == 3
    assert len(receivers.at("/hook")) == 1
    log = (await http.get(f"/v1/incidents/{incident_id}/notifications", headers=analyst)).json()
    states = {item["receiver"]: (item["state"], item["attempts"]) for item in log["items"]}
    assert states == {"broken": ("failed", 3), "pager": ("sent", 1)}
    broken = next(item for item in log["items"] if item["receiver"] == "broken")
    assert broken["statusCode"] == 500
    metrics = (await http.get("/metrics")).text
    assert 'chronosops_notifications_total{outcome="gave_up",receiver="broken"} 1.0' in metrics
    assert 'chronosops_notifications_total{outcome="sent",receiver="pager"} 1.0' in metrics
    # the broken receiver's job: two runs requeued, the last one failed for good
    assert 'chronosops_job_duration_seconds_count{kind="notify",state="queued"} 2.0' in metrics
    assert 'chronosops_job_duration_seconds_count{kind="notify",state="failed"} 1.0' in metrics
    assert 'chronosops_jobs{state="failed"} 1.0' in metrics


async def test_silenced_incidents_are_not_notified(
    client_with: ClientFactory, tmp_path: Path, receivers: Receivers
) -> None:
    http, services, analyst = await start(client_with, tmp_path, config(receivers))
    await http.post(
        "/v1/silences",
        json={
            "matchers": {"service": "checkout"},
            "endsAt": "2099-01-01T00:00:00Z",
            "comment": "x",
        },
        headers=analyst,
    )
    await http.post(INGEST, json=checkout_incident(), headers=analyst)
    await services.runner.drain()
    assert receivers.received == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"receivers": [{"name": "x", "type": "webhook", "url": "http://h/"}]}, "needs a secret"),
        ({"rules": [{"receivers": ["nope"], "events": ["incident.created"]}]}, "unknown receivers"),
        ({"receivers": [{"name": "x", "type": "pager", "url": "http://h/"}]}, "receivers.0.type"),
    ],
)
async def test_a_bad_notifications_file_is_refused_at_start_naming_the_problem(
    client_with: ClientFactory, tmp_path: Path, body: dict[str, Any], fragment: str
) -> None:
    from chronosops.notifications import NotificationsConfigError

    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    with pytest.raises(NotificationsConfigError, match=fragment):
        await client_with(notifications_file=path)


async def test_the_incident_page_shows_its_delivery_log(
    client_with: ClientFactory, tmp_path: Path, receivers: Receivers
) -> None:
    from tests.fixtures.console import sign_in_with_link

    body = config(receivers)
    body["rules"] = [{"receivers": ["broken"], "events": ["incident.created"]}]
    receivers.failing.add("/broken")
    http, services, analyst = await start(
        client_with, tmp_path, body, job_max_attempts=1, public_url="http://chronosops.test"
    )
    incident_id = (await http.post(INGEST, json=checkout_incident(), headers=analyst)).json()[
        "incidentId"
    ]
    await services.runner.drain()
    await sign_in_with_link(http, services, Role.VIEWER)
    page = (await http.get(f"/incidents/{incident_id}")).text
    assert 'id="notifications"' in page
    assert "delivery-failed" in page
    assert "broken answered 500" in page


async def test_a_finished_investigation_is_notified_with_how_it_ended(
    client_with: ClientFactory, tmp_path: Path, receivers: Receivers
) -> None:
    body = config(receivers)
    body["rules"] = [{"receivers": ["pager"], "events": ["investigation.finished"]}]
    http, services, analyst = await start(client_with, tmp_path, body)
    incident_id = (await http.post(INGEST, json=checkout_incident(), headers=analyst)).json()[
        "incidentId"
    ]
    started = await http.post(f"/v1/incidents/{incident_id}/investigate", json={}, headers=analyst)
    assert started.status_code == 202, started.text
    await services.runner.drain()
    hooks = [hook.json for hook in receivers.at("/hook")]
    assert [hook["event"] for hook in hooks] == ["investigation.finished"]
    assert hooks[0]["incident"]["id"] == incident_id
    assert hooks[0]["investigation"]["sessionId"] == started.json()["sessionId"]
    assert hooks[0]["investigation"]["status"] in ("stopped", "completed", "failed")
