"""Evidence bundles, by their content-addressed id."""

from __future__ import annotations

from fastapi import APIRouter

from chronosops.evidence import BundleRead
from chronosops.web.deps import ReadSession, ServicesDep, Viewer

router = APIRouter(tags=["evidence"])


@router.get(
    "/v1/evidence-bundles/{bundle_id}",
    summary="An evidence bundle (sensitive keys redacted unless the caller is an admin)",
    response_model=BundleRead,
)
async def get_bundle(
    bundle_id: str, principal: Viewer, services: ServicesDep, session: ReadSession
) -> BundleRead:
    return await services.evidence.get(session, bundle_id, redact=not principal.is_admin)
