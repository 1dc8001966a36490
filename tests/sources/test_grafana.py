"""Grafana unified alerting: Alertmanager's shape plus Grafana's own fields."""

from __future__ import annotations

from chronosops.sources.alert_groups import fingerprint
from tests.sources.payloads import at, load, normalise


def test_each_grafana_alert_is_one_incident_with_its_values_and_links() -> None:
    result = normalise("grafana", "firing")
    assert result.shape == "unified-alerting"
    first, second = result.events
    assert first.source_ref == fingerprint(load("grafana", "firing")["alerts"][0]["labels"])
    assert first.request is not None
    assert first.request.source_type == "GRAFANA"
    assert first.request.title == "This alert was triggered for zone us-1"
    assert first.request.timeline.start == at("2024-03-12T07:51:03.157076Z")  # +02:00
    assert first.request.severity == "medium"
    assert first.request.metadata is not None
    assert first.request.metadata.region == "us-1"
    assert first.request.metadata.team == "blue"
    fields = first.request.metadata.custom_fields or {}
    assert fields["values"] == {"B": 44.23943737541908, "C": 1}
    assert fields["silenceURL"].startswith("https://play.grafana.org/alerting/silence/new")
    assert "dashboardURL" not in fields  # empty in the payload
    assert second.request is not None
    assert [note.code for note in second.notes] == ["severity-defaulted"]


def test_a_resolved_grafana_alert_resolves_at_ends_at() -> None:
    event = normalise("grafana", "resolved").events[0]
    assert (event.action, event.resolved_at) == ("resolve", at("2024-03-12T08:21:03.157076Z"))
