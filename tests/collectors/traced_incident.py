"""One incident's log lines and spans, written as each backend answers them.

ts-order-service serves ``GET /api/v1/orders`` three times a minute and ``POST /api/v1/orders``
twice. Each query logs step 1 and step 2; from the fault on (10:11), a NullPointerException
cuts every query short after step 1, so step 2 stops being logged while the operation keeps
being called: the code path the engine reads as stopped (`analysis.code_paths`). Order
creation logs a line without trace context (a logger without MDC), and a pool warning comes
from no span at all: records without ids, which must still become templates.

The same observations are written as Cloud Logging entries and Cloud Trace v1 traces (span
ids in decimal there, in hex on the log entries), Loki streams (trace context as structured
metadata, categorised or merged into the stream labels, or only in the text), New Relic Log and
Span rows, Datadog log events (``dd.trace_id``/``dd.span_id`` in decimal) and as the
``evidenceLite`` a caller would send, so that a collected bundle can be compared with a sent
one. The shapes follow the vendors' API references and the recordings beside this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from chronosops.core.timestamps import format_instant
from chronosops.core.windows import TimeWindow

SERVICE = "ts-order-service"
START = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
FAULT = START + timedelta(minutes=11)
ONSET = START + timedelta(minutes=12)  # noticed a minute after it began
WINDOW = TimeWindow(START, START + timedelta(minutes=20))
PROJECT = "acme-trains-prod"
QUERY_ORDERS = "GET /api/v1/orders"
CREATE_ORDER = "POST /api/v1/orders"


@dataclass(frozen=True)
class Span:
    number: int  # the 64-bit span id, as Cloud Trace v1 and Datadog write it (decimal)
    trace_id: str
    operation: str
    start: datetime
    duration_ms: float

    @property
    def span_id(self) -> str:
        return f"{self.number:016x}"

    @property
    def end(self) -> datetime:
        return self.start + timedelta(milliseconds=self.duration_ms)


@dataclass(frozen=True)
class Line:
    ts: datetime
    level: str
    message: str
    span: Span | None  # the span whose context the record carries


def observations() -> tuple[list[Span], list[Line]]:
    spans: list[Span] = []
    lines: list[Line] = []
    for minute in range(20):
        at = START + timedelta(minutes=minute)
        for call in range(5):
            index = len(spans) + 1
            operation = QUERY_ORDERS if call < 3 else CREATE_ORDER
            span = Span(
                number=(0x9E3779B97F4A7C15 * index) % (1 << 64),
                trace_id=f"{(0x6A09E667F3BCC908B2FB1366EA957D3E * index) % (1 << 128):032x}",
                operation=operation,
                start=at + timedelta(seconds=4 + 11 * call, milliseconds=137 * call),
                duration_ms=38.5 + 7 * call,
            )
            spans.append(span)
            step = span.start + timedelta(milliseconds=3)
            if operation == QUERY_ORDERS:
                lines.append(
                    Line(
                        step,
                        "INFO",
                        f"[queryOrders][Step 1] account {7100 + index} querying orders",
                        span,
                    )
                )
                if span.start < FAULT:
                    lines.append(
                        Line(
                            step + timedelta(milliseconds=20),
                            "INFO",
                            f"[queryOrders][Step 2] found {index % 9 + 1} orders, "
                            "building response",
                            span,
                        )
                    )
                else:
                    lines.append(
                        Line(
                            step + timedelta(milliseconds=4),
                            "ERROR",
                            "[queryOrders] query failed: java.lang.NullPointerException "
                            "at OrderServiceImpl.java:118",
                            span,
                        )
                    )
            else:
                lines.append(
                    Line(step, "INFO", f"[createOrder] order z{4400 + index} created", None)
                )
        if minute % 5 == 0:
            lines.append(
                Line(
                    at + timedelta(seconds=58),
                    "WARN",
                    "HikariPool-1 - pool near capacity (28/30)",
                    None,
                )
            )
    return spans, lines


def _when(line: Line) -> datetime:
    return line.ts


def _nanoseconds(instant: datetime) -> str:
    return str(int(instant.timestamp()) * 1_000_000_000 + instant.microsecond * 1000)


def _epoch_ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _text_with_context(line: Line) -> str:
    """The message as a Logback pattern with the MDC trace context prints it."""
    if line.span is None:
        return line.message
    return f"{line.message} TraceID: {line.span.trace_id} SpanID: {line.span.span_id}"


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    return {"status": 200, "headers": {"Content-Type": "application/json"}, "body": body}


def cloud_logging(lines: list[Line], *, ids: bool = True) -> dict[str, Any]:
    """``entries:list``: the trace context in ``trace``/``spanId`` beside the payload."""
    entries = []
    for n, line in enumerate(sorted(lines, key=_when, reverse=True)):
        entry: dict[str, Any] = {
            "insertId": f"{n:08x}a1b2c3d4",
            "jsonPayload": {"message": line.message, "logger": "c.t.o.service.OrderServiceImpl"},
            "resource": {
                "type": "cloud_run_revision",
                "labels": {"project_id": PROJECT, "service_name": SERVICE, "location": "us-east1"},
            },
            "timestamp": format_instant(line.ts),
            "severity": line.level if line.level != "WARN" else "WARNING",
            "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2Fstdout",
        }
        if ids and line.span is not None:
            entry["trace"] = f"projects/{PROJECT}/traces/{line.span.trace_id}"
            entry["spanId"] = line.span.span_id
            entry["traceSampled"] = True
        entries.append(entry)
    return _answer({"entries": entries})


def cloud_trace(spans: list[Span]) -> dict[str, Any]:
    """Trace v1 ``traces.list`` (COMPLETE view): span ids as decimal uint64 strings."""
    return _answer(
        {
            "traces": [
                {
                    "projectId": PROJECT,
                    "traceId": span.trace_id,
                    "spans": [
                        {
                            "spanId": str(span.number),
                            "kind": "RPC_SERVER",
                            "name": span.operation,
                            "startTime": format_instant(span.start),
                            "endTime": format_instant(span.end),
                            "labels": {"service.name": SERVICE, "/http/status_code": "200"},
                        }
                    ],
                }
                for span in spans
            ]
        }
    )


LokiContext = Literal["categorized", "labels", "text"]


def loki(lines: list[Line], *, context: LokiContext) -> dict[str, Any]:
    """``query_range`` streams, newest first. ``categorized``: structured metadata as each
    value's third element (the ``categorize-labels`` flag); ``labels``: merged into the stream
    labels (one stream per span, as Loki answers without the flag); ``text``: only in the line."""
    stream_labels = {"service_name": SERVICE, "namespace": "train-ticket"}
    streams: dict[tuple[tuple[str, str], ...], list[list[Any]]] = {}
    for line in sorted(lines, key=_when, reverse=True):
        labels = {**stream_labels, "detected_level": line.level.lower()}
        value: list[Any] = [_nanoseconds(line.ts), line.message]
        if context == "text":
            value[1] = _text_with_context(line)
        elif line.span is not None and context == "labels":
            labels |= {"trace_id": line.span.trace_id, "span_id": line.span.span_id}
        elif line.span is not None:
            value.append(
                {
                    "structuredMetadata": {
                        "trace_id": line.span.trace_id,
                        "span_id": line.span.span_id,
                    }
                }
            )
        streams.setdefault(tuple(sorted(labels.items())), []).append(value)
    return _answer(
        {
            "status": "success",
            "data": {
                "resultType": "streams",
                "result": [
                    {"stream": dict(key), "values": values} for key, values in streams.items()
                ],
                "stats": {"summary": {"totalEntriesReturned": len(lines)}},
            },
        }
    )


def _nerdgraph(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _answer({"data": {"actor": {"account": {"nrql": {"results": rows}}}}})


def newrelic_spans(spans: list[Span]) -> dict[str, Any]:
    """Span rows: ``id`` is the span id (hex), ``trace.id`` the trace's."""
    return _nerdgraph(
        [
            {
                "timestamp": _epoch_ms(span.start),
                "name": span.operation,
                "duration.ms": span.duration_ms,
                "service.name": SERVICE,
                "error": False,
                "otel.status_code": "UNSET",
                "trace.id": span.trace_id,
                "id": span.span_id,
            }
            for span in sorted(spans, key=lambda s: s.start, reverse=True)
        ]
    )


