"""New Relic: NRQL through NerdGraph for metrics, logs, spans and deployments.

Every question is one NRQL query sent to NerdGraph (``POST /graphql``, ``API-Key`` header).
NerdGraph answers most failures with HTTP 200 and an ``errors`` list; those are translated by
their ``errorClass`` / ``error_code`` (bad key → auth, timeout, too many requests, bad NRQL).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from chronosops.collectors.base import (
    Collected,
    Collector,
    CollectorAuthError,
    CollectorOptions,
    CollectorQuery,
    CollectorRateLimitedError,
    CollectorResponseError,
    CollectorTimeoutError,
    CollectorUnavailableError,
    level_in,
)
from chronosops.core.aggregation import (
    RawLogLine,
    RawSpan,
    metric_series,
)
from chronosops.core.artifacts import Artifact, ChangeEvent, normalise_level
from chronosops.core.call_graph import call_groups, span_kind
from chronosops.core.redaction import redact_text
from chronosops.core.timestamps import format_instant
from chronosops.core.trace_context import hex_id

GRAPHQL = """query ChronosOpsNrql($accountId: Int!, $nrql: Nrql!) {
  actor { account(id: $accountId) { nrql(query: $nrql, timeout: 30) { results } } }
}"""
ENDPOINTS = {
    "US": "https://api.newrelic.com/graphql",
    "EU": "https://api.eu.newrelic.com/graphql",
}
# The NRQL aliases read back from TIMESERIES rows, with their units.
METRIC_UNITS = {"latency_p95_ms": "ms", "error_ratio": "ratio", "request_rate": "req/s"}

# ``$services`` is the neighbourhood, quoted (``'web', 'orders'``), ``$service`` the incident's
# own. The metrics FACET by the application, so each series names the service it belongs to.
DEFAULT_METRICS_NRQL = (
    "SELECT percentile(duration, 95) * 1000 AS 'latency_p95_ms', "
    "filter(count(*), WHERE error IS true) / count(*) AS 'error_ratio', "
    "rate(count(*), 1 second) AS 'request_rate' "
    "FROM Transaction WHERE appName IN ($services) $since FACET appName LIMIT MAX "
    "TIMESERIES 1 minute"
)
DEFAULT_LOGS_NRQL = (
    "SELECT timestamp, message, level, service.name, trace.id, span.id FROM Log "
    "WHERE service.name IN ($services) "
    "AND level IN ('ERROR', 'error', 'WARN', 'warn', 'WARNING', 'CRITICAL', 'FATAL') "
    "$since LIMIT 2000"
)
# Whole traces, as Cloud Trace answers them: every span of a trace that passes through the
# neighbourhood, so the services it calls are read even where no topology names them. The
# ``uniques`` subquery runs over the outer query's window (docs.newrelic.com, "Use subqueries
# for linking multiple queries"); LIMIT still caps the spans read.
DEFAULT_SPANS_NRQL = (
    "SELECT timestamp, name, duration.ms, service.name, error, otel.status_code, trace.id, id, "
    "parent.id, span.kind, peer.service "
    "FROM Span WHERE trace.id IN "
    "(SELECT uniques(trace.id) FROM Span WHERE service.name IN ($services)) $since LIMIT 2000"
)
DEFAULT_DEPLOYMENTS_NRQL = (
    "SELECT timestamp, appName, revision, description, user, changelog, deploymentType "
    "FROM Deployment WHERE appName IN ($services) $since LIMIT 100"
)


class NewRelicOptions(CollectorOptions):
    account_id: int = Field(ge=1, description="the New Relic account the NRQL runs in")
    region: Literal["US", "EU"] = "US"
    metrics_nrql: str | None = DEFAULT_METRICS_NRQL
    logs_nrql: str | None = DEFAULT_LOGS_NRQL
    spans_nrql: str | None = DEFAULT_SPANS_NRQL
    deployments_nrql: str | None = DEFAULT_DEPLOYMENTS_NRQL


def _nrql_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _epoch_ms(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value) / 1000, UTC)


def _text(value: Any) -> str | None:
    """An attribute that names something (a service): trimmed text, None when absent."""
    return value.strip() or None if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    """A numeric NRQL result: a number, or the one value of a percentile's ``{"95": x}``."""
    if isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class NewRelicCollector(Collector):
    kind = "newrelic"
    options_model = NewRelicOptions
    credential_names: ClassVar[frozenset[str]] = frozenset({"api_key"})
    required_credentials: ClassVar[frozenset[str]] = frozenset({"api_key"})
    default_endpoint = ENDPOINTS["US"]

    def endpoint_for(self, options: CollectorOptions) -> str | None:
        assert isinstance(options, NewRelicOptions)
        return ENDPOINTS[options.region]

    @property
    def settings(self) -> NewRelicOptions:
        assert isinstance(self.options, NewRelicOptions)
        return self.options

    def nrql(self, template: str, query: CollectorQuery, services: str | list[str]) -> str:
        services = [services] if isinstance(services, str) else services
        since = (
            f"SINCE {int(query.window.start.timestamp() * 1000)} "
            f"UNTIL {int(query.window.end.timestamp() * 1000)}"
        )
        listed = ", ".join(f"'{_nrql_string(name)}'" for name in services)
        return (
            template.replace("$services", listed)
            .replace("$service", _nrql_string(services[0]))
            .replace("$since", since)
        )

    async def run(self, nrql: str) -> list[dict[str, Any]]:
        body = await self.post_json(
            self.endpoint,
            {"query": GRAPHQL, "variables": {"accountId": self.settings.account_id, "nrql": nrql}},
            headers={"API-Key": self.secret("api_key") or ""},
        )
        if not isinstance(body, dict):
            raise self.malformed("the answer is not a JSON object")
        errors = body.get("errors")
        if errors:
            raise self._translate(errors)
        try:
            results = body["data"]["actor"]["account"]["nrql"]["results"]
        except (KeyError, TypeError):
            raise self.malformed("no data.actor.account.nrql.results") from None
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise self.malformed("results is not a list of rows")
        return results

    def _translate(self, errors: Any) -> Exception:
        first = errors[0] if isinstance(errors, list) and errors else {}
        message = redact_text(str(first.get("message") or "NerdGraph error"))[:300]
        extensions = first.get("extensions") or {}
        kind = str(extensions.get("errorClass") or extensions.get("error_code") or "").upper()
        if (
            kind in ("BAD_API_KEY", "UNAUTHORIZED", "FORBIDDEN", "ACCESS_DENIED")
            or "api key" in message.lower()
        ):
            return CollectorAuthError(f"newrelic refused the API key ({kind or 'auth'}): {message}")
        if kind in ("TOO_MANY_REQUESTS", "RATE_LIMITED"):
            return CollectorRateLimitedError(f"newrelic is rate limiting us ({kind}): {message}")
        if kind == "TIMEOUT":
            return CollectorTimeoutError(f"newrelic NRQL timed out: {message}")
        if kind in ("SERVER_ERROR", "INTERNAL_SERVER_ERROR"):
            return CollectorUnavailableError(f"newrelic failed ({kind}): {message}")
        return CollectorResponseError(f"newrelic refused the query ({kind or 'error'}): {message}")

    async def collect(self, query: CollectorQuery) -> Collected:
        service = self.require_service(query)
        around, notes = self.around(query)
        services = [n.service for n in around]
        settings = self.settings
        questions: list[tuple[str, Any]] = []
        for label, template in (
            ("metrics", settings.metrics_nrql),
            ("logs", settings.logs_nrql),
            ("spans", settings.spans_nrql),
            ("deployments", settings.deployments_nrql),
        ):
            if not template:
                continue
            if len(services) > 1 and "$services" not in template:
                notes.append(f"{label}_nrql names $service only: asked for {service} only")
            nrql = self.nrql(template, query, services)
            if label == "metrics":
                questions.append((label, self._metrics(nrql, services)))
            elif label == "logs":
                questions.append((label, self._logs(nrql, service, query)))
            elif label == "spans":
                questions.append((label, self._spans(nrql, service, query)))
            else:
                questions.append((label, self._deployments(nrql, service)))
        answered = await self.ask_all(
            questions,
            kinds={
                "metrics": "metrics",
                "logs": "logs",
                "spans": "traces",
                "deployments": "deploys",
            },
        )
        artifacts, cut = self.nearest_first(answered.artifacts, services, query.max_items)
        # ``replace`` keeps the lines and spans read, for the evidence layer to place.
        return replace(answered, artifacts=artifacts, notes=[*notes, *answered.notes, *cut])

    async def _metrics(self, nrql: str, services: list[str]) -> list[Artifact]:
        """TIMESERIES rows, one series per value and service; a FACET row names its service
        in ``facet``, a row without one belongs to the incident's service."""
        rows = await self.run(nrql)
        points: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
        for row in rows:
            try:
                at = datetime.fromtimestamp(float(row["beginTimeSeconds"]), UTC)
            except (KeyError, TypeError, ValueError):
                raise self.malformed("a TIMESERIES row without beginTimeSeconds") from None
            facet = row.get("facet")
            owner = facet[0] if isinstance(facet, list) and facet else facet
            if owner is None:
                owner = services[0]
            if owner not in services:
                continue  # not one of the services asked about
            for key, value in row.items():
                if key in ("beginTimeSeconds", "endTimeSeconds", "facet"):
                    continue
                number = _number(value)
                if number is not None:
                    points.setdefault((str(owner), key), []).append((at, number))
        artifacts: list[Artifact] = []
        for (service, name), series_points in points.items():
            built = metric_series(
                id_prefix=f"metric:{self.name}",
                name=name,
                points=series_points,
                source=self.source,
                labels={"service": service},
                service=service,
                unit=METRIC_UNITS.get(name),
            )
            if built is not None:
                artifacts.append(built)
        return artifacts

    async def _logs(self, nrql: str, service: str, query: CollectorQuery) -> Collected:
        lines: list[RawLogLine] = []
        for row in await self.run(nrql):
            try:
                message = redact_text(str(row.get("message") or ""))
                level = row.get("level") or level_in(message)
                lines.append(
                    RawLogLine(
                        ts=_epoch_ms(row["timestamp"]),
                        message=message,
                        level=normalise_level(str(level) if level else None),
                        service=str(row.get("service.name") or service),
                        # Logs in context: the agent or the OpenTelemetry exporter sets these.
                        trace_id=hex_id(row.get("trace.id")),
                        span_id=hex_id(row.get("span.id")),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise self.malformed("a Log row without timestamp") from None
        return Collected(artifacts=self.templates_of(lines, query, service), lines=lines)

    async def _spans(self, nrql: str, service: str, query: CollectorQuery) -> Collected:
        spans: list[RawSpan] = []
        for row in await self.run(nrql):
            try:
                duration = row.get("duration.ms")
                status = str(row.get("otel.status_code") or "").upper()
                spans.append(
                    RawSpan(
                        ts=_epoch_ms(row["timestamp"]),
                        service=str(row.get("service.name") or service),
                        operation=str(row.get("name") or "unknown"),
                        duration_ms=float(duration) if duration is not None else None,
                        is_error=row.get("error") is True or status == "ERROR",
                        trace_id=str(row["trace.id"]) if row.get("trace.id") else None,
                        span_id=hex_id(row.get("id")),
                        # The call graph, as the agent or the OpenTelemetry exporter writes it.
                        parent_span_id=hex_id(row.get("parent.id")),
                        kind=span_kind(row.get("span.kind")),
                        peer_service=_text(row.get("peer.service")),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise self.malformed("a Span row without timestamp") from None
        groups = call_groups(
            spans, id_prefix=f"span:{self.name}", source=self.source, onset=query.onset
        )
        return Collected(artifacts=[*groups[: query.max_items]], spans=spans)

    async def _deployments(self, nrql: str, service: str) -> list[Artifact]:
        artifacts: list[Artifact] = []
        for row in await self.run(nrql):
            try:
                at = _epoch_ms(row["timestamp"])
            except (KeyError, TypeError, ValueError):
                raise self.malformed("a Deployment row without timestamp") from None
            revision = str(row["revision"]) if row.get("revision") else None
            description = redact_text(
                str(
                    row.get("description") or row.get("changelog") or f"deployment {revision or ''}"
                )
            ).strip()
            identity = f"{format_instant(at)}:{revision or ''}"
            artifacts.append(
                ChangeEvent(
                    artifact_id=f"change:{self.name}:{identity}",
                    title=f"deploy on {row.get('appName') or service}: {description}"[:200],
                    summary=f"deploy{f' → {revision}' if revision else ''} at {format_instant(at)}",
                    source=self.source,
                    change_type="deploy",
                    timestamp=at,
                    description=description[:2000],
                    service=str(row.get("appName") or service),
                    version_to=revision,
                    author=str(row["user"]) if row.get("user") else None,
                    metadata={"deploymentType": row.get("deploymentType")},
                )
            )
        return artifacts
