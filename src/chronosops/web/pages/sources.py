"""Sources: each vendor's webhook URL, how it authenticates, and how to set it up; and importing
the Google Cloud status feed.

The same registry and intake as ``GET /v1/sources``, ``POST /v1/webhooks/{source}`` and
``chronosops import google-cloud-status``: a pasted feed goes through `SourceIntake`, one
incident per entry, idempotently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response

from chronosops.bootstrap import Services
from chronosops.core.errors import AppError, FieldError, InvalidInputError
from chronosops.investigation import EventResult, delivery_id_headers
from chronosops.sources import GOOGLE_CLOUD_STATUS_FEED_URL, Normalization, Source, registry
from chronosops.web.bodies import parse_json
from chronosops.web.deps import ServicesDep
from chronosops.web.pages.rendering import PageUser, render
from chronosops.web.pages.session import (
    AnalystAction,
    AnalystPage,
    CheckedForm,
    PageRoute,
    ViewerPage,
)

log = structlog.get_logger("chronosops.console")

router = APIRouter(route_class=PageRoute)

GOOGLE_STATUS = "google-cloud-status"


@dataclass(frozen=True)
class SourceView:
    source: Source
    webhook_url: str
    enabled: bool
    methods: list[dict[str, Any]]
    delivery_headers: list[str]


def source_views(services: Services) -> list[SourceView]:
    base = services.settings.base_url
    return [
        SourceView(
            source=source,
            webhook_url=f"{base}/v1/webhooks/{source.kind}",
            enabled=services.webhooks.is_enabled(source),
            methods=services.webhooks.methods(source),
            delivery_headers=delivery_id_headers(source),
        )
        for source in (registry.get(kind) for kind in registry.kinds())
    ]


@router.get("/sources", summary="Vendor sources and their webhooks")
async def sources(request: Request, services: ServicesDep, user: ViewerPage) -> Response:
    context = {
        "views": source_views(services),
        "replay_hours": services.settings.webhook_replay_window_hours,
    }
    return render(request, "sources/list.html", context, user=user)


def _import_page(
    request: Request,
    user: PageUser,
    *,
    payload: str = "",
    error: InvalidInputError | None = None,
    results: list[EventResult] | None = None,
    status_code: int = 200,
) -> Response:
    counts = Counter(result.outcome for result in results or [])
    context = {
        "payload": payload,
        "error": error,
        "results": results,
        "counts": sorted(counts.items()),
        "feed_url": GOOGLE_CLOUD_STATUS_FEED_URL,
    }
    return render(
        request, "imports/google_cloud_status.html", context, user=user, status_code=status_code
    )


@router.get("/import/google-cloud-status", summary="Import the Google Cloud status feed")
async def google_import_form(request: Request, user: AnalystPage) -> Response:
    return _import_page(request, user)


@router.post("/import/google-cloud-status", summary="Import a pasted Google Cloud status feed")
async def google_import(
    request: Request, services: ServicesDep, user: AnalystAction, form: CheckedForm
) -> Response:
    payload = form.get("payload", "")
    source = registry.get(GOOGLE_STATUS)
    try:
        if not payload.strip():
            raise InvalidInputError(
                "Nothing to import",
                [FieldError("", "paste the feed: the JSON array of incidents.json")],
            )
        normalization = services.intake.normalize(source, parse_json(payload.encode()), headers={})
    except InvalidInputError as refused:
        return _import_page(request, user, payload=payload, error=refused, status_code=400)
    results: list[EventResult] = []
    problems: list[FieldError] = []
    # One entry at a time, so one bad entry does not stop the rest (as the CLI does).
    for event in normalization.events:
        single = Normalization(shape=normalization.shape, events=(event,))
        try:
            results += await services.intake.apply(single, principal=user.principal)
        except AppError as failure:
            problems.append(FieldError(event.source_ref, failure.message))
    log.info("console.google_status_imported", entries=len(normalization.events))
    partial = InvalidInputError("Some entries were not imported", problems) if problems else None
    return _import_page(request, user, payload="", error=partial, results=results)
