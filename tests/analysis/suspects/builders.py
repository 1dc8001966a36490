"""Incidents the suspects' tests share: edge metrics, call traces, request rates, and the
ranking read back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chronosops.analysis.suspects import rank_suspects
from chronosops.core.timestamps import format_instant
from tests.analysis.builders import ONSET, analysis_input, at, series


def edge(name: str, caller: str, callee: str, before: float, after: float) -> list[dict[str, Any]]:
    points = series(name, before, after, service=caller)
    for point in points:
        point["labels"] = {"service": caller, "destination_service": callee}
    return points


def inventory_saturated(caller: str, callee: str) -> list[dict[str, Any]]:
    """inventory's CPU pinned and its latency up, frontend slower at steady traffic, and an edge
    metric saying ``caller`` waits on ``callee``."""
    metrics = series("cpu_usage_percent", 20, 97, service="inventory")
    metrics += series("server_latency_p90_seconds", 0.02, 0.4, service="inventory")
    metrics += series("requests_per_second", 30, 30, service="inventory")
    metrics += series("server_latency_p90_seconds", 0.05, 0.5, service="frontend")
    metrics += series("requests_per_second", 40, 40, service="frontend")
    metrics += series("cpu_usage_percent", 30, 31, service="frontend")
    return metrics + edge("outbound_request_latency_p50_seconds", caller, callee, 0.02, 0.4)


def ranked(**lite: Any) -> list[str]:
    request = analysis_input(**lite)
    return [s.service for s in rank_suspects(request.artifacts, request.context)]


def suspect_kinds(**lite: Any) -> dict[str, dict[str, float]]:
    request = analysis_input(**lite)
    return {s.service: s.kinds for s in rank_suspects(request.artifacts, request.context)}


def calls(
    caller: str,
    callee: str,
    minutes: list[float],
    wait_ms: float,
    serve_ms: float,
    tag: str,
    *,
    request_ms: float | None = None,
    client_operation: str | None = None,
    callee_operation: str = "serve",
    callee_at_ms: float = 3,
) -> list[dict[str, Any]]:
    """One trace per minute mark: the caller's server span (``request_ms``, by default the wait
    and 4 ms of its own), its client span waiting ``wait_ms``, the callee's span."""
    found: list[dict[str, Any]] = []
    for index, minute in enumerate(minutes):
        trace = f"{tag}-{index}"
        start = ONSET + timedelta(minutes=minute)

        def stamp(offset_ms: float, start: datetime = start) -> str:
            return format_instant(start + timedelta(milliseconds=offset_ms))

        found += [
            {
                "traceId": trace,
                "spanId": f"{trace}-s",
                "service": caller,
                "operation": "GET /",
                "duration": wait_ms + 4 if request_ms is None else request_ms,
                "timestamp": stamp(0),
            },
            {
                "traceId": trace,
                "spanId": f"{trace}-c",
                "service": caller,
                "operation": client_operation or f"call {callee}",
                "duration": wait_ms,
                "timestamp": stamp(2),
            },
            {
                "traceId": trace,
                "spanId": f"{trace}-e",
                "service": callee,
                "operation": callee_operation,
                "duration": serve_ms,
                "timestamp": stamp(callee_at_ms),
            },
        ]
    return found


BEFORE = [-2 + i / 10 for i in range(10)]


AFTER = [-1 + i / 10 for i in range(10)] + [i / 10 for i in range(10)]


def flat(name: str, values: dict[int, float], labels: dict[str, str]) -> list[dict[str, Any]]:
    """A metric at the given value per minute (no jitter), from 15 minutes before the onset."""
    return [
        {"name": name, "value": value, "timestamp": at(minute), "labels": dict(labels)}
        for minute, value in sorted(values.items())
    ]


def rate(service: str, before: float, after: float) -> list[dict[str, Any]]:
    return series("requests_per_second", before, after, service=service)


def checkout_calling(
    payment_after: float,
    email_after: float,
    *,
    checkout_after: float = 0.4,
    currency_after: float = 20,
) -> list[dict[str, Any]]:
    """checkout calls payment and email on every request, and currency, which frontend calls too."""
    calm = 0.005
    metrics = rate("checkout", 0.4, checkout_after)
    metrics += rate("payment", 0.4, payment_after) + rate("email", 0.4, email_after)
    metrics += rate("currency", 20, currency_after) + rate("frontend", 8, 8)
    for caller, callee in (
        ("frontend", "checkout"),
        ("frontend", "currency"),
        ("checkout", "currency"),
        ("checkout", "payment"),
        ("checkout", "email"),
    ):
        metrics += edge("outbound_request_latency_p50_seconds", caller, callee, calm, calm)
    return metrics
