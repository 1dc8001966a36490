"""Google Cloud Monitoring alerting notifications, schema 1.2."""

from __future__ import annotations

import pytest

from chronosops.sources import SourcePayloadError
from tests.sources.payloads import at, load, normalise, one, request_of


def test_an_open_incident_reads_epoch_seconds_subject_resource_and_labels() -> None:
    request = request_of("google-cloud-monitoring", "alerting_open")
    assert request.source_type == "GOOGLE_CLOUD"
    assert request.source_ref == "0.opqiw61fsv7p"
    assert request.title == "Checkout p99 latency above 2 s in europe-west1"
    assert request.timeline.start == at("2024-03-12T08:20:00Z")
    assert request.severity == "critical"
    assert request.metadata is not None
    assert (request.metadata.service, request.metadata.region) == ("checkout", "europe-west1")
    assert (request.metadata.environment, request.metadata.team) == ("prod", "payments")
    fields = request.metadata.custom_fields or {}
    assert fields["metricType"] == "run.googleapis.com/request_latencies"
    assert fields["observedValue"] == "2314.5"
    assert request.description is not None
    assert request.description.endswith("Runbook: https://runbooks.example.com/checkout-latency")


def test_a_closed_incident_resolves_at_ended_at() -> None:
    event = one("google-cloud-monitoring", "alerting_closed")
    assert (event.action, event.source_ref) == ("resolve", "0.opqiw61fsv7p")
    assert event.resolved_at == at("2024-03-12T08:50:12Z")


def test_no_severity_is_medium_and_the_title_falls_back_to_policy_and_condition() -> None:
    event = one("google-cloud-monitoring", "alerting_no_severity")
    assert event.request is not None
    assert event.request.severity == "medium"
    assert event.request.title == "Checkout latency p99: p99 latency > 2s"
    assert [note.code for note in event.notes] == ["severity-defaulted"]


@pytest.mark.parametrize(
    ("word", "severity"), [("Critical", "critical"), ("Error", "high"), ("Warning", "medium")]
)
def test_policy_severities(word: str, severity: str) -> None:
    payload = load("google-cloud-monitoring", "alerting_open")
    payload["incident"]["severity"] = word
    assert request_of("google-cloud-monitoring", payload).severity == severity


def test_an_unknown_schema_version_is_refused() -> None:
    payload = load("google-cloud-monitoring", "alerting_open")
    payload["version"] = "2.0"
    with pytest.raises(SourcePayloadError) as raised:
        normalise("google-cloud-monitoring", payload)
    assert raised.value.errors[0].path == "version"
