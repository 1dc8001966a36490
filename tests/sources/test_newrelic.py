"""New Relic: workflow webhooks (default and custom templates), legacy channels, the guide."""

from __future__ import annotations

import pytest

from tests.sources.payloads import RECEIVED, at, load, one, request_of


def test_the_default_workflow_payload_opens_the_issue_with_epoch_ms_times() -> None:
    event = one("newrelic", "workflow_activated")
    assert (event.action, event.source_ref) == ("trigger", "c5faa7e6-7b54-402d-af79-f99601e0278c")
    request = event.request
    assert request is not None
    assert request.severity == "critical"
    assert request.timeline.start == at("2024-03-12T08:12:11.352Z")
    assert request.metadata is not None
    assert request.metadata.service == "checkout-api"
    fields = request.metadata.custom_fields or {}
    assert fields["workflowName"] == "Payments workflow"
    assert fields["alertConditionNames"] == ["Checkout error rate"]
    assert fields["issueUrl"].startswith("https://radar-api.service.newrelic.com/")


def test_closed_resolves_the_issue_at_its_last_update_in_the_default_template() -> None:
    event = one("newrelic", "workflow_closed")
    assert (event.action, event.resolved_at) == ("resolve", at("2024-03-12T08:54:17.383Z"))


def test_a_custom_template_uses_issue_id_activated_and_closed_times() -> None:
    opened = one("newrelic", "workflow_custom_template_activated")
    closed = one("newrelic", "workflow_custom_template_closed")
    assert opened.source_ref == closed.source_ref == "13bbcdca-f0b6-470d-b0be-b34583c58869"
    assert opened.request is not None
    assert opened.request.title == "Storage on db-7 exceeded 90%"
    assert opened.request.timeline.start == at("2024-03-12T10:39:10Z")  # activatedAt
    assert opened.request.metadata.service == "db-7"  # type: ignore[union-attr]
    assert closed.resolved_at == at("2024-03-12T10:42:15.419Z")  # closedAt


def test_acknowledged_keeps_the_issue_open() -> None:
    event = one("newrelic", "workflow_acknowledged")
    assert event.action == "acknowledge"
    assert event.request is not None


@pytest.mark.parametrize(
    ("priority", "severity"),
    [("CRITICAL", "critical"), ("HIGH", "high"), ("MEDIUM", "medium"), ("LOW", "low"), ("P2", "high")],
)  # fmt: skip
def test_issue_priorities_map_to_severities(priority: str, severity: str) -> None:
    payload = load("newrelic", "workflow_activated")
    payload["priority"] = priority
    assert request_of("newrelic", payload).severity == severity


def test_a_close_without_any_time_resolves_when_received_and_says_so() -> None:
    payload = {"id": "issue-1", "state": "CLOSED", "priority": "LOW"}
    event = one("newrelic", payload)
    assert event.resolved_at == RECEIVED
    assert [note.code for note in event.notes] == ["time-defaulted"]


def test_a_legacy_channel_incident_reads_its_condition_and_target() -> None:
    request = request_of("newrelic", "legacy_channel_open")
    assert request.source_ref == "88001"
    assert request.title == "Apdex below 0.7 on store-frontend"
    assert request.severity == "critical"
    assert request.timeline.start == at("2024-03-12T13:26:40Z")
    assert request.metadata is not None
    assert request.metadata.service == "store-frontend"
    assert request.metadata.tags == {"env": "production", "team": "storefront"}


def test_the_guide_shape_maps_p1_to_critical() -> None:
    request = request_of("newrelic", "guide_incident")
    assert (request.source_ref, request.severity) == ("12345", "critical")
    assert request.metadata is not None
    assert request.metadata.environment == "production"
    assert request.metadata.custom_fields == {"state": "open"}
