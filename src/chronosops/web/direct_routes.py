"""The hottest route served without FastAPI's router, its dependency solver and its outer layers.

Before its own code ran, every request paid FastAPI's route matching (each route of the
routers registered before its own) and its dependency machinery (the dependencies' signatures
and cache keys looked at again on every call, the app-wide parameter check, the caller's check):
about a third of the ~0.15 ms ChronosOps's HTTP stack spent on an ingest without its pipeline
(docs/benchmarks.md, eleventh pass). A route listed here is matched by its exact method and
path and called with the very checks its FastAPI route declares, in the order FastAPI runs them;
the route stays registered with FastAPI, which still answers everything else for that path
(another method, a trailing slash, a ``root_path``) and publishes it in the OpenAPI document.

It is matched ahead of the whole middleware stack, and runs a stack of its own: Starlette's
server-error and exception middlewares with the app's own handlers, and between them the app's
own middlewares, in the app's order — the layers that shape its answer, so an error raised by
the handler becomes the same answer as from the route. It leaves out the layers that do nothing
for it: FastAPI's exception telemetry and body limit (a request that FastAPI's OpenTelemetry
instrumentation traces, ``fastapi.telemetry`` in its scope, or that a parent app's body limit
counts, is the full stack's; so is every request when the app sets ``max_body_size``), its exit
stack for uploaded files, and the router (~10 µs a request, docs/benchmarks.md, twenty-first
pass).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, APIRouter
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class DirectEndpoint:
    """One route's handler as an ASGI app, leaving in the scope what FastAPI's router leaves
    (for the access log and the metrics, which name the route template)."""

    def __init__(self, router: APIRouter, route: APIRoute, handler: Handler) -> None:
        self.router = router
        self.route = route
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("router", self.router)
        scope["route"] = self.route
        scope["endpoint"] = self.route.endpoint
        scope["path_params"] = {}
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)


def direct_stack(app: FastAPI, endpoint: ASGIApp) -> ASGIApp:
    """``endpoint`` inside the layers of the app's stack that shape an answer, in its order:
    server errors (the handler of ``Exception``), the app's middlewares, then its exception
    handlers."""
    error_handler = None
    handlers: dict[Any, Any] = {}
    for key, value in app.exception_handlers.items():
        if key in (500, Exception):
            error_handler = value
        else:
            handlers[key] = value
    stack: ASGIApp = ExceptionMiddleware(endpoint, handlers=handlers, debug=app.debug)
    for cls, args, kwargs in reversed(app.user_middleware):
        stack = cls(stack, *args, **kwargs)
    return ServerErrorMiddleware(stack, handler=error_handler, debug=app.debug)


class DirectRoutes:
    """Serve ``(method, path)`` pairs with their own stacks; pass every other request on."""

    def __init__(self, app: ASGIApp, routes: dict[tuple[str, str], ASGIApp]):
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not scope.get("root_path")
            and "fastapi.telemetry" not in scope
            and MAX_BODY_SIZE_SCOPE_KEY not in scope
        ):
            stack = self.routes.get((scope["method"], scope["path"]))
            if stack is not None:
                await stack(scope, receive, send)
                return
        await self.app(scope, receive, send)


_DIRECT_ROUTES = "direct_routes"


def serve_directly(
    app: FastAPI, router: APIRouter, method: str, path: str, handler: Handler
) -> None:
    """Answer ``method path`` with ``handler`` ahead of the app's stack. ``router`` (included
    in ``app`` without a prefix) must hold the FastAPI route of that method and path: it keeps
    the OpenAPI entry and the other answers, and names the route in the access log.

    The stacks are built with the app's (when it first serves a request), so middlewares and
    exception handlers added after this call are in them too."""
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
    if app.middleware_stack is not None:
        raise RuntimeError("routes are served directly only before the app serves a request")
    table: dict[tuple[str, str], DirectEndpoint] | None = getattr(app.state, _DIRECT_ROUTES, None)
    if table is None:
        table = {}
        setattr(app.state, _DIRECT_ROUTES, table)
        build = app.build_middleware_stack
        endpoints = table

        def build_with_direct_routes() -> ASGIApp:
            stack = build()
            if app.max_body_size is not None:
                # FastAPI's own body limit would have to be in each direct stack too.
                return stack
            return DirectRoutes(
                stack, {key: direct_stack(app, endpoint) for key, endpoint in endpoints.items()}
            )

        app.build_middleware_stack = build_with_direct_routes  # type: ignore[method-assign]
    table[(method, path)] = DirectEndpoint(app.router, route, handler)
