"""Audit (admins): the whole hash chain, newest first, filterable, and verified on request.

The same `AuditLog.page` and `AuditLog.verify_chain` as ``GET /v1/audit-events`` and
``GET /v1/audit/verify``. Verification re-reads the whole chain, so it runs when asked for
(a form), never on every page view.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from chronosops.audit import AuditFilter, ChainVerification, EventType
from chronosops.web.deps import ServicesDep
from chronosops.web.pages.rendering import PageUser, render
from chronosops.web.pages.session import AdminPage, CheckedForm, PageRoute

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 50


async def _page(
    request: Request,
    services: ServicesDep,
    user: PageUser,
    *,
    event_type: EventType | None,
    actor: str | None,
    cursor: str | None,
    verification: ChainVerification | None = None,
) -> Response:
    filters = AuditFilter(event_type=event_type, actor=actor or None)
    async with services.database.unit_of_work(write=False) as session:
        page = await services.audit.page(session, filters, cursor=cursor, limit=PAGE_SIZE)
    query = {
        key: value
        for key, value in (("type", event_type.value if event_type else None), ("actor", actor))
        if value
    }
    context: dict[str, Any] = {
        "events": page.items,
        "event_types": list(EventType),
        "query": query,
        "first_query": urlencode(query),
        "next_query": urlencode({**query, "cursor": page.next_cursor}) if page.next_cursor else "",
        "cursor": cursor,
        "verification": verification,
    }
    return render(request, "audit/list.html", context, user=user)


@router.get("/audit", summary="The audit chain")
async def audit(
    request: Request,
    services: ServicesDep,
    user: AdminPage,
    event_type: Annotated[EventType | None, Query(alias="type")] = None,
    actor: Annotated[str | None, Query(max_length=256)] = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    return await _page(request, services, user, event_type=event_type, actor=actor, cursor=cursor)


@router.post("/audit/verify", summary="Verify the whole audit chain")
async def verify(
    request: Request, services: ServicesDep, user: AdminPage, _form: CheckedForm
) -> Response:
    async with services.database.unit_of_work(write=False) as session:
        result = await services.audit.verify_chain(session)
    return await _page(
        request, services, user, event_type=None, actor=None, cursor=None, verification=result
    )
