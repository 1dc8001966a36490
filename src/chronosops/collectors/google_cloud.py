"""Google Cloud: Cloud Monitoring time series, Cloud Logging entries and Cloud Trace spans.

REST through the injected client; the bearer token comes from google-auth: a service-account
key file named in the options, else Application Default Credentials (the
``GOOGLE_APPLICATION_CREDENTIALS`` file, gcloud's login, or the metadata server on Google
Cloud). An ``access_token`` credential (short-lived, from ``gcloud auth print-access-token``)
is used as is. The defaults read Cloud Run services; every filter is configurable.

All three APIs page with ``pageSize`` and answer a ``nextPageToken`` while more exist. Logs
(at most 1,000 entries a page) and traces are followed up to ``logs_max_entries`` and
``max_traces``. For time series with the FULL view ``pageSize`` counts *points*, not series, so
it is sized to hold ``max_items`` series over the whole window, and a further page (a series
split across pages is merged back) is followed when Monitoring still sends one. A metric with
a ``denominator`` (the default error ratio: 5xx requests over requests) is asked as both parts
and recorded as their ratio, service by service.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, Self

import google.auth
import google.auth.exceptions
import google.auth.transport.requests
import httpx
from google.auth.credentials import Credentials
from google.oauth2 import service_account
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chronosops.collectors.base import (
    Collected,
    Collector,
    CollectorAuthError,
    CollectorNotApplicableError,
    CollectorOptions,
    CollectorQuery,
    CollectorSpec,
    CollectorUnavailableError,
    level_in,
    parse_time,
)
from chronosops.collectors.paging import Budget, Page, follow_pages, log_pages
from chronosops.core.aggregation import (
    RawLogLine,
    RawSpan,
    metric_series,
)
from chronosops.core.artifacts import Artifact, normalise_level
from chronosops.core.call_graph import call_groups, span_kind
from chronosops.core.clock import Clock
from chronosops.core.redaction import redact_text
from chronosops.core.timestamps import format_instant
from chronosops.core.trace_context import hex_id, hex_of_decimal

SCOPES = ("https://www.googleapis.com/auth/cloud-platform.read-only",)
MONITORING = "https://monitoring.googleapis.com"
LOGGING = "https://logging.googleapis.com"
TRACE = "https://cloudtrace.googleapis.com"
LOGS_PAGE_CAP = 1000  # entries:list refuses a larger pageSize
POINTS_PAGE_CAP = 100_000  # timeSeries.list treats a larger pageSize as this
SERIES_MAX_PAGES = 10  # a page already holds the whole window: more pages are the exception

# What a service name may hold and still be pasted into a Monitoring, Logging or Trace filter
# without changing it, quoted (``"$service"``) or bare (``service.name:$service``): letters,
# digits, '_', '-', '.' (Cloud Run, GKE and App Engine names all fit). A service name from a
# webhook payload is untrusted: quotes, spaces, ``OR`` and ``:`` would rewrite the filter.
_FILTER_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def filter_value(value: str) -> str:
    """``value`` when it is safe to paste into a Google Cloud filter, else not applicable."""
    if not _FILTER_VALUE.fullmatch(value):
        raise CollectorNotApplicableError(
            f"the incident's service {value[:80]!r} is not a Google Cloud resource name "
            "(letters, digits, '_', '-' or '.'), so no filter is sent for it"
        )
    return value


class MonitoringQuery(BaseModel):
    """One ``projects.timeSeries.list`` call: a filter and how to align and reduce it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filter: str = Field(min_length=1, max_length=2000)
    aligner: str = Field(default="ALIGN_MEAN", pattern=r"^ALIGN_[A-Z0-9_]+$")
    reducer: str | None = Field(default="REDUCE_SUM", pattern=r"^REDUCE_[A-Z0-9_]+$")
    unit: str | None = None
    # The label naming the service: the reducer groups by it when several services are asked
    # about at once, and each series is recorded under the service it names.
    service_field: str = Field(
        default="resource.labels.service_name",
        pattern=r"^(resource|metric)\.labels\.[a-zA-Z_][a-zA-Z0-9_]*$",
    )
    # Monitoring's timeSeries.list answers series, never a ratio of two: a share (of requests
    # that failed) is asked as its two parts, aligned and reduced alike, and divided here.
    denominator: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="a filter whose series divide this one's, service by service and instant "
        "by instant: the series recorded is the ratio",
    )

    @model_validator(mode="after")
    def _one_total_per_service(self) -> Self:
        if self.denominator is not None and self.reducer is None:
            # Unreduced, each side is one series per revision or label set: no one pairing.
            raise ValueError("a metric with a denominator needs a reducer (REDUCE_SUM)")
        return self


