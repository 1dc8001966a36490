"""Loki: LogQL over the incident window, the lines clustered into templates.

The query is ``selector`` plus ``line_filter``: by default the incident service's stream
(``{service_name="$service"}``) narrowed to lines that look like trouble. Levels come from a
stream label when the stream has one, else from the line itself (logfmt, JSON, a leading word).

Loki answers the newest ``limit`` lines of a query and nothing says whether more exist, so the
collector pages the way logcli does: a page that came back full is followed by the same query
ending just after its oldest line (``end`` is exclusive), and the lines of that boundary
nanosecond, which come back again, are dropped. Paging stops at ``max_lines`` or when a page
comes back short: the window's start is reached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field

from chronosops.collectors.base import (
    Collected,
    Collector,
    CollectorOptions,
    CollectorQuery,
    level_in,
)
from chronosops.collectors.paging import Budget, Page, log_pages
from chronosops.core.aggregation import RawLogLine
from chronosops.core.artifacts import normalise_level
from chronosops.core.redaction import redact_text
from chronosops.core.trace_context import hex_id

LEVEL_LABELS = ("level", "detected_level", "severity", "lvl")
SERVICE_LABELS = ("service_name", "service", "app", "job", "container")
# Where a line's trace context sits: structured metadata (Loki 3, from the OpenTelemetry
# receiver, which writes ``trace_id``/``span_id``), or a stream label of the same name. Without
# the ``categorize-labels`` response flag Loki merges structured metadata into the stream's
# labels; with it, each value carries it as a third element.
TRACE_KEYS = ("trace_id", "traceId", "traceID")
SPAN_KEYS = ("span_id", "spanId", "spanID")
PAGE_CAP = 5000  # Loki's default max_entries_limit_per_query: a larger limit is refused


class LokiOptions(CollectorOptions):
    selector: str = Field(
        default='{service_name=~"$services"}',
        description=(
            "LogQL stream selector; $services (a regex of the neighbourhood), $service, "
            "$environment and $region are filled in"
        ),
    )
    line_filter: str = Field(
        default='|~ "(?i)(error|exception|fail|fatal|panic|timeout|timed out|refused|denied|unavailable|warn)"',
        description="appended to the selector; empty for every line",
    )
    limit: int = Field(default=2000, ge=1, le=PAGE_CAP, description="lines per request (a page)")
    max_lines: int = Field(default=5000, ge=1, le=20000, description="lines in all, across pages")
    tenant: str | None = Field(default=None, description="X-Scope-OrgID for multi-tenant Loki")


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


_REGEX_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _alternatives(services: list[str]) -> str:
    """A regex matching exactly these names, ready to sit between a LogQL string's quotes."""
    return _quoted("|".join(_REGEX_SPECIAL.sub(r"\\\1", name) for name in services))


def _nanoseconds(instant: datetime) -> str:
    return str(int(instant.timestamp()) * 1_000_000_000 + instant.microsecond * 1000)


@dataclass(frozen=True)
class _Entry:
    nanoseconds: int
    identity: tuple[str, str]  # (stream labels, raw line): what a repeated boundary line shares
    line: RawLogLine


