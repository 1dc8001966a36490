"""An incident's whole record in one document, for a reviewer to take away and re-verify."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from chronosops.investigation import export_zip
from chronosops.web.deps import ReadSession, ServicesDep, Viewer, remember_incident

router = APIRouter(tags=["exports"])


@router.get(
    "/v1/incidents/{incident_id}/export",
    summary="The incident's record: JSON, or a zip with the Markdown postmortems (`?format=zip`)",
    responses={200: {"content": {"application/json": {}, "application/zip": {}}}},
)
async def export_incident(
    incident_id: str,
    request: Request,
    principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
    format: Annotated[Literal["json", "zip"], Query()] = "json",
) -> Response:
    remember_incident(request, incident_id)
    document = await services.exports.export(
        session,
        incident_id,
        admin=principal.is_admin,
        by=principal.subject,
        at=services.clock.now(),
    )
    stem = f"chronosops-incident-{incident_id}"
    if format == "zip":
        return Response(
            export_zip(document),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{stem}.zip"'},
        )
    return Response(
        json.dumps(document, ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{stem}.json"'},
    )
