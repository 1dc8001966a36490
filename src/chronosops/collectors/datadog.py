"""Datadog: metric queries, log search and events for the incident's service and environment.

Three APIs, asked in parallel: ``/api/v1/query`` (metrics, one query per template), the logs
search ``/api/v2/logs/events/search`` (warnings and errors, clustered into templates) and
``/api/v1/events`` (deploys become change events). An API the keys may not use (a 403 on logs,
say) is noted as a problem; the others still count.

The logs search answers at most 1,000 events a page and hands a cursor (``meta.page.after``)
for the next; the collector follows it up to ``logs_max_lines``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from chronosops.collectors.base import (
    Collected,
    Collector,
    CollectorError,
    CollectorNotApplicableError,
    CollectorOptions,
    CollectorQuery,
    parse_time,
)
from chronosops.collectors.paging import Budget, Page, log_pages
from chronosops.core.aggregation import RawLogLine, metric_series
from chronosops.core.artifacts import Artifact, ChangeEvent, OtherEvent, normalise_level
from chronosops.core.canonical import content_hash
from chronosops.core.redaction import redact_text
from chronosops.core.timestamps import format_instant
from chronosops.core.trace_context import hex_id, hex_of_decimal


class MetricQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(min_length=1, max_length=2000)
    unit: str | None = None


# Every default groups ``by {service}``: one query answers for the whole neighbourhood and
# each series names its service.
#
# Latency is APM's latency distribution, ``trace.<span>`` (in seconds, hence ``*1000``), at the
# p95 the engine reads every latency at. Not ``trace.<span>.duration``: Datadog's legacy gauge
# of the total time an interval's spans took together, which rises with traffic as much as
# with slowness (a surge of requests as fast as ever read as a slowdown).
#
# Errors are Datadog's own ratio of a service's failed spans to its spans, each side counted
# per interval and grouped by service (so a service's errors are divided by its own hits),
# recorded as a share in 0-1. Not ``trace.<span>.errors`` per second under ``error_rate``: the
# engine reads that name as an error ratio, so 5 errors a second was taken for 500% of
# requests, and a surge of traffic failing at the usual share for a rising one.
DEFAULT_METRICS: dict[str, MetricQuery] = {
    "latency_p95_ms": MetricQuery(
        query="p95:trace.http.request{$scope} by {service}*1000", unit="ms"
    ),
    "request_rate": MetricQuery(
        query="sum:trace.http.request.hits{$scope} by {service}.as_rate()", unit="req/s"
    ),
    "error_ratio": MetricQuery(
        query="sum:trace.http.request.errors{$scope} by {service}.as_count() / "
        "sum:trace.http.request.hits{$scope} by {service}.as_count()",
        unit="1",
    ),
    "cpu_usage": MetricQuery(
        query="avg:container.cpu.usage{$scope} by {service}", unit="nanocores"
    ),
    "memory_usage": MetricQuery(
        query="avg:container.memory.usage{$scope} by {service}", unit="bytes"
    ),
}
GROUPED_BY_SERVICE = re.compile(r"\bby\s*\{[^}]*\bservice\b[^}]*\}")
# What a neighbour's name must look like to be pasted into a query as a tag value; a name the
# service graph or the incident brought that does not is left out, never quoted into shape.
TAG_VALUE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:/-]{0,199}$")
LOGS_PAGE_CAP = 1000  # Datadog refuses a larger page[limit]
DEPLOY_WORDS = re.compile(r"\b(deploy(ed|ment)?|release[ds]?|rollout|rolled out|rollback)\b", re.I)

# What a Datadog tag value may hold and still be pasted into a metric scope or a log search
# without changing it: letters, digits, '_', '-', '.', starting with a letter (Datadog's own
# tag rules, minus the characters the log search syntax gives a meaning: ':', '/', quotes,
# spaces, parentheses, '*'). A service name from a webhook payload is untrusted.
_TAG_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,199}")


def tag_value(what: str, value: str) -> str:
    """``value`` when it is safe to paste as a Datadog tag value, else not applicable."""
    if not _TAG_VALUE.fullmatch(value):
        raise CollectorNotApplicableError(
            f"the incident's {what} {value[:80]!r} is not a Datadog tag value (a letter, then "
            "letters, digits, '_', '-' or '.'), so no query is sent for it"
        )
    return value


class DatadogOptions(CollectorOptions):
    metrics: dict[str, MetricQuery] = Field(default_factory=lambda: dict(DEFAULT_METRICS))
    logs_query: str = Field(
        default="service:$service status:(error OR warn OR critical OR emergency)",
        description="log search; $service and $env are filled in, env:$env is added when known",
    )
    logs_max_lines: int = Field(
        default=5000,
        ge=1,
        le=20000,
        # ``logs_limit`` was its name when only one page was read; files that set it still work.
        validation_alias=AliasChoices("logs_max_lines", "logs_limit"),
        description="log events read in all, page after page",
    )
    logs_page_size: int = Field(default=LOGS_PAGE_CAP, ge=1, le=LOGS_PAGE_CAP)
    events: bool = True
    service_dependencies: bool = Field(
        default=True,
        description="read APM's service map (/api/v1/service_dependencies) for callers and callees",
    )


class DatadogCollector(Collector):
    kind = "datadog"
    options_model = DatadogOptions
    credential_names: ClassVar[frozenset[str]] = frozenset({"api_key", "app_key"})
    required_credentials: ClassVar[frozenset[str]] = frozenset({"api_key", "app_key"})
    default_endpoint = "https://api.datadoghq.com"

    @property
    def settings(self) -> DatadogOptions:
        assert isinstance(self.options, DatadogOptions)
        return self.options

    def headers(self) -> dict[str, str]:
        return {
            "DD-API-KEY": self.secret("api_key") or "",
            "DD-APPLICATION-KEY": self.secret("app_key") or "",
        }

    @staticmethod
    def scope(query: CollectorQuery, service: str) -> str:
        tags = [f"service:{tag_value('service', service)}"]
        if query.environment:
            tags.append(f"env:{tag_value('environment', query.environment)}")
        return ",".join(tags)

    @staticmethod
    def group_scope(query: CollectorQuery, services: list[str]) -> str:
        """The scope of several services. Datadog will not mix ``,`` with ``AND``/``IN``."""
        if len(services) == 1:
            return DatadogCollector.scope(query, services[0])
        scope = f"service IN ({', '.join(services)})"
        if query.environment:
            scope += f" AND env:{tag_value('environment', query.environment)}"
        return scope

    async def collect(self, query: CollectorQuery) -> Collected:
        service = tag_value("service", self.require_service(query))
        if query.environment:
            tag_value("environment", query.environment)
        collected = Collected()
        discovered: list[tuple[str, str]] = []
        if query.hops > 0 and self.settings.service_dependencies and query.environment:
            discovered = await self._dependencies(query, collected)
        around, notes = self.around(query, discovered)
        collected.notes.extend(notes)
        services = [service]
        unfit: list[str] = []
        for neighbour in around[1:]:
            (services if TAG_VALUE.match(neighbour.service) else unfit).append(neighbour.service)
        if unfit:
            collected.notes.append(
                f"left out neighbour(s) whose names are not Datadog tag values: {', '.join(unfit)}"
            )
        asks: list[tuple[str, Any]] = []
        for name, metric in self.settings.metrics.items():
            grouped = GROUPED_BY_SERVICE.search(metric.query) is not None
            if len(services) > 1 and not grouped:
                collected.notes.append(
                    f"metric {name} does not group by {{service}}: asked for {service} only"
                )
            asked = services if grouped else [service]
            asks.append((f"metric {name}", self._metric(name, metric, query, asked)))
        asks.append(("logs", self._logs(query, services)))
        if self.settings.events:
            asks.append(("events", self._events(query, service)))
        answered = await self.ask_all(
            asks,
            kinds={
                label: "logs" if label == "logs" else "deploys" if label == "events" else "metrics"
                for label, _ in asks
            },
        )
        artifacts, cut = self.nearest_first(answered.artifacts, services, query.max_items)
        # ``replace`` keeps the lines read, for the evidence layer to place in spans.
        return replace(
            answered,
            artifacts=artifacts,
            problems=[*collected.problems, *answered.problems],
            notes=[*collected.notes, *answered.notes, *cut],
        )

    async def _dependencies(
        self, query: CollectorQuery, collected: Collected
    ) -> list[tuple[str, str]]:
        """Callers and callees from APM's service map, hop by hop, the services of a hop asked
        in parallel; at most as many requests as the neighbourhood may hold services."""
        service = self.require_service(query)
        found: set[tuple[str, str]] = set()
        seen = {service}
        frontier = [service]
        budget = query.max_neighbours + 1
        for _ in range(query.hops):
            frontier = frontier[:budget]
            budget -= len(frontier)
            if not frontier:
                break
            answers = await asyncio.gather(
                *(self._service_map(name, query) for name in frontier), return_exceptions=True
            )
            following: list[str] = []
            for name, answer in zip(frontier, answers, strict=True):
                if isinstance(answer, CollectorError):
                    collected.problems.append(f"service map {name}: {answer.message}")
                    continue
                if isinstance(answer, BaseException):
                    raise answer
                for edge in answer:
                    found.add(edge)
                    for other in edge:
                        if other not in seen:
                            seen.add(other)
                            following.append(other)
            frontier = following
        return sorted(found)

    async def _service_map(self, name: str, query: CollectorQuery) -> list[tuple[str, str]]:
        """One service's callees (``calls``) and callers (``called_by``)."""
        body = await self.get_json(
            f"{self.endpoint}/api/v1/service_dependencies/{quote(name, safe='')}",
            params={
                "env": query.environment or "",
                "start": str(int(query.window.start.timestamp())),
                "end": str(int(query.window.end.timestamp())),
            },
            headers=self.headers(),
        )
        if not isinstance(body, dict):
            raise self.malformed(f"service map {name}: not a JSON object")
        calls, callers = body.get("calls"), body.get("called_by")
        return [(name, c) for c in calls or [] if isinstance(c, str) and c] + [
            (c, name) for c in callers or [] if isinstance(c, str) and c
        ]

    async def _metric(
        self, name: str, metric: MetricQuery, query: CollectorQuery, services: list[str]
    ) -> list[Artifact]:
        service = services[0]
        text = metric.query.replace("$scope", self.group_scope(query, services)).replace(
            "$service", tag_value("service", service)
        )
        body = await self.get_json(
            f"{self.endpoint}/api/v1/query",
            params={
                "from": str(int(query.window.start.timestamp())),
                "to": str(int(query.window.end.timestamp())),
                "query": text,
            },
            headers=self.headers(),
        )
        if not isinstance(body, dict) or not isinstance(body.get("series"), list):
            raise self.malformed(f"metric {name} has no series list")
        if body.get("status") == "error":
            raise self.malformed(f"metric {name}: {body.get('error') or 'error'}")
        artifacts: list[Artifact] = []
        for series in body["series"][: query.max_items]:
            try:
                points = [
                    (datetime.fromtimestamp(float(ms) / 1000, UTC), float(value))
                    for ms, value in series["pointlist"]
                    if value is not None
                ]
                scope = str(series.get("scope") or "")
            except (KeyError, TypeError, ValueError):
                raise self.malformed(f"metric {name} has a series without a pointlist") from None
            labels = _labels(scope, series.get("tag_set"))
            owner = labels.get("service") if len(services) > 1 else service
            if owner not in services:
                continue  # not one of the services asked about: no one's evidence
            built = metric_series(
                id_prefix=f"metric:{self.name}",
                name=name,
                points=points,
                source=self.source,
                labels=labels,
                service=owner,
                unit=metric.unit,
            )
            if built is not None:
                artifacts.append(built)
        return artifacts

    def _logs_query(self, query: CollectorQuery, services: list[str]) -> str:
        # ``service:$service`` becomes ``service:(a OR b)`` for a neighbourhood.
        named = services[0] if len(services) == 1 else "(" + " OR ".join(services) + ")"
        environment = tag_value("environment", query.environment) if query.environment else None
        text = self.settings.logs_query.replace("$service", named).replace(
            "$env", environment or "*"
        )
        if environment and "env:" not in text:
            text += f" env:{environment}"
        return text

    async def _logs(self, query: CollectorQuery, services: list[str]) -> Collected:
        service = services[0]
        search = {
            "filter": {
                "query": self._logs_query(query, services),
                "from": format_instant(query.window.start),
                "to": format_instant(query.window.end),
            },
            "sort": "-timestamp",
        }

        async def page(cursor: str | None, _size: int) -> Page[RawLogLine]:
            # page.limit stays the same on every page: the cursor continues the search it came
            # from. What the last page brings beyond the budget is cut here.
            paging: dict[str, Any] = {"limit": self.settings.logs_page_size}
            if cursor:
                paging["cursor"] = cursor
            body = await self.post_json(
                f"{self.endpoint}/api/v2/logs/events/search",
                {**search, "page": paging},
                headers=self.headers(),
            )
            return Page(self._log_lines(body, service), _after(body))

        return await log_pages(
            self,
            page,
            Budget(
                total=self.settings.logs_max_lines,
                option="logs_max_lines",
                unit="lines",
                page_size=self.settings.logs_page_size,
            ),
            query,
            service,
        )

    def _log_lines(self, body: Any, service: str) -> list[RawLogLine]:
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise self.malformed("logs search has no data list")
        lines: list[RawLogLine] = []
        for entry in body["data"]:
            try:
                attributes = entry["attributes"]
                trace_id, span_id = _trace_context(attributes.get("attributes"))
                lines.append(
                    RawLogLine(
                        ts=parse_time(attributes["timestamp"]),
                        message=redact_text(str(attributes.get("message") or "")),
                        level=normalise_level(str(attributes.get("status") or "")),
                        service=str(attributes.get("service") or service),
                        trace_id=trace_id,
                        span_id=span_id,
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise self.malformed("a log without attributes.timestamp") from None
        return lines

    async def _events(self, query: CollectorQuery, service: str) -> list[Artifact]:
        body = await self.get_json(
            f"{self.endpoint}/api/v1/events",
            params={
                "start": str(int(query.window.start.timestamp())),
                "end": str(int(query.window.end.timestamp())),
                "tags": f"service:{tag_value('service', service)}",
                "unaggregated": "true",
            },
            headers=self.headers(),
        )
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise self.malformed("events has no events list")
        artifacts: list[Artifact] = []
        for event in body["events"][: query.max_items]:
            try:
                at = datetime.fromtimestamp(int(event["date_happened"]), UTC)
                title = redact_text(str(event.get("title") or "event"))
                text = redact_text(str(event.get("text") or ""))
                tags = {
                    key: value
                    for key, _, value in (str(t).partition(":") for t in event.get("tags") or [])
                }
                identity = str(event.get("id_str") or event.get("id") or content_hash(event)[:16])
            except (KeyError, TypeError, ValueError):
                raise self.malformed("an event without date_happened") from None
            source_type = str(event.get("source_type_name") or "")
            described = text or title
            if DEPLOY_WORDS.search(f"{title} {text} {source_type}") or "deployment" in tags:
                artifacts.append(
                    ChangeEvent(
                        artifact_id=f"change:{self.name}:{identity}",
                        title=title[:200],
                        summary=f"deploy at {format_instant(at)} ({source_type or 'datadog'})",
                        source=self.source,
                        change_type="deploy",
                        timestamp=at,
                        description=described[:2000],
                        service=tags.get("service", service),
                        environment=tags.get("env"),
                        version_to=tags.get("version"),
                        metadata={"datadogEventId": identity, "sourceType": source_type},
                    )
                )
            else:
                artifacts.append(
                    OtherEvent(
                        artifact_id=f"event:{self.name}:{identity}",
                        title=title[:200],
                        summary=f"{source_type or 'event'} at {format_instant(at)}",
                        source=self.source,
                        event_type=str(event.get("alert_type") or "info"),
                        timestamp=at,
                        description=described[:2000],
                        metadata={"datadogEventId": identity, "sourceType": source_type},
                    )
                )
        return artifacts


def _labels(scope: str, tag_set: Any) -> dict[str, str]:
    """A series' tags: its scope's ``key:value`` parts (``,``-separated), then its group's
    ``tag_set``, which names the group exactly even when the scope is a boolean filter."""
    labels = dict(
        tag.split(":", 1)
        for tag in scope.split(",")
        if ":" in tag and tag != "*" and " " not in tag.strip()
    )
    for tag in tag_set if isinstance(tag_set, list) else []:
        key, _, value = str(tag).partition(":")
        if value:
            labels[key] = value
    return labels


def _trace_context(custom: Any) -> tuple[str | None, str | None]:
    """The (trace id, span id) a log's own attributes carry, in hex: Datadog's tracers inject
    ``dd.trace_id``/``dd.span_id`` in decimal (nested under ``dd``, or flat where a pipeline
    flattened them); OpenTelemetry logs keep ``otel.trace_id``/``otel.span_id`` (or bare
    ``trace_id``/``span_id``) in hex. (None, None) without either."""
    if not isinstance(custom, dict):
        return None, None
    nested = custom.get("dd")
    dd = nested if isinstance(nested, dict) else {}
    span = hex_of_decimal(dd.get("span_id", custom.get("dd.span_id")))
    if span is not None:
        return hex_of_decimal(dd.get("trace_id", custom.get("dd.trace_id"))), span
    nested_otel = custom.get("otel")
    otel = nested_otel if isinstance(nested_otel, dict) else {}
    span = hex_id(otel.get("span_id", custom.get("otel.span_id", custom.get("span_id"))))
    trace = hex_id(otel.get("trace_id", custom.get("otel.trace_id", custom.get("trace_id"))))
    return trace, span


def _after(body: dict[str, Any]) -> str | None:
    """The cursor of the next page; Datadog leaves ``meta.page`` out on the last one."""
    meta = body.get("meta")
    page = meta.get("page") if isinstance(meta, dict) else None
    after = page.get("after") if isinstance(page, dict) else None
    return after if isinstance(after, str) and after else None