# ``$services`` is the right-hand side that matches the neighbourhood: ``"a"`` for one service,
# ``monitoring.regex.full_match("a|b")`` for several.
_RUN = 'resource.type="cloud_run_revision" AND resource.labels.service_name=$services'
_REQUESTS = f'metric.type="run.googleapis.com/request_count" AND {_RUN}'
# Errors are the share of a service's requests that answered 5xx: its 5xx request rate over
# its request rate, both ALIGN_RATE summed per service, recorded in 0-1. Not the 5xx rate
# alone under ``error_rate``: the engine reads that name as an error ratio, so 5 errors a
# second was taken for 500% of requests, and a surge of traffic failing at the usual share
# for a rising one.
DEFAULT_METRICS: dict[str, MonitoringQuery] = {
    "latency_p95_ms": MonitoringQuery(
        filter=f'metric.type="run.googleapis.com/request_latencies" AND {_RUN}',
        aligner="ALIGN_PERCENTILE_95",
        reducer="REDUCE_MAX",
        unit="ms",
    ),
    "request_rate": MonitoringQuery(filter=_REQUESTS, aligner="ALIGN_RATE", unit="req/s"),
    "error_ratio": MonitoringQuery(
        filter=(
            'metric.type="run.googleapis.com/request_count" AND '
            f'metric.labels.response_code_class="5xx" AND {_RUN}'
        ),
        denominator=_REQUESTS,
        aligner="ALIGN_RATE",
        unit="1",
    ),
    "cpu_utilization": MonitoringQuery(
        filter=f'metric.type="run.googleapis.com/container/cpu/utilizations" AND {_RUN}',
        aligner="ALIGN_PERCENTILE_99",
        reducer="REDUCE_MAX",
        unit="ratio",
    ),
    "memory_utilization": MonitoringQuery(
        filter=f'metric.type="run.googleapis.com/container/memory/utilizations" AND {_RUN}',
        aligner="ALIGN_PERCENTILE_99",
        reducer="REDUCE_MAX",
        unit="ratio",
    ),
}


class GoogleCloudOptions(CollectorOptions):
    project_id: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    credentials_file: str | None = Field(
        default=None,
        description="a service-account key file; default: Application Default Credentials",
    )
    alignment_seconds: int = Field(default=60, ge=60, le=3600)
    metrics: dict[str, MonitoringQuery] = Field(default_factory=lambda: dict(DEFAULT_METRICS))
    logs_filter: str | None = Field(
        default="resource.labels.service_name=$services AND severity>=WARNING",
        description="Cloud Logging filter (the window is added); null to skip logs",
    )
    logs_page_size: int = Field(default=LOGS_PAGE_CAP, ge=1, le=LOGS_PAGE_CAP)
    logs_max_entries: int = Field(
        default=5000, ge=1, le=20000, description="log entries read in all, page after page"
    )
    trace_filter: str | None = Field(
        default="service.name:$service", description="Cloud Trace v1 filter; null to skip traces"
    )
    trace_page_size: int = Field(default=100, ge=1, le=1000)
    max_traces: int = Field(
        default=1000, ge=1, le=5000, description="traces read in all, page after page"
    )
    service_label: str = Field(default="service.name", description="span label naming the service")


