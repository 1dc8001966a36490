"""ASGI middleware: request ids and access logs, the body size limit, security headers, metrics."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chronosops.core.metrics import Children

log = structlog.get_logger("chronosops.http")

_REQUEST_ID_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
# Metric labels come from a fixed set, never from what a client sends: any method a client can
# make up and any path it can invent would otherwise be a new series (unbounded memory and
# /metrics size from unauthenticated traffic).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


def metric_labels(scope: Scope) -> tuple[str, str]:
    """``(method, route template)`` for the metrics: ``other`` for anything not from the app."""
    method = scope.get("method", "")
    route = getattr(scope.get("route"), "path", None)
    return (
        method if method in KNOWN_METHODS else OTHER,
        route if isinstance(route, str) and route else OTHER,
    )


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "chronosops_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "chronosops_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        # Method and route from fixed sets (`metric_labels`), a status code from HTTP's.
        self.requests_by = Children(self.requests)
        self.latency_by = Children(self.latency)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))[:128]
            if text and all(c in _REQUEST_ID_OK for c in text):
                return text
    # 32 hex digits of the OS's random source, as ``uuid.uuid4().hex`` wrote less its version
    # digit, without building a UUID object (~1 µs against ~5, on every request).
    return os.urandom(16).hex()


class RequestContextMiddleware:
    """Give every request an id (echoed as ``X-Request-Id``), log it once, count it."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method_label, template = metric_labels(scope)
            method = scope.get("method", "")
            self.metrics.requests_by(method_label, template, str(status)).inc()
            self.metrics.latency_by(method_label, template).observe(elapsed)
            state = scope.get("state", {})
            fields: dict[str, Any] = {
                "method": method,
                "route": template,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            }
            if "principal" in state:
                fields["principal"] = state["principal"]
            path_params = scope.get("path_params") or {}
            for key in ("incident_id", "analysis_id", "bundle_id"):
                if key in path_params:
                    fields[key] = path_params[key]
            if "incident_id" in state:
                fields["incident_id"] = state["incident_id"]
            log.info("http.request", **fields)
            structlog.contextvars.unbind_contextvars("request_id")


class BodyTooLargeError(Exception):
    pass


# The one route whose body carries evidence (metrics, logs, spans): real bundles run to a few MB.
INGEST_PATH = "/v1/incidents/ingest"


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit with 413, whether or not they announce their length.

    ``larger`` raises the limit for named paths (the ingest route carries evidence); every other
    route keeps the small one, so a stray large body is refused before it is read.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.larger.get(path.rstrip("/") or "/", self.default_max_bytes)
        setting = (
            "CHRONOSOPS_MAX_INGEST_BODY_BYTES"
            if path.rstrip("/") in self.larger
            else "CHRONOSOPS_MAX_BODY_BYTES"
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._reject(send, limit, setting)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await self._reject(send, limit, setting)

    async def _reject(self, send: Send, limit: int, setting: str) -> None:
        body = json.dumps(
            {
                "message": f"Request body is larger than the {limit}-byte limit ({setting})",
                "code": "payload-too-large",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in existing]
                if b"cache-control" not in existing:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
