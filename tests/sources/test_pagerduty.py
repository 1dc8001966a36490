"""PagerDuty: V3 webhook events, Events API v2 events and the guide's shape."""

from __future__ import annotations

import pytest

from chronosops.sources import SourcePayloadError
from tests.sources.payloads import RECEIVED, at, load, normalise, one, request_of


def test_a_v3_incident_triggered_becomes_the_incident_with_its_service_team_and_urgency() -> None:
    request = request_of("pagerduty", "v3_incident_triggered")
    assert request.source_type == "PAGERDUTY"
    assert request.source_ref == "Q2MEXKC2KHDDXN"
    assert request.title == "payment-service: 5xx error rate above 5% for 5 minutes"
    assert request.severity == "high"
    assert request.timeline.start == at("2024-03-12T08:14:27Z")
    assert request.timeline.end is None
    assert request.metadata is not None
    assert request.metadata.service == "payment-service"
    assert request.metadata.team == "Payments"
    assert request.metadata.tags == {"urgency": "high", "status": "triggered"}
    fields = request.metadata.custom_fields or {}
    assert fields["priority"] == "P1"
    assert fields["incidentKey"] == "3f0d2c4b8e1a4b6f9c7d5e2a1b0c9d8e"
    assert fields["eventType"] == "incident.triggered"
    assert request.source_payload == load("pagerduty", "v3_incident_triggered")


def test_a_v3_incident_resolved_resolves_by_incident_id_at_the_event_time() -> None:
    event = one("pagerduty", "v3_incident_resolved")
    assert (event.action, event.source_ref) == ("resolve", "Q2MEXKC2KHDDXN")
    assert event.resolved_at == at("2024-03-12T08:51:40.337Z")
    assert event.request is None


def test_v3_acknowledgements_keep_the_incident_open_and_carry_it() -> None:
    event = one("pagerduty", "v3_incident_acknowledged")
    assert event.action == "acknowledge"
    assert event.request is not None
    assert event.request.timeline.end is None


def test_a_reopened_incident_starts_again_when_it_was_reopened() -> None:
    event = one("pagerduty", "v3_incident_reopened")
    assert event.action == "trigger"
    assert event.request is not None
    assert event.request.timeline.start == at("2024-03-12T11:02:05Z")


def test_notes_are_recorded_against_the_incident_and_pings_against_nothing() -> None:
    note = one("pagerduty", "v3_incident_annotated")
    assert (note.action, note.source_ref) == ("ignore", "Q2MEXKC2KHDDXN")
    ping = normalise("pagerduty", "v3_pagey_ping")
    assert ping.events == ()
    assert ping.notes[0].code == "event-ignored"


def test_an_incident_event_type_chronosops_does_not_know_is_recorded_against_the_incident() -> None:
    payload = load("pagerduty", "v3_incident_triggered")
    payload["event"]["event_type"] = "incident.custom_field_values.updated"
    event = one("pagerduty", payload)
    assert (event.action, event.source_ref) == ("ignore", "Q2MEXKC2KHDDXN")


def test_a_v3_incident_with_only_the_required_fields_defaults_severity_and_notes_it() -> None:
    event = one("pagerduty", "v3_missing_optional_fields")
    assert event.request is not None
    assert event.request.severity == "medium"
    assert event.request.metadata is not None
    assert event.request.metadata.service is None
    assert [note.code for note in event.notes] == ["severity-defaulted"]


def test_an_events_api_trigger_reads_pd_cef_with_its_plus_0000_timestamp() -> None:
    request = request_of("pagerduty", "events_v2_trigger")
    assert request.source_ref == "checkout-latency-prod-eu1"
    assert request.title == "p99 latency of checkout above 2 s in eu-west-1"
    assert request.timeline.start == at("2024-03-12T08:10:58.315Z")
    assert request.severity == "high"  # PD-CEF "error"
    assert request.metadata is not None
    assert request.metadata.service == "checkout"
    assert request.metadata.tags == {
        "source": "prod-checkout-03.eu-west-1.example.com",
        "component": "checkout",
        "group": "prod-checkout",
        "class": "latency",
        "severity": "error",
    }
    assert (request.metadata.custom_fields or {})["customDetails"]["p99_ms"] == 2314
    assert request.source_payload["routing_key"] == "[REDACTED]"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", "critical"), ("error", "high"), ("warning", "medium"), ("info", "info")],
)
def test_pd_cef_severities_map_to_chronosops_severities(severity: str, expected: str) -> None:
    payload = load("pagerduty", "events_v2_trigger")
    payload["payload"]["severity"] = severity
    assert request_of("pagerduty", payload).severity == expected