class GoogleTokens:
    """Bearer tokens for Google APIs, refreshed through google-auth when they expire."""

    def __init__(self, *, access_token: str | None, credentials_file: str | None) -> None:
        self.access_token = access_token
        self.credentials_file = credentials_file
        self._credentials: Credentials | None = None
        self._lock = asyncio.Lock()

    def _load(self) -> Credentials:
        if self.credentials_file:
            loaded: Credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                self.credentials_file, scopes=list(SCOPES)
            )
            return loaded
        found, _ = google.auth.default(scopes=list(SCOPES))
        return found

    async def token(self) -> str:
        if self.access_token:
            return self.access_token
        async with self._lock:
            try:
                if self._credentials is None:
                    self._credentials = await asyncio.to_thread(self._load)
                credentials = self._credentials
                if not credentials.valid:
                    request = google.auth.transport.requests.Request()
                    await asyncio.to_thread(credentials.refresh, request)
            except google.auth.exceptions.DefaultCredentialsError as exc:
                raise CollectorAuthError(
                    f"no Google credentials: set credentials_file or Application Default "
                    f"Credentials ({type(exc).__name__})"
                ) from None
            except google.auth.exceptions.RefreshError as exc:
                raise CollectorAuthError(
                    f"Google refused the credentials: {redact_text(str(exc))[:200]}"
                ) from None
            except google.auth.exceptions.TransportError as exc:
                raise CollectorUnavailableError(
                    f"cannot reach Google's token endpoint: {type(exc).__name__}"
                ) from None
            except (OSError, ValueError) as exc:
                raise CollectorAuthError(
                    f"cannot read the Google credentials: {type(exc).__name__}"
                ) from None
            token = credentials.token
            if not token:
                raise CollectorAuthError("google-auth returned no access token")
            return str(token)