class LokiCollector(Collector):
    kind = "loki"
    options_model = LokiOptions
    credential_names: ClassVar[frozenset[str]] = frozenset({"bearer_token", "username", "password"})

    @property
    def settings(self) -> LokiOptions:
        assert isinstance(self.options, LokiOptions)
        return self.options

    def logql(self, query: CollectorQuery, services: str | list[str]) -> str:
        services = [services] if isinstance(services, str) else services
        selector = (
            self.settings.selector.replace("$services", _alternatives(services))
            .replace("$service", _quoted(services[0]))
            .replace("$environment", _quoted(query.environment or ""))
            .replace("$region", _quoted(query.region or ""))
        )
        return f"{selector} {self.settings.line_filter}".strip()

    def headers(self) -> dict[str, str]:
        headers = self.bearer_or_basic()
        if self.settings.tenant:
            headers["X-Scope-OrgID"] = self.settings.tenant
        return headers

    async def collect(self, query: CollectorQuery) -> Collected:
        service = self.require_service(query)
        around, notes = self.around(query)
        services = [n.service for n in around]
        if len(services) > 1 and "$services" not in self.settings.selector:
            notes.append(f"the selector names $service only: read for {service} only")
        logql = self.logql(query, services)
        window_end = _nanoseconds(query.window.end)
        # The lines of the oldest nanosecond read so far: the next page, ending just after that
        # nanosecond, returns them again.
        boundary: tuple[int, set[tuple[str, str]]] = (-1, set())

        async def page(cursor: str | None, size: int) -> Page[RawLogLine]:
            nonlocal boundary
            boundary_ns, seen = boundary
            overlap = len(seen) if cursor is not None else 0
            limit = min(PAGE_CAP, size + overlap)
            end = cursor or window_end
            body = await self.get_json(
                f"{self.endpoint}/loki/api/v1/query_range",
                params={
                    "query": logql,
                    "start": _nanoseconds(query.window.start),
                    "end": end,
                    "limit": str(limit),
                    "direction": "backward",
                },
                headers=self.headers(),
            )
            entries = self.entries(body, service)
            # A line at or after ``end`` was read on an earlier page: only a Loki (or a proxy)
            # that dropped ``end`` sends one, and it must not be counted twice.
            fresh = [
                e
                for e in entries
                if e.nanoseconds < int(end)
                and not (e.nanoseconds == boundary_ns and e.identity in seen)
            ]
            # Newest first, so that a budget that cuts this page drops the oldest lines.
            fresh.sort(key=lambda e: e.nanoseconds, reverse=True)
            if len(entries) < limit:
                return Page([e.line for e in fresh], None)
            oldest = min(e.nanoseconds for e in entries)
            at_oldest = {e.identity for e in entries if e.nanoseconds == oldest}
            boundary = (oldest, at_oldest | seen if oldest == boundary_ns else at_oldest)
            return Page([e.line for e in fresh], str(oldest + 1))

        collected = await log_pages(
            self,
            page,
            Budget(
                total=self.settings.max_lines,
                option="max_lines",
                unit="lines",
                page_size=self.settings.limit,
            ),
            query,
            service,
            label="logs",
        )
        collected.notes[:0] = notes
        return collected

    def entries(self, body: Any, service: str) -> list[_Entry]:
        if not isinstance(body, dict) or body.get("status") != "success":
            raise self.malformed("no successful status")
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "streams":
            raise self.malformed("the result is not a list of streams")
        streams = data.get("result")
        if not isinstance(streams, list):
            raise self.malformed("streams is not a list")
        entries: list[_Entry] = []
        for stream in streams:
            try:
                labels: dict[str, str] = dict(stream.get("stream") or {})
                values = stream["values"]
                level_label = next((labels[k] for k in LEVEL_LABELS if k in labels), None)
                stream_service = next((labels[k] for k in SERVICE_LABELS if k in labels), service)
                stream_identity = repr(sorted(labels.items()))
                stream_trace = _first(labels, TRACE_KEYS)
                stream_span = _first(labels, SPAN_KEYS)
                for stamp, text, *extra in values:
                    nanoseconds = int(stamp)
                    message = redact_text(str(text))
                    metadata = _metadata(extra)
                    entries.append(
                        _Entry(
                            nanoseconds=nanoseconds,
                            identity=(stream_identity, str(text)),
                            line=RawLogLine(
                                ts=datetime.fromtimestamp(
                                    nanoseconds // 1_000_000_000, UTC
                                ).replace(microsecond=(nanoseconds % 1_000_000_000) // 1000),
                                message=message,
                                level=normalise_level(level_label or level_in(message)),
                                service=stream_service,
                                trace_id=_first(metadata, TRACE_KEYS) or stream_trace,
                                span_id=_first(metadata, SPAN_KEYS) or stream_span,
                            ),
                        )
                    )
            except (AttributeError, KeyError, TypeError, ValueError):
                raise self.malformed("a stream without [timestamp, line] values") from None
        return entries


def _metadata(extra: list[Any]) -> dict[str, str]:
    """A value's structured metadata: ``{"structuredMetadata": {…}, "parsed": {…}}`` with the
    ``categorize-labels`` flag, a plain object from a Loki that attaches it uncategorised."""
    if not extra or not isinstance(extra[0], dict):
        return {}
    found = extra[0]
    metadata = found.get("structuredMetadata", found)
    return {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}


def _first(found: dict[str, str], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` that ``found`` holds, as a hex id."""
    return next((hex_id(found[key]) for key in keys if found.get(key)), None)


__all__ = ["LokiCollector"]
