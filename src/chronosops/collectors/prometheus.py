"""Prometheus: PromQL range queries over the incident window.

Each query is a template; ``$selector`` becomes the label matchers that find the incident's
service (``service="checkout-api",env="production"``), ``$service`` its name, ``$rate_window``
the rate window. The defaults ask for the RED metrics and saturation of the usual
instrumentation (OpenTelemetry / Prometheus client histograms, classic or native, cAdvisor);
every query can be replaced, extended, or overridden for one service.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chronosops.collectors.base import (
    Collected,
    Collector,
    CollectorError,
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


@dataclass(frozen=True)
class HttpInstrumentation:
    """How one instrumentation names a server's request-duration histogram, and its 5xx."""

    histogram: str  # without the _bucket/_count suffix
    to_ms: str  # the factor that turns the histogram's unit into milliseconds
    requests: str  # the counter of every request
    failed: str  # the matcher that keeps the 5xx answers


# One fleet often runs all three: services on a Prometheus client library, services on
# OpenTelemetry's stable HTTP conventions (1.23+), and services still on the experimental ones
# (milliseconds, ``http_status_code``). Each default query reads a service through the first of
# these it has, so no one of them is silently missing from the bundle.
HTTP_INSTRUMENTATIONS: tuple[HttpInstrumentation, ...] = (
    HttpInstrumentation(
        histogram="http_request_duration_seconds",
        to_ms="1000",
        requests="http_requests_total",
        failed='code=~"5.."',
    ),
    HttpInstrumentation(
        histogram="http_server_request_duration_seconds",
        to_ms="1000",
        requests="http_server_request_duration_seconds_count",
        failed='http_response_status_code=~"5.."',
    ),
    HttpInstrumentation(
        histogram="http_server_duration_milliseconds",
        to_ms="1",
        requests="http_server_duration_milliseconds_count",
        failed='http_status_code=~"5.."',
    ),
)


# ``$group`` is the service label: every default groups by it, so one query answers for the
# whole neighbourhood and each series names the service it belongs to. ``or`` keeps, service by
# service, the first instrumentation that answers (its left side wins on equal label sets).
def _first_of(parts: list[str]) -> str:
    return " or ".join(f"({part})" for part in parts)


# Each instrumentation is read twice over: first as a classic histogram (``_bucket``/``_count``
# series, and a client library's own request counter), then as a native one: the histogram's
# bare name holding one sparse histogram per sample, which is what a Prometheus client library
# with native buckets, or an OpenTelemetry exponential histogram, becomes once Prometheus scrapes
# it as a native histogram. A native histogram has no ``_bucket`` or ``_count`` series, so the
# classic alternatives find nothing of it; ``histogram_quantile`` and ``histogram_count`` read it
# (Prometheus 2.40+ with ``--enable-feature=native-histograms``).
def _latency(quantile: str, native: bool) -> str:
    parts = [
        f"{http.to_ms} * histogram_quantile({quantile}, sum by (le, $group) "
        f"(rate({http.histogram}_bucket{{$selector}}[$rate_window])))"
        for http in HTTP_INSTRUMENTATIONS
    ]
    if native:
        parts += [
            f"{http.to_ms} * histogram_quantile({quantile}, sum by ($group) "
            f"(rate({http.histogram}{{$selector}}[$rate_window])))"
            for http in HTTP_INSTRUMENTATIONS
        ]
    return _first_of(parts)


def _requests(http: HttpInstrumentation, failed: bool = False) -> str:
    matchers = f"$selector,{http.failed}" if failed else "$selector"
    return f"sum by ($group) (rate({http.requests}{{{matchers}}}[$rate_window]))"


def _native_requests(http: HttpInstrumentation, failed: bool = False) -> str:
    matchers = f"$selector,{http.failed}" if failed else "$selector"
    return f"sum by ($group) (histogram_count(rate({http.histogram}{{{matchers}}}[$rate_window])))"


def _error_ratio(requests: Callable[..., str], http: HttpInstrumentation) -> str:
    # A service without a single 5xx has no error series at all; ``or … * 0`` makes that a
    # ratio of 0 rather than no evidence.
    every = requests(http)
    return f"({requests(http, failed=True)} or {every} * 0) / {every}"


