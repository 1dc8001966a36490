"""Artifacts for engine tests, built through the same evidenceLite converter the API uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chronosops.analysis import AnalysisInput, IncidentContext
from chronosops.analysis.observations import observe
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import normalise
from chronosops.core.ingest_request import EvidenceLite
from chronosops.core.timestamps import format_instant
from chronosops.evidence.lite import artifacts_from_lite

ONSET = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return format_instant(ONSET + timedelta(minutes=minutes))


def series(
    name: str, before: float, after: float, *, service: str = "checkout"
) -> list[dict[str, Any]]:
    """A metric flat at ``before`` for 15 minutes, then flat at ``after`` for 15 (with jitter)."""
    points = []
    for minute in range(-15, 15):
        level = before if minute < 0 else after
        jitter = 1 + 0.02 * ((minute % 3) - 1)
        points.append(
            {
                "name": name,
                "value": round(level * jitter, 6),
                "timestamp": at(minute),
                "labels": {"service": service},
            }
        )
    return points


def logs(
    message: str, count: int, *, level: str = "ERROR", start: float = 1, service: str = "checkout"
) -> list[dict[str, Any]]:
    return [
        {
            "message": message.format(i=i),
            "level": level,
            "timestamp": at(start + i * 0.1),
            "service": service,
        }
        for i in range(count)
    ]


def analysis_input(*, service: str = "checkout", **lite: Any) -> AnalysisInput:
    evidence = EvidenceLite.model_validate(lite)
    context = IncidentContext(
        source_type="CUSTOM",
        title="test incident",
        service=service,
        onset=ONSET,
        window_start=ONSET - timedelta(minutes=15),
        window_end=ONSET + timedelta(minutes=15),
    )
    return AnalysisInput(
        context=context,
        artifacts=artifacts_from_lite(evidence, default_service=service),
        # As a bundle sealed from this evidenceLite says: the kinds declared read and empty.
        coverage=list(evidence.read_empty or []),
    )


def latency_after_and_before(points: list[dict[str, Any]]) -> tuple[float, float]:
    """The latency an incident of ``points`` at "api" shows after its change and before, as the
    rules read it (units, pairs and buckets applied)."""
    request = analysis_input(service="api", metrics=points)
    shift = observe(normalise(request.artifacts, DEFAULT_TABLE), request.context).shift(
        "api", "latency"
    )
    assert shift is not None
    return shift.after, shift.before
