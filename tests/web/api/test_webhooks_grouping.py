"""Alerts of one group join one incident, analysed once, and every alert is still counted once."""

from __future__ import annotations

import copy
import dataclasses
import zlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.jobs.tables import Job
from chronosops.reasoning.tables import Analysis
from tests.fixtures.app import ClientFactory
from tests.fixtures.webhooks import Hooks, webhook_settings
from tests.sources.payloads import load


async def grouped_hooks(client_with: ClientFactory, **overrides: Any) -> Hooks:
    http, services = await client_with(**webhook_settings(**overrides))
    return Hooks(http=http, services=services)


async def count(hooks: Hooks, table: Any, incident_id: str) -> int:
    async with hooks.services.database.unit_of_work(write=False) as session:
        value = await session.scalar(
            select(func.count()).select_from(table).where(table.incident_id == incident_id)
        )
    return int(value or 0)


async def incidents(hooks: Hooks, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await hooks.http.get(
        "/v1/incidents?sourceType=ALERTMANAGER&limit=200", headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def alert_group(size: int, *, group_key: str = '{}:{alertname="HighErrorRate"}') -> dict[str, Any]:
    """An Alertmanager notification of ``size`` firing alerts that share one groupKey."""
    payload: dict[str, Any] = copy.deepcopy(load("alertmanager", "firing"))
    template = payload["alerts"][0]
    payload["groupKey"] = group_key
    payload["alerts"] = []
    for number in range(size):
        alert = copy.deepcopy(template)
        alert["fingerprint"] = f"{zlib.crc32(group_key.encode()):08x}{number:08x}"
        alert["labels"] = {**alert["labels"], "instance": f"10.0.{number // 250}.{number % 250}"}
        payload["alerts"].append(alert)
    return payload


async def test_a_group_of_two_alerts_opens_one_incident_analysed_once(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    response = await hooks.post("alertmanager", load("alertmanager", "firing"))
    assert response.status_code == 201, response.text
    events = response.json()["events"]
    assert [event["alert"] for event in events] == ["opened", "joined"]
    assert events[0]["incidentId"] == events[1]["incidentId"]
    assert "joined an open incident" in response.json()["message"]
    await hooks.services.runner.drain()
    (only,) = await incidents(hooks, viewer)
    assert only["status"] == "analyzed"
    assert await count(hooks, Analysis, only["id"]) == 1
    alerts = (await hooks.http.get(f"/v1/incidents/{only['id']}/alerts", headers=viewer)).json()
    assert alerts["count"] == 2
    assert [alert["role"] for alert in alerts["items"]] == ["opened", "joined"]
    detail = (await hooks.http.get(f"/v1/incidents/{only['id']}", headers=viewer)).json()
    assert detail["alertCount"] == 2
    assert [alert["sourceRef"] for alert in detail["alerts"]] == [
        event["sourceRef"] for event in events
    ]
    assert alerts["items"][1]["joinedBy"] == "groupKey"
    timeline = (await hooks.http.get(f"/v1/incidents/{only['id']}/timeline", headers=viewer)).json()
    titles = [entry["title"] for entry in timeline["entries"]]
    assert any(title.startswith("Alert joined: ") for title in titles), titles


@pytest.mark.long
async def test_a_group_of_a_thousand_alerts_opens_one_incident(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    response = await hooks.post("alertmanager", alert_group(1000))
    # A delivery this large is stored as a job and applied by a runner.
    assert response.status_code == 202, response.text
    await hooks.services.runner.drain()
    (only,) = await incidents(hooks, viewer)
    alerts = (await hooks.http.get(f"/v1/incidents/{only['id']}/alerts", headers=viewer)).json()
    assert alerts["count"] == 1000
    assert only["status"] == "analyzed"
    assert await count(hooks, Analysis, only["id"]) == 1
    # The first hundred joined alerts are evidence; the bundle says the rest were left out.
    bundle = (
        await hooks.http.get(f"/v1/evidence-bundles/{only['latestBundleId']}", headers=viewer)
    ).json()
    assert [a.get("eventType") for a in bundle["artifacts"]].count("alert") == 100
    assert any("at most the first 100" in note["detail"] for note in bundle["collection"])


async def test_a_repeat_of_a_grouped_delivery_opens_nothing_and_adds_no_alert(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    payload = load("alertmanager", "firing")
    first = (await hooks.post("alertmanager", payload)).json()
    # The same alerts in another delivery (another receiver, so another body): idempotent per
    # (sourceType, sourceRef), not only per delivery.
    again_body = {**copy.deepcopy(payload), "receiver": "another-receiver"}
    again = await hooks.post("alertmanager", again_body)
    assert again.status_code == 200, again.text
    events = again.json()["events"]
    assert [event["outcome"] for event in events] == ["unchanged", "unchanged"]
    assert [event["alert"] for event in events] == ["opened", "joined"]
    assert {event["incidentId"] for event in events} == {first["events"][0]["incidentId"]}
    (only,) = await incidents(hooks, viewer)
    alerts = (await hooks.http.get(f"/v1/incidents/{only['id']}/alerts", headers=viewer)).json()
    assert alerts["count"] == 2


async def test_without_the_window_rule_two_groups_of_one_service_are_two_incidents(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    await hooks.post("alertmanager", alert_group(1, group_key="group-a"))
    answer = await hooks.post("alertmanager", alert_group(1, group_key="group-b"))
    assert answer.json()["events"][0]["alert"] == "opened"
    assert len(await incidents(hooks, viewer)) == 2


async def test_with_the_window_rule_an_alert_of_the_same_service_and_environment_joins(
    client_with: ClientFactory, viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_windows={"ALERTMANAGER": 600})
    await hooks.post("alertmanager", alert_group(1, group_key="group-a"))
    answer = await hooks.post("alertmanager", alert_group(1, group_key="group-b"))
    event = answer.json()["events"][0]
    assert (event["outcome"], event["alert"]) == ("joined", "joined")
    (only,) = await incidents(hooks, viewer)
    alerts = (await hooks.http.get(f"/v1/incidents/{only['id']}/alerts", headers=viewer)).json()
    assert [alert["joinedBy"] for alert in alerts["items"]] == [None, "window"]


async def test_an_alert_outside_the_window_opens_its_own_incident_and_holds_the_pair(
    client_with: ClientFactory, viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_windows={"ALERTMANAGER": 600})
    await hooks.post("alertmanager", alert_group(1, group_key="group-a"))
    later = alert_group(1, group_key="group-b")
    starts = datetime.fromisoformat(later["alerts"][0]["startsAt"].replace("Z", "+00:00"))
    later["alerts"][0]["startsAt"] = (starts + timedelta(hours=2)).isoformat()
    opened = (await hooks.post("alertmanager", later)).json()["events"][0]
    assert opened["alert"] == "opened"
    # The newer incident took the service and environment over: an alert near its start
    # joins it, not the older one.
    nearby = alert_group(1, group_key="group-c")
    nearby["alerts"][0]["startsAt"] = (starts + timedelta(hours=2, minutes=1)).isoformat()
    joined = (await hooks.post("alertmanager", nearby)).json()["events"][0]
    assert (joined["alert"], joined["incidentId"]) == ("joined", opened["incidentId"])
    assert len(await incidents(hooks, viewer)) == 2


async def test_the_window_rule_is_per_source(
    client_with: ClientFactory, viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_windows={"GRAFANA": 600})
    await hooks.post("alertmanager", alert_group(1, group_key="group-a"))
    answer = await hooks.post("alertmanager", alert_group(1, group_key="group-b"))
    assert answer.json()["events"][0]["alert"] == "opened"
    assert len(await incidents(hooks, viewer)) == 2


async def test_alerts_joining_an_analysed_incident_coalesce_into_one_delayed_reanalysis(
    client_with: ClientFactory, viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_reanalysis_delay_seconds=300)
    group = alert_group(3)
    opener = {**group, "alerts": group["alerts"][:1]}
    await hooks.post("alertmanager", opener)
    await hooks.services.runner.drain()
    (only,) = await incidents(hooks, viewer)
    assert await count(hooks, Analysis, only["id"]) == 1
    for alert in group["alerts"][1:]:
        joined = await hooks.post("alertmanager", {**group, "alerts": [alert]})
        # A delivery that only joins an incident matched one: 200, not "nothing touched".
        assert joined.status_code == 200, joined.text
        assert joined.json()["events"][0]["outcome"] == "joined"
    async with hooks.services.database.unit_of_work(write=False) as session:
        queued = list(
            await session.execute(
                select(Job.run_after, Job.created_at).where(
                    Job.incident_id == only["id"], Job.state == "queued"
                )
            )
        )
    # One re-analysis for both joins, and not before the debounce delay.
    assert len(queued) == 1
    assert queued[0].run_after > queued[0].created_at
    await hooks.services.runner.drain()
    assert await count(hooks, Analysis, only["id"]) == 1


async def test_the_ingest_endpoint_says_the_incident_was_opened(
    hooks: Hooks, analyst: dict[str, str]
) -> None:
    body = {
        "sourceType": "ALERTMANAGER",
        "sourceRef": "ingest-opened-1",
        "title": "Checkout errors",
        "timeline": {"start": "2024-03-12T08:00:00Z"},
    }
    response = await hooks.http.post("/v1/incidents/ingest", json=body, headers=analyst)
    assert response.status_code in (200, 201, 202), response.text
    assert response.json()["alert"] == "opened"


async def test_an_alert_joining_an_analysed_incident_has_it_analysed_again_after_the_delay(
    client_with: ClientFactory, viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_reanalysis_delay_seconds=0)
    group = alert_group(2)
    await hooks.post("alertmanager", {**group, "alerts": group["alerts"][:1]})
    await hooks.services.runner.drain()
    await hooks.post("alertmanager", {**group, "alerts": group["alerts"][1:]})
    await hooks.services.runner.drain()
    (only,) = await incidents(hooks, viewer)
    assert await count(hooks, Analysis, only["id"]) == 2


def grouped_report(source_ref: str, *, service: str, evidence: dict[str, Any]) -> dict[str, Any]:
    """An alert of group "checkout-errors" reported through the ingest endpoint."""
    return {
        "sourceType": "ALERTMANAGER",
        "sourceRef": source_ref,
        "title": f"{service} errors",
        "timeline": {"start": "2024-03-12T08:00:00Z"},
        "metadata": {
            "service": service,
            "environment": "prod",
            "tags": {"alertname": "HighErrorRate", "service": service},
            "customFields": {
                "groupKey": "checkout-errors",
                "annotations": {"runbook": f"https://runbooks.example/{service}"},
            },
        },
        "evidenceLite": evidence,
    }


def checkout_report(source_ref: str) -> dict[str, Any]:
    """A checkout alert of the group, with one error line that names payments."""
    return grouped_report(
        source_ref,
        service="checkout",
        evidence={
            "logs": [
                {
                    "message": "upstream payments returned 503",
                    "level": "error",
                    "timestamp": "2024-03-12T08:00:05Z",
                }
            ]
        },
    )


async def open_then_join(
    hooks: Hooks, analyst: dict[str, str], viewer: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """A checkout alert opens the incident (analysed), then a payments alert of its group joins.

    Returns the incident id and the incident as it read before the join.
    """
    opener = checkout_report("checkout-1")
    opened = await hooks.http.post("/v1/incidents/ingest", json=opener, headers=analyst)
    assert opened.status_code in (200, 201, 202), opened.text
    await hooks.services.runner.drain()
    incident_id = opened.json()["incidentId"]
    first = (await hooks.http.get(f"/v1/incidents/{incident_id}", headers=viewer)).json()
    joining = grouped_report(
        "payments-1",
        service="payments",
        evidence={
            "logs": [
                {
                    "message": "connection pool exhausted after 30000 ms",
                    "level": "error",
                    "timestamp": "2024-03-12T08:00:02Z",
                    "service": "payments",
                }
            ]
        },
    )
    joined = await hooks.http.post("/v1/incidents/ingest", json=joining, headers=analyst)
    assert joined.json()["alert"] == "joined", joined.text
    return incident_id, first


async def test_a_joined_alerts_evidence_is_part_of_the_incidents_next_analysis(
    client_with: ClientFactory, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_reanalysis_delay_seconds=0)
    incident_id, first = await open_then_join(hooks, analyst, viewer)
    await hooks.services.runner.drain()
    second = (await hooks.http.get(f"/v1/incidents/{incident_id}", headers=viewer)).json()
    # A new analysis over a new bundle: the bundle's id is its content's hash, and the
    # content now holds the joined alert and what it carried.
    assert second["latestAnalysisId"] != first["latestAnalysisId"]
    assert second["latestBundleId"] != first["latestBundleId"]
    bundle = (
        await hooks.http.get(f"/v1/evidence-bundles/{second['latestBundleId']}", headers=viewer)
    ).json()
    (alert,) = [a for a in bundle["artifacts"] if a.get("eventType") == "alert"]
    assert alert["metadata"]["sourceRef"] == "payments-1"
    assert alert["metadata"]["service"] == "payments"
    assert alert["metadata"]["annotations"] == {"runbook": "https://runbooks.example/payments"}
    assert any("joined the incident" in note["detail"] for note in bundle["collection"])
    # The opener's evidence stays; the joined alert's log line is mined beside it.
    mined = str([a for a in bundle["artifacts"] if a["kind"] == "log_template"])
    assert "connection pool exhausted" in mined
    assert "upstream payments returned 503" in mined
    analysis = (
        await hooks.http.get(f"/v1/analyses/{second['latestAnalysisId']}", headers=viewer)
    ).json()
    assert analysis["request"]["bundleId"] == second["latestBundleId"]


async def test_reopening_an_incident_whose_group_reopened_elsewhere_leaves_the_group_there(
    hooks: Hooks, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    group = alert_group(3, group_key="reopened-group")
    first = await hooks.post("alertmanager", {**group, "alerts": group["alerts"][:1]})
    older = first.json()["events"][0]["incidentId"]
    resolved = await hooks.http.post(f"/v1/incidents/{older}/resolve", headers=analyst)
    assert resolved.status_code == 200, resolved.text
    second = await hooks.post("alertmanager", {**group, "alerts": group["alerts"][1:2]})
    newer = second.json()["events"][0]["incidentId"]
    assert newer != older
    reopened = await hooks.http.post(f"/v1/incidents/{older}/reopen", headers=analyst)
    assert reopened.status_code == 200, reopened.text
    third = await hooks.post("alertmanager", {**group, "alerts": group["alerts"][2:]})
    assert third.json()["events"][0]["incidentId"] == newer
    assert third.json()["events"][0]["alert"] == "joined"


async def test_reopening_an_incident_whose_service_a_newer_incident_holds_leaves_it_there(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_windows={"ALERTMANAGER": 600})
    first = await hooks.post("alertmanager", alert_group(1, group_key="window-a"))
    older = first.json()["events"][0]["incidentId"]
    resolved = await hooks.http.post(f"/v1/incidents/{older}/resolve", headers=analyst)
    assert resolved.status_code == 200, resolved.text
    second = await hooks.post("alertmanager", alert_group(1, group_key="window-b"))
    newer = second.json()["events"][0]["incidentId"]
    assert newer != older
    reopened = await hooks.http.post(f"/v1/incidents/{older}/reopen", headers=analyst)
    assert reopened.status_code == 200, reopened.text
    third = await hooks.post("alertmanager", alert_group(1, group_key="window-c"))
    assert (third.json()["events"][0]["alert"], third.json()["events"][0]["incidentId"]) == (
        "joined",
        newer,
    )


async def test_a_joined_alert_a_silence_matches_is_kept_and_shown_but_not_analysed(
    client_with: ClientFactory, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_reanalysis_delay_seconds=0)
    opener = grouped_report("checkout-2", service="checkout", evidence={})
    opened = await hooks.http.post("/v1/incidents/ingest", json=opener, headers=analyst)
    await hooks.services.runner.drain()
    incident_id = opened.json()["incidentId"]
    silence = {
        "matchers": {"service": "payments"},
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "comment": "payments maintenance",
    }
    made = await hooks.http.post("/v1/silences", json=silence, headers=analyst)
    assert made.status_code == 201, made.text
    joining = grouped_report("payments-2", service="payments", evidence={})
    joined = (await hooks.http.post("/v1/incidents/ingest", json=joining, headers=analyst)).json()
    assert joined["alert"] == "joined"
    assert "silenced by silence" in joined["message"]
    await hooks.services.runner.drain()
    assert await count(hooks, Analysis, incident_id) == 1
    alerts = (await hooks.http.get(f"/v1/incidents/{incident_id}/alerts", headers=viewer)).json()
    assert [alert["silenceId"] for alert in alerts["items"]] == [None, made.json()["id"]]
    timeline = (
        await hooks.http.get(f"/v1/incidents/{incident_id}/timeline", headers=viewer)
    ).json()
    assert "Alert joined: payments errors (silenced)" in [e["title"] for e in timeline["entries"]]


async def test_the_vendors_resolve_after_a_person_resolved_answers_for_that_incident(
    hooks: Hooks, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    group = alert_group(2, group_key="resolved-by-hand")
    opened = (await hooks.post("alertmanager", group)).json()
    incident_id = opened["events"][0]["incidentId"]
    resolved = await hooks.http.post(f"/v1/incidents/{incident_id}/resolve", headers=analyst)
    assert resolved.status_code == 200, resolved.text
    ended = copy.deepcopy(group)
    ended["status"] = "resolved"
    for alert in ended["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2024-03-12T09:00:00Z"
    answer = await hooks.post("alertmanager", ended)
    events = answer.json()["events"]
    assert [event["outcome"] for event in events] == ["already-resolved", "already-resolved"]
    assert {event["incidentId"] for event in events} == {incident_id}
    alerts = (await hooks.http.get(f"/v1/incidents/{incident_id}/alerts", headers=viewer)).json()
    assert [alert["resolvedAt"] for alert in alerts["items"]] == ["2024-03-12T09:00:00.000Z"] * 2


async def test_a_manual_reanalysis_takes_in_the_alerts_that_joined_before_the_debounce_ran(
    client_with: ClientFactory, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_reanalysis_delay_seconds=3600)
    incident_id, first = await open_then_join(hooks, analyst, viewer)
    # The debounced analysis waits an hour; the reanalysis asked for now takes the alert in.
    answer = await hooks.http.post(f"/v1/incidents/{incident_id}/reanalyze", headers=analyst)
    assert answer.status_code == 201, answer.text
    second = (await hooks.http.get(f"/v1/incidents/{incident_id}", headers=viewer)).json()
    assert second["latestBundleId"] != first["latestBundleId"]
    bundle = (
        await hooks.http.get(f"/v1/evidence-bundles/{second['latestBundleId']}", headers=viewer)
    ).json()
    (alert,) = [a for a in bundle["artifacts"] if a.get("eventType") == "alert"]
    assert alert["metadata"]["sourceRef"] == "payments-1"
    mined = str([a for a in bundle["artifacts"] if a["kind"] == "log_template"])
    assert "connection pool exhausted" in mined
    assert "upstream payments returned 503" in mined
    assert sum("joined the incident" in note["detail"] for note in bundle["collection"]) == 1
    # The debounced analysis was done by the request: nothing is left queued for later.
    async with hooks.services.database.unit_of_work(write=False) as session:
        states = list(
            await session.scalars(select(Job.state).where(Job.incident_id == incident_id))
        )
    assert "queued" not in states
    # Nothing new joined since: the next reanalysis keeps the same content-addressed bundle.
    again = await hooks.http.post(f"/v1/incidents/{incident_id}/reanalyze", headers=analyst)
    assert again.status_code == 201, again.text
    third = (await hooks.http.get(f"/v1/incidents/{incident_id}", headers=viewer)).json()
    assert third["latestBundleId"] == second["latestBundleId"]
    assert third["latestAnalysisId"] != second["latestAnalysisId"]


async def test_a_repeat_of_a_joined_alert_without_its_group_is_still_the_joined_alert(
    client_with: ClientFactory, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    """Without a groupKey no group can take the alert, so the ingest asks whether it repeats
    a joined alert in its own transaction: it still answers the joined incident, storing
    nothing new."""
    hooks = await grouped_hooks(client_with)
    incident_id, _first = await open_then_join(hooks, analyst, viewer)
    repeat = grouped_report("payments-1", service="payments", evidence={})
    del repeat["metadata"]["customFields"]["groupKey"]
    grouping = hooks.services.pipeline.grouping
    assert grouping is not None
    assert not grouping.may_join(IngestIncidentRequest.model_validate(repeat))
    response = await hooks.http.post("/v1/incidents/ingest", json=repeat, headers=analyst)
    assert response.status_code == 200, response.text
    assert (response.json()["alert"], response.json()["incidentId"]) == ("joined", incident_id)
    assert "Repeat of an alert that joined" in response.json()["message"]
    assert len(await incidents(hooks, viewer)) == 1
    alerts = (await hooks.http.get(f"/v1/incidents/{incident_id}/alerts", headers=viewer)).json()
    assert alerts["count"] == 2


async def test_what_a_joined_alert_read_and_found_empty_is_carried_into_the_bundle(
    client_with: ClientFactory, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_reanalysis_delay_seconds=0)
    opener = checkout_report("checkout-3")
    opened = await hooks.http.post("/v1/incidents/ingest", json=opener, headers=analyst)
    await hooks.services.runner.drain()
    incident_id = opened.json()["incidentId"]
    # Two alerts of the group join: one read the deploy log, the other the deploy log and the
    # config history; both found nothing there.
    for source_ref, kinds in (("payments-3", ["deploys"]), ("payments-4", ["config", "deploys"])):
        joining = grouped_report(source_ref, service="payments", evidence={"readEmpty": kinds})
        joined = await hooks.http.post("/v1/incidents/ingest", json=joining, headers=analyst)
        assert joined.json()["alert"] == "joined", joined.text
    await hooks.services.runner.drain()
    incident = (await hooks.http.get(f"/v1/incidents/{incident_id}", headers=viewer)).json()
    bundle = (
        await hooks.http.get(f"/v1/evidence-bundles/{incident['latestBundleId']}", headers=viewer)
    ).json()
    notes = {note["source"]: note for note in bundle["collection"]}
    assert notes["joinedAlerts"]["read"] == ["deploys", "config"]
    assert notes["joinedAlerts"]["detail"].endswith(
        "; read and found empty by their senders: deploys, config"
    )
    # The opener declared nothing: its note reads nothing; the bundle's coverage is the union.
    assert "read" not in notes["evidenceLite"]
    assert bundle["coverage"] == ["deploys", "config"]
    analysis = (
        await hooks.http.get(f"/v1/analyses/{incident['latestAnalysisId']}", headers=viewer)
    ).json()
    assert analysis["result"]["completeness"]["readEmpty"] == ["DEPLOYS", "CONFIG"]


async def test_a_manual_reanalysis_carries_what_joined_alerts_read_and_found_empty(
    client_with: ClientFactory, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    hooks = await grouped_hooks(client_with, alert_grouping_reanalysis_delay_seconds=3600)
    incident_id, _first = await open_then_join(hooks, analyst, viewer)
    joining = grouped_report("payments-5", service="payments", evidence={"readEmpty": ["config"]})
    joined = await hooks.http.post("/v1/incidents/ingest", json=joining, headers=analyst)
    assert joined.json()["alert"] == "joined", joined.text
    answer = await hooks.http.post(f"/v1/incidents/{incident_id}/reanalyze", headers=analyst)
    assert answer.status_code == 201, answer.text
    second = (await hooks.http.get(f"/v1/incidents/{incident_id}", headers=viewer)).json()
    bundle = (
        await hooks.http.get(f"/v1/evidence-bundles/{second['latestBundleId']}", headers=viewer)
    ).json()
    (note,) = [note for note in bundle["collection"] if note["source"] == "joinedAlerts"]
    assert note["read"] == ["config"]
    assert bundle["coverage"] == ["config"]

    # Nothing new joined: the same bundle. A bundle whose joined alerts' note lacks the
    # declaration (sealed before coverage existed) is sealed again with it.
    services = hooks.services
    async with services.database.unit_of_work(write=False) as session:
        draft = await services.evidence.draft(session, second["latestBundleId"])
        joined_requests = await services.pipeline.stored_evidence(session, incident_id)
    gatherer = services.pipeline.gatherer
    assert await gatherer.with_joined(draft, joined_requests.joined) is None
    older = services.evidence.seal(
        list(draft.artifacts),
        collection=[dataclasses.replace(note, read=()) for note in draft.collection],
    )
    assert "coverage" not in older.content
    merged = await gatherer.with_joined(older, joined_requests.joined)
    assert merged is not None
    again = services.evidence.seal(merged.artifacts, collection=merged.notes)
    assert [note.read for note in again.collection if note.source == "joinedAlerts"] == [
        ("config",)
    ]
    assert again.coverage == ["config"]
    assert {a.artifact_id for a in again.artifacts} == {a.artifact_id for a in draft.artifacts}
    assert "merge" not in {note.source for note in again.collection}
