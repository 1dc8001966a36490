"""Prometheus: PromQL range queries over the incident window.

Each query is a template; ``$selector`` becomes the label matchers that find the incident's
service (``service="checkout-api",env="production"``), ``$service`` its name, ``$rate_window``
the rate window. The defaults ask for the RED metrics and saturation of the usual
instrumentation (OpenTelemetry / Prometheus client histograms, cAdvisor); every query can be
replaced, extended, or overridden for one service.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chronosops.collectors.base import (
    Collected,
    Collector,
    CollectorOptions,
    CollectorQuery,
    CollectorResponseError,
)
from chronosops.core.aggregation import metric_series
from chronosops.core.artifacts import Artifact

QUERY_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PromQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(min_length=1, max_length=4000)
    unit: str | None = None


_HISTOGRAM = (
    "1000 * histogram_quantile({q}, sum by (le) "
    "(rate(http_request_duration_seconds_bucket{{$selector}}[$rate_window])))"
)
DEFAULT_QUERIES: dict[str, PromQuery] = {
    "latency_p50_ms": PromQuery(query=_HISTOGRAM.format(q="0.5"), unit="ms"),
    "latency_p95_ms": PromQuery(query=_HISTOGRAM.format(q="0.95"), unit="ms"),
    "latency_p99_ms": PromQuery(query=_HISTOGRAM.format(q="0.99"), unit="ms"),
    "error_ratio": PromQuery(
        query=(
            'sum(rate(http_requests_total{$selector,code=~"5.."}[$rate_window])) '
            "/ sum(rate(http_requests_total{$selector}[$rate_window]))"
        ),
        unit="ratio",
    ),
    "request_rate": PromQuery(
        query="sum(rate(http_requests_total{$selector}[$rate_window]))", unit="req/s"
    ),
    "cpu_cores": PromQuery(
        query="sum(rate(container_cpu_usage_seconds_total{$selector}[$rate_window]))",
        unit="cores",
    ),
    "memory_working_set_bytes": PromQuery(
        query="sum(container_memory_working_set_bytes{$selector})", unit="bytes"
    ),
    "db_connections_in_use": PromQuery(
        query='sum(db_client_connections_usage{$selector,state="used"})', unit="count"
    ),
}


def _names_are_metric_names(queries: dict[str, PromQuery]) -> dict[str, PromQuery]:
    bad = [name for name in queries if not QUERY_NAME.match(name)]
    if bad:
        raise ValueError(f"query names must look like metric names (a-z, 0-9, _): {bad}")
    return queries


class ServiceOverride(BaseModel):
    """How to find one service when the default label does not (``selector`` replaces it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    selector: str | None = None
    queries: dict[str, PromQuery] = Field(default_factory=dict)

    _check = field_validator("queries")(_names_are_metric_names)


class PrometheusOptions(CollectorOptions):
    service_label: str = Field(default="service", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    labels: dict[Literal["environment", "region"], str] = Field(
        default_factory=dict, description='incident field → label, e.g. {"environment": "env"}'
    )
    step_seconds: int = Field(default=60, ge=5, le=3600)
    rate_window: str = Field(default="5m", pattern=r"^[1-9][0-9]*[smh]$")
    queries: dict[str, PromQuery] = Field(default_factory=lambda: dict(DEFAULT_QUERIES))
    extra_queries: dict[str, PromQuery] = Field(default_factory=dict)
    services: dict[str, ServiceOverride] = Field(default_factory=dict)
    max_series_per_query: int = Field(default=10, ge=1, le=200)

    _check = field_validator("queries", "extra_queries")(_names_are_metric_names)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class PrometheusCollector(Collector):
    kind = "prometheus"
    options_model = PrometheusOptions
    credential_names: ClassVar[frozenset[str]] = frozenset({"bearer_token", "username", "password"})

    @property
    def settings(self) -> PrometheusOptions:
        assert isinstance(self.options, PrometheusOptions)
        return self.options

    def selector(self, query: CollectorQuery, service: str) -> str:
        override = self.settings.services.get(service)
        if override is not None and override.selector:
            return override.selector
        matchers = [f"{self.settings.service_label}={_quote(service)}"]
        for field_name, label in sorted(self.settings.labels.items()):
            value = query.environment if field_name == "environment" else query.region
            if value:
                matchers.append(f"{label}={_quote(value)}")
        return ",".join(matchers)

    def queries_for(self, service: str) -> dict[str, PromQuery]:
        queries = {**self.settings.queries, **self.settings.extra_queries}
        override = self.settings.services.get(service)
        if override is not None:
            queries.update(override.queries)
        return queries

    async def collect(self, query: CollectorQuery) -> Collected:
        service = self.require_service(query)
        selector = self.selector(query, service)
        queries = self.queries_for(service)
        return await self.ask_all(
            [
                (name, self._range(name, promql, query, selector, service))
                for name, promql in queries.items()
            ]
        )

    async def _range(
        self,
        name: str,
        promql: PromQuery,
        query: CollectorQuery,
        selector: str,
        service: str,
    ) -> list[Artifact]:
        text = (
            promql.query.replace("$selector", selector)
            .replace("$service", service)
            .replace("$rate_window", self.settings.rate_window)
        )
        params = {
            "query": text,
            "start": f"{query.window.start.timestamp():.3f}",
            "end": f"{query.window.end.timestamp():.3f}",
            "step": f"{self.settings.step_seconds}s",
        }
        body = await self.get_json(
            f"{self.endpoint}/api/v1/query_range", params=params, headers=self.bearer_or_basic()
        )
        return self._series(name, promql, body, service, query.max_items)

    def _series(
        self, name: str, promql: PromQuery, body: Any, service: str, max_items: int
    ) -> list[Artifact]:
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise CollectorResponseError(f"prometheus query {name} failed: {error or 'no status'}")
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise self.malformed(f"query {name} did not return a matrix")
        result = data.get("result")
        if not isinstance(result, list):
            raise self.malformed(f"query {name} has no result list")
        artifacts: list[Artifact] = []
        for entry in result[: min(self.settings.max_series_per_query, max_items)]:
            try:
                labels = {
                    str(k): str(v) for k, v in entry.get("metric", {}).items() if k != "__name__"
                }
                points = [
                    (datetime.fromtimestamp(float(ts), UTC), float(value))
                    for ts, value in entry["values"]
                ]
            except (AttributeError, KeyError, TypeError, ValueError):
                raise self.malformed(f"query {name} returned a series without values") from None
            series = metric_series(
                id_prefix=f"metric:{self.name}",
                name=name,
                points=((ts, v) for ts, v in points if math.isfinite(v)),
                source=self.source,
                labels=labels,
                service=service,
                unit=promql.unit,
            )
            if series is not None:
                artifacts.append(series)
        return artifacts