_REGEX_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _quoted(value: str) -> str:
    """A string literal of the Monitoring and Logging filter languages."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def monitoring_any(services: list[str]) -> str:
    """What follows ``=`` in a Monitoring filter to match any of these services."""
    if len(services) == 1:
        return _quoted(services[0])
    pattern = "|".join(_REGEX_SPECIAL.sub(r"\\\1", name) for name in services)
    return f"monitoring.regex.full_match({_quoted(pattern)})"


def logging_any(services: list[str]) -> str:
    """What follows ``=`` in a Logging filter to match any of these services."""
    if len(services) == 1:
        return _quoted(services[0])
    return "(" + " OR ".join(_quoted(name) for name in services) + ")"


def _point_value(value: Any) -> float | None:
    if not isinstance(value, dict):
        return None
    for key in ("doubleValue", "int64Value"):
        if key in value:
            return float(value[key])
    if "boolValue" in value:
        return 1.0 if value["boolValue"] else 0.0
    distribution = value.get("distributionValue")
    if isinstance(distribution, dict) and "mean" in distribution:
        return float(distribution["mean"])
    return None


class GoogleCloudCollector(Collector):
    kind = "google-cloud"
    options_model = GoogleCloudOptions
    credential_names: ClassVar[frozenset[str]] = frozenset({"access_token"})
    default_endpoint = "https://googleapis.com"

    def __init__(self, spec: CollectorSpec, *, http: httpx.AsyncClient, clock: Clock) -> None:
        super().__init__(spec, http=http, clock=clock)
        custom = spec.endpoint is not None
        # One endpoint in the file (an emulator or proxy) serves all three APIs.
        self.monitoring = self.endpoint if custom else MONITORING
        self.logging = self.endpoint if custom else LOGGING
        self.trace = self.endpoint if custom else TRACE
        self.tokens = GoogleTokens(
            access_token=self.secret("access_token"),
            credentials_file=self.settings.credentials_file,
        )

    @property
    def settings(self) -> GoogleCloudOptions:
        assert isinstance(self.options, GoogleCloudOptions)
        return self.options

    async def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.tokens.token()}"}

    async def collect(self, query: CollectorQuery) -> Collected:
        service = filter_value(self.require_service(query))
        await self.tokens.token()  # no credentials, no questions: one clear note, not three
        around, notes = self.around(query)
        services = [n.service for n in around]
        questions: list[tuple[str, Any]] = []
        for name, metric in self.settings.metrics.items():
            filters = [metric.filter, *([metric.denominator] if metric.denominator else [])]
            grouped = all("$services" in f for f in filters)
            if len(services) > 1 and not grouped:
                notes.append(f"metric {name} names $service only: asked for {service} only")
            asked = services if grouped else [service]
            questions.append((f"metric {name}", self._metric(name, metric, query, asked)))
        if self.settings.logs_filter:
            questions.append(("logs", self._logs(query, services)))
        if self.settings.trace_filter:
            questions.append(("traces", self._traces(query, service)))
        answered = await self.ask_all(
            questions,
            kinds={
                label: "logs" if label == "logs" else "traces" if label == "traces" else "metrics"
                for label, _ in questions
            },
        )
        artifacts, cut = self.nearest_first(answered.artifacts, services, query.max_items)
        # ``replace`` keeps the lines and spans read, for the evidence layer to place.
        return replace(answered, artifacts=artifacts, notes=[*notes, *answered.notes, *cut])

    async def _metric(
        self, name: str, metric: MonitoringQuery, query: CollectorQuery, services: list[str]
    ) -> Collected:
        if metric.denominator is None:
            read = await self._series(name, metric.filter, metric, query, services)
            found = read.found
        else:
            # Both parts asked to the end before either failure is raised: no call left behind.
            parts = await asyncio.gather(
                self._series(name, metric.filter, metric, query, services),
                self._series(name, metric.denominator, metric, query, services),
                return_exceptions=True,
            )
            failed = next((p for p in parts if isinstance(p, BaseException)), None)
            if failed is not None:
                raise failed
            above, below = (p for p in parts if isinstance(p, _Read))
            found = _ratios(above, below)
            read = _Read(
                found,
                [*above.problems, *(f"denominator: {p}" for p in below.problems)],
                [*above.notes, *(f"denominator: {n}" for n in below.notes)],
            )
        artifacts: list[Artifact] = []
        for owner, labels, points in found:
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
        return Collected(artifacts=artifacts, problems=read.problems, notes=read.notes)

    async def _series(
        self,
        name: str,
        wanted: str,
        metric: MonitoringQuery,
        query: CollectorQuery,
        services: list[str],
    ) -> _Read:
        """The series one filter answers, each with the service it is of and its labels."""
        service = services[0]
        per_series = (
            math.ceil(query.window.duration.total_seconds() / self.settings.alignment_seconds) + 1
        )
        params = {
            "filter": wanted.replace("$services", monitoring_any(services)).replace(
                "$service", service
            ),
            "interval.startTime": format_instant(query.window.start),
            "interval.endTime": format_instant(query.window.end),
            "aggregation.alignmentPeriod": f"{self.settings.alignment_seconds}s",
            "aggregation.perSeriesAligner": metric.aligner,
            "view": "FULL",
            # With the FULL view pageSize counts points: room for every point of max_items series.
            "pageSize": str(min(POINTS_PAGE_CAP, max(1, query.max_items) * per_series)),
        }
        if metric.reducer:
            params["aggregation.crossSeriesReducer"] = metric.reducer
            if len(services) > 1:
                params["aggregation.groupByFields"] = metric.service_field
        owner_key = metric.service_field.rsplit(".", 1)[1]

        async def page(cursor: str | None, _size: int) -> Page[dict[str, Any]]:
            body = await self.get_json(
                f"{self.monitoring}/v3/projects/{self.settings.project_id}/timeSeries",
                params={**params, **({"pageToken": cursor} if cursor else {})},
                headers=await self._headers(),
            )
            if not isinstance(body, dict) or not isinstance(body.get("timeSeries", []), list):
                raise self.malformed(f"metric {name}: not a JSON object with a timeSeries list")
            return Page(list(body.get("timeSeries", [])), _next_token(body))

        paged = await follow_pages(
            page,
            Budget(
                total=None, unit="series", page_size=POINTS_PAGE_CAP, max_pages=SERIES_MAX_PAGES
            ),
            deadline=query.deadline,
        )
        found: list[_Found] = []
        for series in _merged(paged.items)[: query.max_items]:
            try:
                labels = {
                    **{
                        str(k): str(v)
                        for k, v in series.get("resource", {}).get("labels", {}).items()
                    },
                    **{
                        str(k): str(v)
                        for k, v in series.get("metric", {}).get("labels", {}).items()
                    },
                }
                points = [
                    (parse_time(point["interval"]["endTime"]), _point_value(point["value"]))
                    for point in series["points"]
                ]
            except (AttributeError, KeyError, TypeError, ValueError):
                raise self.malformed(f"metric {name}: a series without points") from None
            owner = labels.get(owner_key) if len(services) > 1 else service
            if owner not in services:
                continue  # not one of the services asked about
            found.append(
                (
                    owner,
                    {k: v for k, v in labels.items() if k not in ("project_id",)},
                    [(at, value) for at, value in points if value is not None],
                )
            )
        return _Read(found, paged.problems, paged.notes)

    async def _logs(self, query: CollectorQuery, services: list[str]) -> Collected:
        assert self.settings.logs_filter is not None
        service = services[0]
        wanted = self.settings.logs_filter.replace("$services", logging_any(services)).replace(
            "$service", service
        )
        window = (
            f'timestamp>="{format_instant(query.window.start)}" AND '
            f'timestamp<="{format_instant(query.window.end)}"'
        )
        request = {
            "resourceNames": [f"projects/{self.settings.project_id}"],
            "filter": f"{window} AND ({wanted})",
            "orderBy": "timestamp desc",
            # The same on every page: entries:list wants a page token's other parameters
            # identical to the call that gave it. The last page's surplus is cut here.
            "pageSize": self.settings.logs_page_size,
        }

        async def page(cursor: str | None, _size: int) -> Page[RawLogLine]:
            body = await self.post_json(
                f"{self.logging}/v2/entries:list",
                {**request, **({"pageToken": cursor} if cursor else {})},
                headers=await self._headers(),
            )
            if not isinstance(body, dict):
                raise self.malformed("logs: not a JSON object")
            return Page(self._log_lines(body, service), _next_token(body))

        return await log_pages(
            self,
            page,
            Budget(
                total=self.settings.logs_max_entries,
                option="logs_max_entries",
                unit="entries",
                page_size=self.settings.logs_page_size,
            ),
            query,
            service,
        )

    def _log_lines(self, body: dict[str, Any], service: str) -> list[RawLogLine]:
        entries = body.get("entries", [])
        if not isinstance(entries, list):
            raise self.malformed("logs: entries is not a list")
        lines: list[RawLogLine] = []
        for entry in entries:
            try:
                payload = entry.get("jsonPayload") or {}
                message = (
                    entry.get("textPayload")
                    or payload.get("message")
                    or payload.get("msg")
                    or str(payload or entry.get("protoPayload") or "")
                )
                message = redact_text(str(message))
                labels = entry.get("resource", {}).get("labels", {})
                severity = entry.get("severity")
                lines.append(
                    RawLogLine(
                        ts=parse_time(entry["timestamp"]),
                        message=message,
                        level=normalise_level(
                            severity if severity and severity != "DEFAULT" else level_in(message)
                        ),
                        service=str(labels.get("service_name") or service),
                        # The trace context Cloud Logging keeps beside the payload (set by the
                        # OpenTelemetry and Cloud Run integrations): ``spanId`` is hex, as the
                        # spans' ids once read from Cloud Trace (`_trace_spans`).
                        trace_id=_trace_of(entry.get("trace")),
                        span_id=hex_id(entry.get("spanId")),
                    )
                )
            except (AttributeError, KeyError, TypeError, ValueError):
                raise self.malformed("logs: an entry without a timestamp") from None
        return lines

    async def _traces(self, query: CollectorQuery, service: str) -> Collected:
        assert self.settings.trace_filter is not None
        params = {
            "startTime": format_instant(query.window.start),
            "endTime": format_instant(query.window.end),
            "view": "COMPLETE",
            # Constant across pages, like entries:list: a token belongs to its parameters.
            "pageSize": str(self.settings.trace_page_size),
            "filter": self.settings.trace_filter.replace("$service", filter_value(service)),
        }

        async def page(cursor: str | None, _size: int) -> Page[list[RawSpan]]:
            body = await self.get_json(
                f"{self.trace}/v1/projects/{self.settings.project_id}/traces",
                params={**params, **({"pageToken": cursor} if cursor else {})},
                headers=await self._headers(),
            )
            if not isinstance(body, dict):
                raise self.malformed("traces: not a JSON object")
            return Page(self._trace_spans(body, service), _next_token(body))

        paged = await follow_pages(
            page,
            Budget(
                total=self.settings.max_traces,
                option="max_traces",
                unit="traces",
                page_size=self.settings.trace_page_size,
            ),
            deadline=query.deadline,
        )
        groups = call_groups(
            [span for trace in paged.items for span in trace],
            id_prefix=f"span:{self.name}",
            source=self.source,
            onset=query.onset,
        )
        return Collected(
            artifacts=[*groups[: query.max_items]],
            problems=paged.problems,
            notes=paged.notes,
            spans=[span for trace in paged.items for span in trace],
        )

    def _trace_spans(self, body: dict[str, Any], service: str) -> list[list[RawSpan]]:
        """The spans of each trace on one page, a list per trace (the budget counts traces)."""
        traces = body.get("traces", [])
        if not isinstance(traces, list):
            raise self.malformed("traces: traces is not a list")
        found: list[list[RawSpan]] = []
        for trace in traces:
            spans: list[RawSpan] = []
            try:
                trace_id = str(trace["traceId"])
                for span in trace.get("spans", []):
                    labels = {str(k): str(v) for k, v in (span.get("labels") or {}).items()}
                    started, ended = parse_time(span["startTime"]), parse_time(span["endTime"])
                    spans.append(
                        RawSpan(
                            ts=started,
                            service=labels.get(self.settings.service_label, service),
                            operation=str(span.get("name") or "unknown"),
                            duration_ms=round((ended - started).total_seconds() * 1000, 3),
                            is_error=_span_failed(labels),
                            trace_id=trace_id,
                            # Trace v1 writes a span id as a decimal uint64; logs name it in hex.
                            span_id=hex_of_decimal(span.get("spanId")),
                            # The call graph: the caller's span (hex, as ``span_id``), the
                            # kind (RPC_SERVER, RPC_CLIENT or unspecified) and, where the
                            # instrumentation names it, the service a client span called.
                            parent_span_id=hex_of_decimal(span.get("parentSpanId")),
                            kind=span_kind(span.get("kind")),
                            peer_service=labels.get("peer.service") or None,
                        )
                    )
            except (AttributeError, KeyError, TypeError, ValueError):
                raise self.malformed("traces: a span without start and end times") from None
            found.append(spans)
        return found


def _trace_of(value: Any) -> str | None:
    """The trace id of an entry's ``trace`` (``projects/P/traces/ID``, or the bare id)."""
    return hex_id(value.rsplit("/traces/", 1)[-1]) if isinstance(value, str) else None


