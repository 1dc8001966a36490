"""A generated incident's metrics as a Prometheus would hold them: OpenMetrics text to backfill
(``promtool tsdb create-blocks-from openmetrics``), the call graph as Tempo's service-graph
counter, and the PromQL that reads each metric back under the name the incident gave it.

This is how the thin-evidence demo puts a scenario's metrics where an investigation has to go
and fetch them, instead of sending them with the incident.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime

from chronosops.core.artifacts import MetricSeries
from chronosops.scenarios.model import GeneratedIncident

SERVICE_LABEL = "service"
ENVIRONMENT_LABEL = "env"
# The counter Tempo's metrics-generator writes, which the Prometheus collector reads by default
# to find an incident's callers and callees.
SERVICE_GRAPH_METRIC = "traces_service_graph_request"
GRAPH_REQUESTS_PER_MINUTE = 60


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: dict[str, str]) -> str:
    return ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(pairs.items()))


def _family(name: str) -> tuple[str, str]:
    """The OpenMetrics family and type of a metric: ``…_total`` is a counter's sample."""
    if name.endswith("_total"):
        return name.removesuffix("_total"), "counter"
    return name, "gauge"


def _series(incident: GeneratedIncident) -> Iterator[MetricSeries]:
    for artifact in incident.artifacts:
        if isinstance(artifact, MetricSeries):
            yield artifact


def _minutes(incident: GeneratedIncident) -> list[datetime]:
    return sorted({point.ts for series in _series(incident) for point in series.points})


def openmetrics(incident: GeneratedIncident) -> str:
    """Every metric series of ``incident`` (generated with its metrics) plus its call graph.

    Each series keeps its labels and gains ``env`` (the incident's environment), as a real
    exporter's target labels would add it.
    """
    by_family: dict[str, tuple[str, list[str]]] = {}
    for series in _series(incident):
        family, kind = _family(series.name)
        labels = {**series.labels, ENVIRONMENT_LABEL: incident.environment}
        if series.service is not None:
            labels.setdefault(SERVICE_LABEL, series.service)
        text = _labels(labels)
        lines = by_family.setdefault(family, (kind, []))[1]
        for point in series.points:
            if math.isfinite(point.value):
                lines.append(f"{series.name}{{{text}}} {point.value:g} {point.ts.timestamp():.0f}")
    edges = [
        (incident.topology.name(node.key), incident.topology.name(target))
        for node in incident.topology.services
        for target in incident.topology.dependencies(node.key)
    ]
    out: list[str] = []
    for family in sorted(by_family):
        kind, lines = by_family[family]
        out.append(f"# TYPE {family} {kind}")
        out.extend(lines)
    if edges:
        out.append(f"# TYPE {SERVICE_GRAPH_METRIC} counter")
        stamps = _minutes(incident)
        for client, server in edges:
            pair = _labels({"client": client, "server": server})
            for index, at in enumerate(stamps, start=1):
                out.append(
                    f"{SERVICE_GRAPH_METRIC}_total{{{pair}}} "
                    f"{index * GRAPH_REQUESTS_PER_MINUTE} {at.timestamp():.0f}"
                )
    out.append("# EOF")
    return "\n".join(out) + "\n"


def prometheus_queries(incident: GeneratedIncident) -> dict[str, dict[str, str]]:
    """The collector's ``queries``: one per metric of ``incident``, named as the metric is, so
    the series an investigation collects carry the names (and units) the engine knows."""
    queries: dict[str, dict[str, str]] = {}
    for series in _series(incident):
        if series.name in queries:
            continue
        query = {"query": f"max by ($group) ({series.name}{{$selector}})"}
        if series.unit:
            query["unit"] = series.unit
        queries[series.name] = query
    return queries