def newrelic_logs(lines: list[Line]) -> dict[str, Any]:
    """Log rows with logs in context: ``trace.id``/``span.id`` where the agent linked them."""
    rows = []
    for line in sorted(lines, key=_when, reverse=True):
        row: dict[str, Any] = {
            "timestamp": _epoch_ms(line.ts),
            "message": line.message,
            "level": line.level,
            "service.name": SERVICE,
        }
        if line.span is not None:
            row |= {"trace.id": line.span.trace_id, "span.id": line.span.span_id}
        rows.append(row)
    return _nerdgraph(rows)


def datadog_logs(lines: list[Line]) -> dict[str, Any]:
    """Logs search events: Datadog's tracer injects ``dd.trace_id``/``dd.span_id`` in decimal
    (the lower 64 bits of the trace id)."""
    data = []
    for n, line in enumerate(sorted(lines, key=_when, reverse=True)):
        custom: dict[str, Any] = {"logger": {"name": "c.t.o.service.OrderServiceImpl"}}
        if line.span is not None:
            custom["dd"] = {
                "trace_id": str(int(line.span.trace_id, 16) % (1 << 64)),
                "span_id": str(line.span.number),
                "service": SERVICE,
            }
        data.append(
            {
                "id": f"AQAAAY0{n:010d}",
                "type": "log",
                "attributes": {
                    "timestamp": format_instant(line.ts),
                    "status": line.level.lower(),
                    "service": SERVICE,
                    "host": "ts-order-service-7d9f",
                    "message": line.message,
                    "tags": ["env:production", f"service:{SERVICE}"],
                    "attributes": custom,
                },
            }
        )
    return _answer({"data": data, "meta": {"page": {}}, "links": {}})


def evidence_lite(
    spans: list[Span], lines: list[Line], *, ids: Literal["fields", "text"]
) -> dict[str, Any]:
    """What a caller would send: the spans, and the lines with their trace context as fields
    (an OpenTelemetry log record) or in the text (a Logback pattern)."""
    logs = []
    for line in lines:
        log: dict[str, Any] = {
            "timestamp": format_instant(line.ts),
            "level": line.level,
            "service": SERVICE,
            "message": _text_with_context(line) if ids == "text" else line.message,
        }
        if ids == "fields" and line.span is not None:
            log |= {"traceId": line.span.trace_id, "spanId": line.span.span_id}
        logs.append(log)
    return {
        "traces": [
            {
                "traceId": span.trace_id,
                "spanId": span.span_id,
                "service": SERVICE,
                "operation": span.operation,
                "duration": span.duration_ms,
                "timestamp": format_instant(span.start),
            }
            for span in spans
        ],
        "logs": logs,
    }
