"""The public Google Cloud status feed, entry by entry, in its own vocabulary."""

from __future__ import annotations

import pytest

from chronosops.sources import SourcePayloadError
from tests.sources.payloads import at, load, normalise, request_of


def test_an_ongoing_entry_is_open_with_an_absolute_url_and_its_location() -> None:
    request = request_of("google-cloud-status", "entry_ongoing")
    assert request.source_ref == "rZvZvSKVdDHyWh4dZJ8D"
    assert request.title == "Retry errors for Google BigQuery in europe-north1"
    assert request.severity == "low"
    assert request.timeline.start == at("2024-03-12T07:41:00Z")
    assert request.timeline.detected_at == at("2024-03-12T07:58:22Z")
    assert request.timeline.end is None
    assert request.metadata is not None
    assert (request.metadata.service, request.metadata.region) == (
        "Google BigQuery",
        "europe-north1",
    )
    fields = request.metadata.custom_fields or {}
    assert fields["url"] == "https://status.cloud.google.com/incidents/rZvZvSKVdDHyWh4dZJ8D"
    assert request.description is not None
    assert request.description.startswith("Summary: Retry errors")


def test_an_ended_entry_carries_its_end() -> None:
    request = request_of("google-cloud-status", "entry_resolved")
    assert request.timeline.end == request.timeline.resolved_at == at("2022-07-10T15:47:00Z")
    assert request.severity == "high"
    assert request.metadata.region == "europe-west2"  # type: ignore[union-attr]


def test_available_ends_an_entry_without_end_and_status_impact_stands_in_for_severity() -> None:
    third = normalise("google-cloud-status", "feed").events[1]
    assert third.source_ref == "TEST_INCIDENT_01"
    assert third.request is not None
    assert third.request.severity == "high"  # SERVICE_DISRUPTION
    assert third.request.timeline.end == at("2024-02-25T13:00:00Z")


@pytest.mark.parametrize(
    ("impact", "severity"),
    [
        ("SERVICE_OUTAGE", "critical"),
        ("SERVICE_DISRUPTION", "high"),
        ("SERVICE_INFORMATION", "info"),
    ],
)
def test_status_impacts_map_when_the_severity_is_missing(impact: str, severity: str) -> None:
    entry = load("google-cloud-status", "entry_ongoing")
    del entry["severity"]
    entry["status_impact"] = impact
    assert request_of("google-cloud-status", entry).severity == severity


def test_the_whole_feed_is_one_event_per_entry_in_order() -> None:
    result = normalise("google-cloud-status", "feed")
    assert result.shape == "feed"
    assert [event.source_ref for event in result.events] == [
        "rZvZvSKVdDHyWh4dZJ8D",
        "TEST_INCIDENT_01",
        "mLBHeCxhRia17anXCSX1",
    ]
    assert normalise("google-cloud-status", []).events == ()


def test_a_feed_with_something_else_in_it_names_the_entry() -> None:
    feed = load("google-cloud-status", "feed")
    feed.insert(1, {"not": "an entry"})
    with pytest.raises(SourcePayloadError) as raised:
        normalise("google-cloud-status", feed)
    assert raised.value.errors[0].path == "[1]"


def test_an_entry_for_multiple_products_is_filed_under_its_first_affected_product() -> None:
    entry = load("google-cloud-status", "entry_ongoing")
    entry["service_name"] = "Multiple Products"
    entry["affected_products"] = [
        {"title": "Cloud Run", "id": "9D7d2iNBQWN24zc1VamE"},
        {"title": "Google BigQuery", "id": "9CcrhHUcFevXPSVaSxkf"},
    ]
    request = request_of("google-cloud-status", entry)
    assert request.metadata is not None
    assert request.metadata.service == "Cloud Run"
    assert (request.metadata.custom_fields or {})["affectedProducts"] == [
        "Cloud Run",
        "Google BigQuery",
    ]


def test_an_entry_for_multiple_products_without_any_listed_names_no_service() -> None:
    entry = load("google-cloud-status", "entry_ongoing")
    entry["service_name"] = "Multiple Products"
    entry["affected_products"] = []
    request = request_of("google-cloud-status", entry)
    assert request.metadata is None or request.metadata.service is None
