"""What the native sources accept (``GET /v1/sources``) and a dry run of one (``POST /v1/normalize``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from chronosops.bootstrap import Services
from chronosops.investigation import delivery_id_headers
from chronosops.sources import Source, registry, request_json
from chronosops.web.bodies import read_json
from chronosops.web.deps import Analyst, ServicesDep, Viewer

router = APIRouter(tags=["sources"])


def _webhook_url(services: Services, request: Request, kind: str) -> str:
    base = services.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/v1/webhooks/{kind}"


def describe(source: Source, services: Services, request: Request) -> dict[str, Any]:
    return {
        "kind": source.kind,
        "title": source.title,
        "sourceType": source.source_type,
        "webhookUrl": _webhook_url(services, request, source.kind),
        "enabled": services.webhooks.is_enabled(source),
        "authentication": services.webhooks.methods(source),
        "deliveryIdHeaders": delivery_id_headers(source),
        "shapes": [
            {"name": shape.name, "description": shape.description} for shape in source.shapes
        ],
        "severityMappings": [
            {"field": field, "mapping": dict(mapping)}
            for field, mapping in source.severity_mappings
        ],
        "unknownSeverity": "medium (recorded as severity-defaulted)",
        "docs": f"docs/sources.md#{source.kind}",
    }


@router.get(
    "/v1/sources", summary="The native sources: payload shapes, authentication, webhook URL"
)
async def list_sources(
    request: Request, _principal: Viewer, services: ServicesDep
) -> dict[str, Any]:
    return {
        "sources": [describe(registry.get(kind), services, request) for kind in registry.kinds()],
        "replayWindowHours": services.settings.webhook_replay_window_hours,
    }


@router.post(
    "/v1/normalize/{source}",
    summary="Dry run: what a vendor payload becomes, without storing anything",
    responses={
        400: {"description": "Not a payload this source reads: `{message, errors}`"},
        404: {"description": "Unknown source"},
    },
)
async def normalize(
    source: str, request: Request, _principal: Analyst, services: ServicesDep
) -> dict[str, Any]:
    adapter = registry.get(source)
    _raw, body = await read_json(request, require_json_type=False)
    normalization = services.intake.normalize(adapter, body, headers=request.headers)
    return {
        "source": adapter.kind,
        "shape": normalization.shape,
        "requests": [request_json(request) for request in normalization.requests],
        "events": [event.to_json() for event in normalization.events],
        "notes": [note.to_json() for note in normalization.notes],
    }
