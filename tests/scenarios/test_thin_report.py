"""A scenario reported thin: the alert and the recorded changes, nothing observed — a valid
ingest request whose first analysis has little to go on."""

from __future__ import annotations

from chronosops.core.artifacts import ChangeEvent
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.scenarios import GenerationOptions, generate
from chronosops.scenarios.thin_report import thin_report


def test_the_report_carries_the_alert_and_the_changes_and_nothing_observed() -> None:
    incident = generate("feature-flag-regression", GenerationOptions(drop=frozenset({"logs"})))
    request = IngestIncidentRequest.model_validate(thin_report(incident, source_ref="thin:1"))
    lite = request.evidence_lite
    assert lite is not None
    assert (lite.metrics, lite.logs, lite.traces) == (None, None, None)
    assert lite.events is not None
    alert, *changes = lite.events
    assert (alert.type, (alert.metadata or {})["service"]) == ("alert", "checkout-api")
    recorded = [a for a in incident.artifacts if isinstance(a, ChangeEvent)]
    assert [(c.type, c.description) for c in changes] == [
        (r.change_type, r.description) for r in recorded
    ]
    assert request.source_type == "CUSTOM"
    assert request.metadata is not None
    assert request.metadata.service == incident.service
    assert request.timeline.start == incident.start
