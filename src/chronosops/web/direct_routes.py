"""The hottest route served without FastAPI's router and dependency solver in between.

Before its own code ran, every request paid FastAPI's route matching (each route of the
routers registered before its own) and its dependency machinery (the dependencies' signatures
and cache keys looked at again on every call, the app-wide parameter check, the caller's check):
about a third of the ~0.15 ms ChronosOps's HTTP stack spends on an ingest without its pipeline
(docs/benchmarks.md, eleventh pass). A route listed here is matched by its exact method and
path and called with the very checks its FastAPI route declares, in the order FastAPI runs them;
the route stays registered with FastAPI, which still answers everything else for that path
(another method, a trailing slash, a ``root_path``) and publishes it in the OpenAPI document.

It sits where the router sat, inside the error handlers' middleware, so an error raised here
becomes the same answer as from the route. When FastAPI's own OpenTelemetry instrumentation is
active for a request (``fastapi.telemetry`` in its scope) the router serves it, so the span
still gets its route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, APIRouter
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class DirectRoutes:
    """Serve ``(method, path)`` pairs with their handlers; pass every other request on."""

    def __init__(self, app: ASGIApp, routes: dict[tuple[str, str], tuple[APIRoute, Handler]]):
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not scope.get("root_path")
            and "fastapi.telemetry" not in scope
        ):
            found = self.routes.get((scope["method"], scope["path"]))
            if found is not None:
                route, handler = found
                # What FastAPI's router leaves in the scope for the access log and the metrics.
                scope["route"] = route
                scope["endpoint"] = route.endpoint
                scope["path_params"] = {}
                response = await handler(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def serve_directly(
    app: FastAPI, router: APIRouter, method: str, path: str, handler: Handler
) -> None:
    """Answer ``method path`` with ``handler`` ahead of the app's router. ``router`` (included
    in ``app`` without a prefix) must hold the FastAPI route of that method and path: it keeps
    the OpenAPI entry and the other answers, and names the route in the access log."""
    route = next(
        (
            r
            for r in router.routes
            if isinstance(r, APIRoute) and r.path == path and method in (r.methods or ())
        ),
        None,
    )
    if route is None:
        raise ValueError(f"no FastAPI route for {method} {path} to serve directly")
    current = app.router.middleware_stack
    if not isinstance(current, DirectRoutes):
        current = app.router.middleware_stack = DirectRoutes(current, {})
    current.routes[(method, path)] = (route, handler)
