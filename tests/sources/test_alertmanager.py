"""Alertmanager webhook v4: one incident per alert, by fingerprint, resolved by its resolved alert."""

from __future__ import annotations

import pytest

from chronosops.sources import SourcePayloadError
from chronosops.sources.alert_groups import fingerprint
from tests.sources.payloads import RECEIVED, at, load, normalise

# A label set and the fingerprint a running Alertmanager reported for it.
REAL_LABELS = {
    "alertname": "Deployment",
    "app_kubernetes_io_instance": "eric-oss-common-base",
    "app_kubernetes_io_managed_by": "Helm",
    "app_kubernetes_io_name": "eric-pm-kube-state-metrics",
    "app_kubernetes_io_version": "2.1.0_10",
    "chart": "eric-pm-kube-state-metrics-2.1.0_10",
    "deployment": "eric-log-transformer",
    "instance": "192.168.69.53:8080",
    "job": "eric-pm-kube-state-metrics",
    "kubernetes_name": "eric-pm-kube-state-metrics",
    "kubernetes_namespace": "eric-eo-cm-ci406",
    "namespace": "eric-eo-cm-ci406",
    "severity": "Warning",
}


def test_fingerprints_are_computed_exactly_as_alertmanager_computes_them() -> None:
    assert fingerprint(REAL_LABELS) == "fbab788ec4c1018b"
    assert fingerprint({}) == "cbf29ce484222325"


def test_each_firing_alert_is_one_open_incident_with_nanosecond_start() -> None:
    result = normalise("alertmanager", "firing")
    assert result.shape == "webhook-v4"
    assert [event.action for event in result.events] == ["trigger", "trigger"]
    second = result.events[1].request
    assert second is not None
    assert second.timeline.start == at("2024-03-12T08:00:57.301438Z")
    assert second.timeline.end is None  # the zero time means ongoing
    assert second.severity == "critical"
    assert (
        second.description == "checkout-api on 10.0.3.18:8080 serves 2.1 errors/s (threshold 1/s)"
    )


def test_each_resolved_alert_resolves_its_fingerprint_at_ends_at() -> None:
    events = normalise("alertmanager", "resolved").events
    assert [(event.action, event.source_ref, event.resolved_at) for event in events] == [
        ("resolve", "8b8daca1a81d1a6e", at("2024-03-12T08:42:27.3Z")),
        ("resolve", "d6639225a78bc65d", at("2024-03-12T08:43:12Z")),
    ]


def test_an_alert_without_fingerprint_gets_the_one_alertmanager_would_give_it() -> None:
    result = normalise("alertmanager", "truncated_without_fingerprint")
    event = result.events[0]
    labels = load("alertmanager", "truncated_without_fingerprint")["alerts"][0]["labels"]
    assert event.source_ref == fingerprint(labels)
    assert event.request is not None
    assert event.request.timeline.start == at("2024-03-12T08:12:00Z")  # +01:00
    assert event.request.timeline.end is None  # a future endsAt of a firing alert is a timeout
    assert event.request.severity == "medium"  # warning
    assert event.request.title == "KubePodCrashLooping"
    assert event.request.metadata.service == "ledger"  # type: ignore[union-attr]


def test_truncated_alerts_are_a_note_on_the_delivery() -> None:
    notes = normalise("alertmanager", "truncated_without_fingerprint").notes
    assert [(note.code, note.path) for note in notes] == [("alerts-truncated", "truncatedAlerts")]


def test_a_resolved_alert_without_ends_at_resolves_when_received() -> None:
    payload = load("alertmanager", "resolved")
    del payload["alerts"][0]["endsAt"]
    event = normalise("alertmanager", payload).events[0]
    assert event.resolved_at == RECEIVED
    assert [note.code for note in event.notes] == ["time-defaulted"]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", "critical"), ("page", "critical"), ("error", "high"), ("warning", "medium"), ("info", "info"), ("none", "info")],
)  # fmt: skip
def test_severity_labels_map_with_a_documented_vocabulary(severity: str, expected: str) -> None:
    payload = load("alertmanager", "firing")
    payload["alerts"][0]["labels"]["severity"] = severity
    assert normalise("alertmanager", payload).events[0].request.severity == expected  # type: ignore[union-attr]


def test_an_alert_that_is_not_an_object_names_its_index() -> None:
    payload = load("alertmanager", "firing")
    payload["alerts"].append(17)
    with pytest.raises(SourcePayloadError) as raised:
        normalise("alertmanager", payload)
    assert raised.value.errors[0].path == "alerts[2]"


def test_an_empty_group_is_nothing_to_do() -> None:
    payload = load("alertmanager", "firing")
    payload["alerts"] = []
    assert normalise("alertmanager", payload).events == ()
