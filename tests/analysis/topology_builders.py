"""Small, hand-made incidents with a call graph: metrics, spans (server and client), logs, changes.

Built through `core.aggregation`, the code every collector and the scenarios use, so the engine
sees exactly the shapes it sees in production. Minute 0 is the onset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chronosops.analysis import AnalysisInput, IncidentContext
from chronosops.core.aggregation import (
    RawLogLine,
    RawSpan,
    log_templates,
    metric_series,
    span_groups,
)
from chronosops.core.artifacts import Artifact, ChangeEvent, ProviderStatus

ONSET = datetime(2025, 6, 2, 14, 0, tzinfo=UTC)
MINUTES = range(-20, 20)


def at(minute: float) -> datetime:
    return ONSET + timedelta(minutes=minute)


def level(before: float, after: float, *, start: float = 0, end: float | None = None) -> Any:
    """A value that is ``before`` until ``start``, ``after`` from then (until ``end``)."""

    def value(minute: int) -> float:
        inside = minute >= start and (end is None or minute < end)
        jitter = 1 + 0.01 * ((minute % 5) - 2)
        return (after if inside else before) * jitter

    return value


@dataclass
class Incident:
    reported: str
    region: str | None = None
    artifacts: list[Artifact] = field(default_factory=list)
    _spans: list[RawSpan] = field(default_factory=list)
    _lines: list[RawLogLine] = field(default_factory=list)

    def metric(self, service: str, name: str, shape: Any) -> Incident:
        made = metric_series(
            id_prefix="metric",
            name=name,
            points=[(at(m), shape(m)) for m in MINUTES],
            source="test",
            labels={"service": service},
            service=service,
        )
        assert made is not None
        self.artifacts.append(made)
        return self

    def health(
        self, service: str, *, latency: Any = None, errors: Any = None, traffic: Any = None
    ) -> Incident:
        self.metric(service, "latency_p95_ms", latency or level(100, 100))
        self.metric(service, "error_ratio", errors or level(0.001, 0.001))
        return self.metric(service, "request_rate", traffic or level(100, 100))

    def spans(
        self,
        service: str,
        operation: str,
        *,
        peer: str | None = None,
        ms: Any = None,
        error_share: Any = None,
        per_minute: int | Any = 6,
    ) -> Incident:
        duration = ms or level(50, 50)
        failing = error_share or level(0.0, 0.0)
        rate = per_minute if callable(per_minute) else (lambda _minute: per_minute)
        for minute in MINUTES:
            count = round(rate(minute))
            for n in range(count):
                self._spans.append(
                    RawSpan(
                        ts=at(minute) + timedelta(seconds=n * 59 / max(count, 1)),
                        service=service,
                        operation=operation,
                        duration_ms=duration(minute),
                        is_error=n < round(failing(minute) * count),
                        trace_id=f"{service}-{minute}-{n}",
                        peer_service=peer,
                    )
                )
        return self

    def log(
        self,
        service: str,
        message: str,
        *,
        level_: str = "ERROR",
        start: float = 0,
        per_minute: int = 20,
    ) -> Incident:
        for minute in MINUTES:
            if minute < start:
                continue
            for n in range(per_minute):
                self._lines.append(
                    RawLogLine(
                        ts=at(minute) + timedelta(seconds=n),
                        message=message,
                        level=level_,
                        service=service,
                    )
                )
        return self

    def change(
        self,
        service: str,
        change_type: str,
        minutes_before: float,
        *,
        version_from: str | None = None,
        version_to: str | None = None,
        description: str = "a change",
    ) -> Incident:
        self.artifacts.append(
            ChangeEvent(
                artifact_id=f"change:{service}:{change_type}:{minutes_before}",
                title=f"{change_type} on {service}",
                summary=description,
                source="test",
                change_type=change_type,  # type: ignore[arg-type]
                timestamp=at(-minutes_before),
                description=description,
                service=service,
                version_from=version_from,
                version_to=version_to,
            )
        )
        return self

    def provider(self, product: str, locations: list[str]) -> Incident:
        self.artifacts.append(
            ProviderStatus(
                artifact_id=f"status:{product}",
                title=f"{product} incident",
                summary="provider incident",
                source="test",
                provider="Google Cloud",
                incident_ref="abc",
                status="SERVICE_OUTAGE",
                began_at=at(-3),
                products=[product],
                locations=locations,
                description="Elevated errors",
            )
        )
        return self

    def request(self) -> AnalysisInput:
        artifacts = list(self.artifacts)
        artifacts += span_groups(self._spans, id_prefix="span", source="test", onset=ONSET)
        artifacts += log_templates(self._lines, id_prefix="log", source="test")
        return AnalysisInput(
            context=IncidentContext(
                source_type="CUSTOM",
                title="test incident",
                service=self.reported,
                region=self.region,
                onset=ONSET,
                window_start=at(MINUTES[0]),
                window_end=at(MINUTES[-1] + 1),
            ),
            artifacts=artifacts,
        )
