"""Datadog: Incidents API objects, monitor webhooks (recommended and default templates), the guide."""

from __future__ import annotations

import pytest

from tests.sources.payloads import at, load, one, request_of


def test_an_incidents_api_object_keeps_microsecond_offsets_and_its_fields() -> None:
    request = request_of("datadog", "incident_active")
    assert request.source_ref == "00000000-aaaa-0000-0000-000000000042"
    assert request.title == "Elevated 5xx on checkout-api after deploy"
    assert request.severity == "high"
    assert request.timeline.start == at("2024-03-12T08:02:11.218000Z")  # customer impact start
    assert request.timeline.detected_at == at("2024-03-12T08:03:00Z")
    assert request.timeline.end is None
    assert request.metadata is not None
    assert (request.metadata.service, request.metadata.team) == ("checkout-api", "payments")
    assert (request.metadata.custom_fields or {})["publicId"] == 42


def test_a_resolved_incidents_api_object_carries_its_end() -> None:
    event = one("datadog", "incident_resolved")
    assert event.action == "trigger"  # a full record: it opens (or matches) and ends the incident
    assert event.request is not None
    assert event.request.timeline.end == at("2024-03-12T09:15:30.000001Z")
    assert event.request.metadata.tags == {"state": "resolved", "severity": "SEV-2"}  # type: ignore[union-attr]


def test_a_resolved_state_without_a_resolved_time_ends_at_the_last_modification() -> None:
    payload = load("datadog", "incident_resolved")
    payload["data"]["attributes"]["resolved"] = None
    assert request_of("datadog", payload).timeline.end == at("2024-03-12T09:15:31Z")


def test_a_monitor_trigger_reads_the_recommended_template() -> None:
    event = one("datadog", "monitor_triggered")
    assert (event.action, event.source_ref) == ("trigger", "7419834271049382760")
    request = event.request
    assert request is not None
    assert request.title == "[Triggered on {host:web-03,env:prod}] High CPU on web hosts"
    assert request.severity == "high"  # $ALERT_PRIORITY P2
    assert request.timeline.start == at("2024-03-12T08:14:58Z")  # $DATE in epoch milliseconds
    assert request.description == "%%%\nCPU on web-03 is at 96.2% @payments-oncall\n%%%"
    assert request.metadata is not None
    assert request.metadata.tags == {
        "env": "prod",
        "host": "web-03",
        "monitor": "",
        "service": "web",
        "team": "payments",
        "region": "eu-west-1",
    }
    assert (request.metadata.service, request.metadata.environment) == ("web", "prod")
    assert (request.metadata.region, request.metadata.team) == ("eu-west-1", "payments")
    assert (request.metadata.custom_fields or {})["alertQuery"].startswith("avg(last_5m)")


def test_a_monitor_recovery_resolves_the_same_alert_cycle() -> None:
    event = one("datadog", "monitor_recovered")
    assert (event.action, event.source_ref) == ("resolve", "7419834271049382760")
    assert event.resolved_at == at("2024-03-12T08:45:01Z")


@pytest.mark.parametrize(
    ("alert_type", "severity"), [("error", "high"), ("warning", "medium"), ("info", "info")]
)
def test_without_a_priority_the_alert_type_sets_the_severity(
    alert_type: str, severity: str
) -> None:
    payload = load("datadog", "monitor_triggered")
    del payload["alert_priority"]
    payload["alert_type"] = alert_type
    assert request_of("datadog", payload).severity == severity


def test_camel_case_template_fields_are_read_too() -> None:
    payload = {
        "alertCycleKey": "cycle-9",
        "alertTransition": "Triggered",
        "alertTitle": "Queue depth high",
        "alertPriority": "p1",
        "date": 1710231298000,
    }
    event = one("datadog", payload)
    assert (event.source_ref, event.request.severity) == ("cycle-9", "critical")  # type: ignore[union-attr]


def test_the_default_template_ties_a_recovery_to_its_trigger_by_title() -> None:
    opened = one("datadog", "monitor_default_payload_triggered")
    recovered = one("datadog", "monitor_default_payload_recovered")
    assert opened.action == "trigger"
    assert recovered.action == "resolve"
    assert opened.source_ref == recovered.source_ref
    assert opened.source_ref.startswith("title-sha256:")
    assert recovered.resolved_at == at("2024-03-12T11:40:00Z")


def test_the_guide_shape_normalises_as_the_guide_shows_with_tags_as_a_map() -> None:
    request = request_of("datadog", "guide_incident")
    assert request.source_ref == "abc123"
    assert request.severity == "high"
    assert request.metadata is not None
    assert request.metadata.service == "payment-service"
    assert request.metadata.region == "us-east-1"
    assert request.metadata.tags == {"production": "", "critical": ""}
    assert request.metadata.custom_fields == {"state": "active"}


def test_sev_5_and_lower_case_severities_map_and_repeated_tags_keep_all_values() -> None:
    request = request_of("datadog", "guide_incident_sev5_lowercase")
    assert request.severity == "info"
    assert request.timeline.end == at("2024-01-16T10:20:00Z")
    assert request.metadata.tags == {  # type: ignore[union-attr]
        "env": "staging,qa",
        "team": "search",
        "url": "https://search.example.com/health",
    }


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("SEV-1", "critical"), ("sev-2", "high"), ("Sev-3", "medium"), ("SEV-4", "low"), ("SEV-5", "info"), ("UNKNOWN", "medium")],
)  # fmt: skip
def test_the_guide_sev_mapping(severity: str, expected: str) -> None:
    payload = load("datadog", "guide_incident")
    payload["incident"]["attributes"]["severity"] = severity
    assert request_of("datadog", payload).severity == expected
