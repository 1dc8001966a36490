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


ADS = "adservice"
BY_CATEGORY = "AdService/getAdsByCategory"
RANDOM = "AdService/getRandomAds"


def ads_traffic(
    random_every: int, *, requests_a_minute: int = 8
) -> dict[str, list[dict[str, Any]]]:
    """The frontend asking the ad service for ads, every request, for 30 minutes; the ad
    service picks random ads on one request in ``random_every`` (never when 0), ads by category
    on the others. No status, no log line: only which spans there are."""
    spans: list[dict[str, Any]] = []
    number = 0
    for minute in range(-15, 15):
        for index in range(requests_a_minute):
            number += 1
            trace = f"{number:032x}"
            start = minute + index / (requests_a_minute + 1)
            root, ads, pick = (f"{3 * number + k:016x}" for k in range(3))
            random = bool(random_every) and number % random_every == 0
            spans += [
                {
                    "traceId": trace,
                    "spanId": root,
                    "service": "frontend",
                    "operation": "GET /product",
                    "duration": 30.0,
                    "timestamp": at(start),
                },
                {
                    "traceId": trace,
                    "spanId": ads,
                    "parentSpanId": root,
                    "service": ADS,
                    "operation": "AdService/GetAds",
                    "duration": 10.0,
                    "timestamp": at(start + 0.00005),
                },
                {
                    "traceId": trace,
                    "spanId": pick,
                    "parentSpanId": ads,
                    "service": ADS,
                    "operation": RANDOM if random else BY_CATEGORY,
                    "duration": 5.0,
                    "timestamp": at(start + 0.0001),
                },
            ]
    return {"traces": spans}
