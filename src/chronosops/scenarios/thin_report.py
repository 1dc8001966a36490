"""A scenario's incident reported with thin evidence, as a paging system would send it: the
alert and the recorded deploys and config changes, but no log line, no trace and no metric.

The metrics are not lost, they are where metrics live (the demo backfills them into a
Prometheus, `chronosops.scenarios.openmetrics`); an investigation has to go and fetch them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chronosops.core.artifacts import ChangeEvent
from chronosops.core.timestamps import format_instant
from chronosops.scenarios.model import SYNTHETIC_TAG, GeneratedIncident

THIN_SOURCE_TYPE = "CUSTOM"
ALERT_DELAY = timedelta(minutes=1)


def _change(event: ChangeEvent) -> dict[str, Any]:
    metadata: dict[str, Any] = {"service": event.service, "environment": event.environment}
    if event.version_from:
        metadata["versionFrom"] = event.version_from
    if event.version_to:
        metadata["versionTo"] = event.version_to
    if event.author:
        metadata["author"] = event.author
    return {
        "type": event.change_type,
        "description": event.description,
        "timestamp": format_instant(event.timestamp),
        "metadata": {k: v for k, v in metadata.items() if v is not None},
    }


def thin_report(incident: GeneratedIncident, *, source_ref: str) -> dict[str, Any]:
    """The ingest body (JSON) of ``incident`` with only its alert and its changes as evidence."""
    changes = [a for a in incident.artifacts if isinstance(a, ChangeEvent)]
    alert = {
        "type": "alert",
        "description": f"{incident.service}: {incident.title}",
        "timestamp": format_instant(incident.start + ALERT_DELAY),
        "metadata": {"service": incident.service},
    }
    return {
        "sourceType": THIN_SOURCE_TYPE,
        "sourceRef": source_ref,
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity,
        "timeline": {
            "start": format_instant(incident.start),
            "end": format_instant(incident.end),
            "detectedAt": format_instant(incident.start + ALERT_DELAY),
        },
        "metadata": {
            "service": incident.service,
            "region": incident.region,
            "environment": incident.environment,
            "tags": {"scenario": incident.scenario_id, SYNTHETIC_TAG: "true"},
        },
        "collectionContext": {
            "windowMinutesBefore": incident.options.minutes_before,
            "windowMinutesAfter": incident.options.minutes_after,
        },
        "evidenceLite": {"events": [alert, *(_change(c) for c in changes)]},
    }