def test_an_events_api_resolve_resolves_the_dedup_key_when_received() -> None:
    event = one("pagerduty", "events_v2_resolve")
    assert (event.action, event.source_ref, event.resolved_at) == (
        "resolve",
        "checkout-latency-prod-eu1",
        RECEIVED,
    )
    assert [note.code for note in event.notes] == ["time-defaulted"]


def test_an_events_api_trigger_without_dedup_key_gets_a_stable_content_reference() -> None:
    first = one("pagerduty", "events_v2_trigger_without_dedup_key")
    again = one("pagerduty", "events_v2_trigger_without_dedup_key")
    assert first.source_ref == again.source_ref
    assert first.source_ref.startswith("sha256:")
    assert "ref-derived" in [note.code for note in first.notes]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"event_action": "resolve", "dedup_key": None}, "dedup_key"),
        ({"event_action": "snooze"}, "event_action"),
        ({"payload": None}, "payload"),
    ],
)
def test_events_api_mistakes_name_their_field(change: dict[str, object], path: str) -> None:
    payload = {**load("pagerduty", "events_v2_trigger"), **change}
    with pytest.raises(SourcePayloadError) as raised:
        normalise("pagerduty", payload)
    assert [error.path for error in raised.value.errors] == [path]


def test_the_guide_shape_normalises_exactly_as_the_guide_shows() -> None:
    request = request_of("pagerduty", "guide_incident")
    assert request.source_ref == "P123456"
    assert request.title == "High error rate in payment-service"
    assert request.severity == "high"
    assert request.timeline.start == request.timeline.detected_at == at("2024-01-15T10:00:00Z")
    assert request.timeline.end is None
    assert request.metadata is not None
    assert request.metadata.service == "payment-service"
    assert request.metadata.team == "on-call-team"
    assert request.metadata.tags == {"urgency": "high", "status": "triggered"}


def test_a_resolved_guide_incident_carries_its_end() -> None:
    request = request_of("pagerduty", "guide_incident_resolved")
    assert request.timeline.end == request.timeline.resolved_at == at("2024-01-15T12:40:00Z")
    assert request.severity == "medium"  # urgency "normal"
    assert (request.metadata.custom_fields or {}) == {  # type: ignore[union-attr]
        "priority": "P3",
        "incidentKey": "billing-backlog",
    }


@pytest.mark.parametrize(
    ("urgency", "severity"),
    [
        ("critical", "critical"),
        ("HIGH", "high"),
        ("low", "low"),
        ("urgent", "critical"),
        ("normal", "medium"),
        ("whenever", "medium"),
    ],
)
def test_the_guide_urgency_mapping(urgency: str, severity: str) -> None:
    payload = load("pagerduty", "guide_incident")
    payload["incident"]["urgency"] = urgency
    assert request_of("pagerduty", payload).severity == severity


def test_anything_else_is_not_a_pagerduty_payload() -> None:
    with pytest.raises(SourcePayloadError, match="Not a PagerDuty payload"):
        normalise("pagerduty", {"messages": []})


def test_an_events_api_trigger_without_component_is_filed_under_its_source() -> None:
    payload = load("pagerduty", "events_v2_trigger")
    del payload["payload"]["component"]
    request = request_of("pagerduty", payload)
    assert request.metadata is not None
    assert request.metadata.service == "prod-checkout-03.eu-west-1.example.com"


def test_an_events_api_trigger_with_only_a_group_is_filed_under_the_group() -> None:
    payload = load("pagerduty", "events_v2_trigger")
    del payload["payload"]["component"]
    del payload["payload"]["source"]
    request = request_of("pagerduty", payload)
    assert request.metadata is not None
    assert request.metadata.service == "prod-checkout"


def test_a_guide_incident_whose_service_has_no_name_is_filed_under_the_service_id() -> None:
    payload = load("pagerduty", "guide_incident")
    payload["incident"]["service"] = {"id": "PSVC123", "type": "service_reference"}
    request = request_of("pagerduty", payload)
    assert request.metadata is not None
    assert request.metadata.service == "PSVC123"