def http_queries(*, native: bool = True) -> dict[str, PromQuery]:
    """The default HTTP queries; ``native=False`` leaves out the native-histogram alternatives
    (the defaults before 2026-12-06, kept to measure what those cost)."""
    readers: list[Callable[..., str]] = [_requests, _native_requests] if native else [_requests]
    return {
        "latency_p50_ms": PromQuery(query=_latency("0.5", native), unit="ms"),
        "latency_p95_ms": PromQuery(query=_latency("0.95", native), unit="ms"),
        "latency_p99_ms": PromQuery(query=_latency("0.99", native), unit="ms"),
        "error_ratio": PromQuery(
            query=_first_of(
                [_error_ratio(read, http) for read in readers for http in HTTP_INSTRUMENTATIONS]
            ),
            unit="ratio",
        ),
        "request_rate": PromQuery(
            query=_first_of([read(http) for read in readers for http in HTTP_INSTRUMENTATIONS]),
            unit="req/s",
        ),
    }


DEFAULT_QUERIES: dict[str, PromQuery] = {
    **http_queries(),
    "cpu_cores": PromQuery(
        query="sum by ($group) (rate(container_cpu_usage_seconds_total{$selector}[$rate_window]))",
        unit="cores",
    ),
    "memory_working_set_bytes": PromQuery(
        query="sum by ($group) (container_memory_working_set_bytes{$selector})", unit="bytes"
    ),
    "db_connections_in_use": PromQuery(
        query='sum by ($group) (db_client_connections_usage{$selector,state="used"})',
        unit="count",
    ),
}