def _next_token(body: dict[str, Any]) -> str | None:
    """``nextPageToken``; Google leaves it out (or empty) on the last page."""
    token = body.get("nextPageToken")
    return token if isinstance(token, str) and token else None


# A series read: the service it is of, its labels, its (instant, value) points.
_Found = tuple[str, dict[str, str], list[tuple[datetime, float]]]


@dataclass
class _Read:
    found: list[_Found]
    problems: list[str]
    notes: list[str]


def _ratios(above: _Read, below: _Read) -> list[_Found]:
    """Each service's series over its denominator's, at the denominator's instants above zero.

    An instant the numerator has no point at counts zero: Monitoring aligns nothing where
    nothing was counted (a minute without a 5xx has no 5xx point, a window without one no
    series), and those minutes are the baseline a rise is measured from. Unless the numerator
    was read in part (a page failed): then its missing points may be lost, not zero.
    """
    complete = not above.problems
    tops = {owner: dict(points) for owner, _, points in above.found}
    ratios: list[_Found] = []
    for owner, labels, points in below.found:
        top = tops.get(owner, {} if complete else None)
        if top is None:
            continue
        ratio = [
            (at, top.get(at, 0.0) / total)
            for at, total in points
            if total > 0 and (complete or at in top)
        ]
        ratios.append((owner, labels, ratio))
    return ratios


def _merged(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Series in first-seen order, the points of one series split over pages joined again."""
    by_identity: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        if not isinstance(chunk, dict) or not isinstance(chunk.get("points"), list):
            by_identity[f"#{len(by_identity)}"] = chunk  # as it came: the caller calls it malformed
            continue
        identity = json.dumps(
            [chunk.get("metric"), chunk.get("resource"), chunk.get("metricKind")],
            sort_keys=True,
            default=str,
        )
        known = by_identity.get(identity)
        if known is None:
            by_identity[identity] = {**chunk, "points": list(chunk["points"])}
        else:
            known["points"].extend(chunk["points"])
    return list(by_identity.values())


def _span_failed(labels: dict[str, str]) -> bool:
    status = labels.get("/http/status_code") or labels.get("http.status_code")
    if status and status.isdigit() and int(status) >= 500:
        return True
    if labels.get("g.co/status/code", "0") not in ("0", ""):
        return True
    return any("error" in key.lower() and value for key, value in labels.items())
