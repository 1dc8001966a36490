"""The web console: server-rendered pages (Jinja2 + HTMX) beside the JSON API.

One module per screen, each with its own router of `PageRoute`s; templates live in
``web/templates/<screen>/`` and vendored assets in ``web/static/``. Pages call the same
services as the API and add no rules of their own.
"""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from chronosops.web.pages import (
    audit,
    incident,
    incidents,
    investigations,
    jobs,
    lifecycle,
    new_incident,
    review,
    scenarios,
    sign_in,
    silences,
    sources,
)
from chronosops.web.pages.rendering import STATIC_DIR

SCREENS = (
    sign_in,
    incidents,
    review,
    investigations,
    incident,
    lifecycle,
    new_incident,
    scenarios,
    silences,
    sources,
    audit,
    jobs,
)


class CachedStaticFiles(StaticFiles):
    """Vendored assets: their URLs carry the release version, so browsers may keep them."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=86400"
        return response


@cache
def _screens() -> APIRouter:
    """Every screen's routes in one router, gathered once per process: each app includes it
    (FastAPI copies the routes into the app and leaves this router as it is), where gathering
    it again for every app read each page's signature twice (most of a test's `create_app`)."""
    router = APIRouter(include_in_schema=False)
    for screen in SCREENS:
        router.include_router(screen.router)
    return router


def install(app: FastAPI) -> None:
    app.include_router(_screens())
    app.mount("/static", CachedStaticFiles(directory=STATIC_DIR), name="static")