class EdgeMetric(BaseModel):
    """A metric whose series each name one call: the caller in one label, the callee in another."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    caller_label: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    callee_label: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")


# Tempo's metrics-generator and the OpenTelemetry Collector's servicegraph connector write the
# first; Istio the second.
DEFAULT_SERVICE_GRAPH: tuple[EdgeMetric, ...] = (
    EdgeMetric(
        metric="traces_service_graph_request_total", caller_label="client", callee_label="server"
    ),
    EdgeMetric(
        metric="istio_requests_total",
        caller_label="source_canonical_service",
        callee_label="destination_canonical_service",
    ),
)
MAX_EDGES_PER_HOP = 500
# No further hop of the service graph is read this close to the deadline: the series matter more.
DISCOVERY_RESERVE_SECONDS = 2.0


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
    max_series_per_query: int = Field(
        default=10, ge=1, le=200, description="series kept per query and service"
    )
    service_graph: list[EdgeMetric] = Field(
        default_factory=lambda: list(DEFAULT_SERVICE_GRAPH),
        description="edge metrics read to find callers and callees; [] reads none",
    )

    _check = field_validator("queries", "extra_queries")(_names_are_metric_names)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_REGEX_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _alternatives(values: list[str]) -> str:
    """A PromQL string holding a regular expression that matches exactly these values."""
    return _quote("|".join(_REGEX_SPECIAL.sub(r"\\\1", value) for value in values))


class PrometheusCollector(Collector):
    kind = "prometheus"
    options_model = PrometheusOptions
    credential_names: ClassVar[frozenset[str]] = frozenset({"bearer_token", "username", "password"})

    @property
    def settings(self) -> PrometheusOptions:
        assert isinstance(self.options, PrometheusOptions)
        return self.options

    def _context(self, query: CollectorQuery) -> list[str]:
        matchers = []
        for field_name, label in sorted(self.settings.labels.items()):
            value = query.environment if field_name == "environment" else query.region
            if value:
                matchers.append(f"{label}={_quote(value)}")
        return matchers

    def selector(self, query: CollectorQuery, service: str) -> str:
        override = self.settings.services.get(service)
        if override is not None and override.selector:
            return override.selector
        return ",".join([f"{self.settings.service_label}={_quote(service)}", *self._context(query)])

    def group_selector(self, query: CollectorQuery, services: list[str]) -> str:
        """Matchers for several services at once (one regex on the service label)."""
        if len(services) == 1:
            return self.selector(query, services[0])
        return ",".join(
            [f"{self.settings.service_label}=~{_alternatives(services)}", *self._context(query)]
        )

    def queries_for(self, service: str) -> dict[str, PromQuery]:
        queries = {**self.settings.queries, **self.settings.extra_queries}
        override = self.settings.services.get(service)
        if override is not None:
            queries.update(override.queries)
        return queries

    def expand(self, promql: PromQuery, selector: str, service: str) -> str:
        return (
            promql.query.replace("$selector", selector)
            .replace("$service", service)
            .replace("$group", self.settings.service_label)
            .replace("$rate_window", self.settings.rate_window)
        )

    async def collect(self, query: CollectorQuery) -> Collected:
        self.require_service(query)
        collected = Collected()
        discovered: list[tuple[str, str]] = []
        if query.hops > 0 and self.settings.service_graph:
            discovered = await self._discover(query, collected)
        around, notes = self.around(query, discovered)
        collected.notes.extend(notes)
        services = [n.service for n in around]
        # A service configured on its own (a selector, queries of its own) is asked alone;
        # the others share one query per template.
        alone = [name for name in services if name in self.settings.services]
        together = [name for name in services if name not in self.settings.services]
        questions: list[tuple[str, Any]] = []
        if together:
            shared = {**self.settings.queries, **self.settings.extra_queries}
            questions += [
                (name, self._grouped(name, promql, query, together))
                for name, promql in shared.items()
            ]
        for service in alone:
            label = "" if service == services[0] else f"{service} "
            questions += [
                (f"{label}{name}", self._one(name, promql, query, service, services[0]))
                for name, promql in self.queries_for(service).items()
            ]
        answered = await self.ask_all(questions, kinds={label: "metrics" for label, _ in questions})
        collected.read = answered.read
        collected.problems.extend(answered.problems)
        collected.notes.extend(answered.notes)
        artifacts, cut = self.nearest_first(answered.artifacts, services, query.max_items)
        collected.notes.extend(cut)
        collected.artifacts = artifacts
        return collected

    # -- the neighbourhood -------------------------------------------------------------------

    async def _discover(self, query: CollectorQuery, collected: Collected) -> list[tuple[str, str]]:
        """Callers and callees from the service-graph metrics, hop by hop from the service.

        A backend without such metrics answers nothing, which is fine; one that fails leaves a
        problem, and the graph known before still counts.
        """
        service = self.require_service(query)
        found: set[tuple[str, str]] = set()
        seen = {service}
        frontier = [service]
        for _ in range(query.hops):
            if not frontier:
                break
            if self._out_of_time(query):
                collected.notes.append("service graph: not read further, the time budget ran low")
                break
            answers = await asyncio.gather(
                *(self._edges(edge, query, frontier) for edge in self.settings.service_graph),
                return_exceptions=True,
            )
            following: list[str] = []
            for edge, answer in zip(self.settings.service_graph, answers, strict=True):
                if isinstance(answer, CollectorError):
                    collected.problems.append(f"service graph {edge.metric}: {answer.message}")
                    continue
                if isinstance(answer, BaseException):
                    raise answer
                for caller, callee in answer:
                    found.add((caller, callee))
                    for name in (caller, callee):
                        if name not in seen:
                            seen.add(name)
                            following.append(name)
            # A hub can have hundreds of peers; only as many as the neighbourhood may hold are
            # followed further, so the next question stays small.
            frontier = sorted(following)[: query.max_neighbours]
        return sorted(found)

    def _out_of_time(self, query: CollectorQuery) -> bool:
        if query.deadline is None:
            return False
        return query.deadline - asyncio.get_running_loop().time() < DISCOVERY_RESERVE_SECONDS

    async def _edges(
        self, edge: EdgeMetric, query: CollectorQuery, frontier: list[str]
    ) -> list[tuple[str, str]]:
        span = max(1, int(query.window.duration.total_seconds()))
        names = _alternatives(frontier)
        caller, callee = edge.caller_label, edge.callee_label

        def touching(label: str) -> str:
            return (
                f"group by ({caller}, {callee}) "
                f"(last_over_time({edge.metric}{{{label}=~{names}}}[{span}s]))"
            )

        body = await self.get_json(
            f"{self.endpoint}/api/v1/query",
            params={
                "query": f"{touching(caller)} or {touching(callee)}",
                "time": f"{query.window.end.timestamp():.3f}",
            },
            headers=self.bearer_or_basic(),
        )
        if not isinstance(body, dict) or body.get("status") != "success":
            raise self.malformed(f"service graph {edge.metric}: no success status")
        result = body.get("data", {}).get("result") if isinstance(body.get("data"), dict) else None
        if not isinstance(result, list):
            raise self.malformed(f"service graph {edge.metric}: no result list")
        edges: list[tuple[str, str]] = []
        for entry in result[:MAX_EDGES_PER_HOP]:
            metric = entry.get("metric") if isinstance(entry, dict) else None
            if not isinstance(metric, dict):
                continue
            a, b = metric.get(caller), metric.get(callee)
            if isinstance(a, str) and isinstance(b, str) and a and b and a != b:
                edges.append((a, b))
        return edges

    # -- asking ------------------------------------------------------------------------------

    async def _grouped(
        self, name: str, promql: PromQuery, query: CollectorQuery, services: list[str]
    ) -> Collected:
        """One query for several services, each series given to the service its label names.

        A template that does not keep the service label (``sum(…)`` without ``by``) cannot say
        whose series is whose; it is asked again once per service, and the note says so.
        """
        if len(services) == 1 or "$service" in promql.query:
            return await self._each(name, promql, query, services)
        text = self.expand(promql, self.group_selector(query, services), services[0])
        body = await self._range_body(name, text, query)
        label = self.settings.service_label
        wanted = set(services)
        series = self._series(name, body)
        if any(labels.get(label) not in wanted for labels, _ in series):
            again = await self._each(name, promql, query, services)
            again.notes.append(
                f"the query does not keep the {label} label (add `by ($group)`), "
                f"so it was asked once per service ({len(services)})"
            )
            return again
        per_service: dict[str, int] = {}
        artifacts: list[Artifact] = []
        for labels, points in series:
            service = labels[label]
            per_service[service] = per_service.get(service, 0) + 1
            if per_service[service] > self.settings.max_series_per_query:
                continue
            built = self._artifact(name, promql, labels, points, service, services[0])
            if built is not None:
                artifacts.append(built)
        return Collected(artifacts=artifacts)

    async def _each(
        self, name: str, promql: PromQuery, query: CollectorQuery, services: list[str]
    ) -> Collected:
        if len(services) == 1:
            return Collected(artifacts=await self._one(name, promql, query, services[0]))
        return await self.ask_all(
            [
                (service, self._one(name, promql, query, service, services[0]))
                for service in services
            ]
        )

    async def _one(
        self,
        name: str,
        promql: PromQuery,
        query: CollectorQuery,
        service: str,
        primary: str | None = None,
    ) -> list[Artifact]:
        text = self.expand(promql, self.selector(query, service), service)
        body = await self._range_body(name, text, query)
        artifacts: list[Artifact] = []
        for labels, points in self._series(name, body)[: self.settings.max_series_per_query]:
            built = self._artifact(name, promql, labels, points, service, primary or service)
            if built is not None:
                artifacts.append(built)
        return artifacts

    async def _range_body(self, name: str, text: str, query: CollectorQuery) -> Any:
        params = {
            "query": text,
            "start": f"{query.window.start.timestamp():.3f}",
            "end": f"{query.window.end.timestamp():.3f}",
            "step": f"{self.settings.step_seconds}s",
        }
        # In the body, not the URL: a neighbourhood's selector, repeated in each instrumentation's
        # alternative, can outgrow the URL limits of proxies in front of Prometheus.
        return await self.post_form(
            f"{self.endpoint}/api/v1/query_range", params, headers=self.bearer_or_basic()
        )

    def _artifact(
        self,
        name: str,
        promql: PromQuery,
        labels: dict[str, str],
        points: list[tuple[datetime, float]],
        service: str,
        primary: str,
    ) -> Artifact | None:
        # Two services' series of an ungrouped query carry the same labels; the id must not.
        named = labels.get(self.settings.service_label) == service or service == primary
        prefix = f"metric:{self.name}" if named else f"metric:{self.name}:{service}"
        return metric_series(
            id_prefix=prefix,
            name=name,
            points=((ts, v) for ts, v in points if math.isfinite(v)),
            source=self.source,
            labels=labels,
            service=service,
            unit=promql.unit,
        )

    def _series(
        self, name: str, body: Any
    ) -> list[tuple[dict[str, str], list[tuple[datetime, float]]]]:
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise CollectorResponseError(f"prometheus query {name} failed: {error or 'no status'}")
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise self.malformed(f"query {name} did not return a matrix")
        result = data.get("result")
        if not isinstance(result, list):
            raise self.malformed(f"query {name} has no result list")
        found: list[tuple[dict[str, str], list[tuple[datetime, float]]]] = []
        for entry in result:
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
            found.append((labels, points))
        return found
