"""Loki: LogQL over the incident window, the lines clustered into templates.

The query is ``selector`` plus ``line_filter``: by default the incident service's stream
(``{service_name="$service"}``) narrowed to lines that look like trouble. Levels come from a
stream label when the stream has one, else from the line itself (logfmt, JSON, a leading word).
"""

from __future__ import annotations

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
from chronosops.core.aggregation import RawLogLine, log_templates
from chronosops.core.artifacts import ERROR_LEVELS, Artifact, LogTemplate, normalise_level
from chronosops.core.redaction import redact_text

LEVEL_LABELS = ("level", "detected_level", "severity", "lvl")
SERVICE_LABELS = ("service_name", "service", "app", "job", "container")


class LokiOptions(CollectorOptions):
    selector: str = Field(
        default='{service_name="$service"}',
        description="LogQL stream selector; $service, $environment and $region are filled in",
    )
    line_filter: str = Field(
        default='|~ "(?i)(error|exception|fail|fatal|panic|timeout|timed out|refused|denied|unavailable|warn)"',
        description="appended to the selector; empty for every line",
    )
    limit: int = Field(default=2000, ge=1, le=5000, description="lines per query")
    tenant: str | None = Field(default=None, description="X-Scope-OrgID for multi-tenant Loki")


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _nanoseconds(instant: datetime) -> str:
    return str(int(instant.timestamp()) * 1_000_000_000 + instant.microsecond * 1000)


def _rank(template: LogTemplate) -> tuple[int, int, str]:
    errors = sum(n for level, n in template.levels.items() if level in ERROR_LEVELS)
    return (-errors, -template.count, template.template)


class LokiCollector(Collector):
    kind = "loki"
    options_model = LokiOptions
    credential_names: ClassVar[frozenset[str]] = frozenset({"bearer_token", "username", "password"})

    @property
    def settings(self) -> LokiOptions:
        assert isinstance(self.options, LokiOptions)
        return self.options

    def logql(self, query: CollectorQuery, service: str) -> str:
        selector = (
            self.settings.selector.replace("$service", _quoted(service))
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
        body = await self.get_json(
            f"{self.endpoint}/loki/api/v1/query_range",
            params={
                "query": self.logql(query, service),
                "start": _nanoseconds(query.window.start),
                "end": _nanoseconds(query.window.end),
                "limit": str(self.settings.limit),
                "direction": "backward",
            },
            headers=self.headers(),
        )
        lines = self.lines(body, service)
        templates = log_templates(
            lines, id_prefix=f"log:{self.name}", source=self.source, default_service=service
        )
        templates.sort(key=_rank)
        kept: list[Artifact] = [*templates[: query.max_items]]
        return Collected(artifacts=kept)

    def lines(self, body: Any, service: str) -> list[RawLogLine]:
        if not isinstance(body, dict) or body.get("status") != "success":
            raise self.malformed("no successful status")
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "streams":
            raise self.malformed("the result is not a list of streams")
        streams = data.get("result")
        if not isinstance(streams, list):
            raise self.malformed("streams is not a list")
        lines: list[RawLogLine] = []
        for stream in streams:
            try:
                labels: dict[str, str] = dict(stream.get("stream") or {})
                values = stream["values"]
                level_label = next((labels[k] for k in LEVEL_LABELS if k in labels), None)
                stream_service = next((labels[k] for k in SERVICE_LABELS if k in labels), service)
                for stamp, text in values:
                    nanoseconds = int(stamp)
                    message = redact_text(str(text))
                    lines.append(
                        RawLogLine(
                            ts=datetime.fromtimestamp(nanoseconds // 1_000_000_000, UTC).replace(
                                microsecond=(nanoseconds % 1_000_000_000) // 1000
                            ),
                            message=message,
                            level=normalise_level(level_label or level_in(message)),
                            service=stream_service,
                        )
                    )
            except (AttributeError, KeyError, TypeError, ValueError):
                raise self.malformed("a stream without [timestamp, line] values") from None
        return lines


__all__ = ["LokiCollector"]
