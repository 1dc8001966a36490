"""The incident list: filters, title search, cursor pages, auto-refresh, and the home page."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from chronosops.core.errors import FieldError
from chronosops.core.ingest_request import SEVERITIES, SOURCE_TYPES
from chronosops.incidents import INCIDENT_STATUSES, LIFECYCLE_STATES, IncidentFilter
from chronosops.web.deps import ServicesDep
from chronosops.web.pages.rendering import render
from chronosops.web.pages.session import PageRoute, ViewerPage, is_htmx

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 50
RECENT = 8
RESULTS_TARGET = "results"
FILTERS_FORM = "filters"


@dataclass(frozen=True)
class ListQuery:
    """The list's filters as the page's query string holds them."""

    severity: str = ""
    status: str = ""
    source: str = ""
    service: str = ""
    q: str = ""
    cursor: str = ""
    lifecycle: str = ""
    assignee: str = ""
    problems: list[FieldError] = field(default_factory=list)

    @classmethod
    def parse(
        cls,
        *,
        severity: str,
        status: str,
        source: str,
        service: str,
        q: str,
        cursor: str,
        lifecycle: str = "",
        assignee: str = "",
    ) -> ListQuery:
        problems: list[FieldError] = []

        def pick(name: str, value: str, allowed: tuple[str, ...]) -> str:
            if value and value not in allowed:
                problems.append(
                    FieldError(name, f"unknown value {value!r}; the filter was not applied")
                )
                return ""
            return value

        return cls(
            severity=pick("severity", severity, SEVERITIES),
            status=pick("status", status, INCIDENT_STATUSES),
            source=pick("source", source, SOURCE_TYPES),
            service=service.strip(),
            q=q.strip(),
            cursor=cursor,
            lifecycle=pick("lifecycle", lifecycle, LIFECYCLE_STATES),
            assignee=assignee.strip(),
            problems=problems,
        )

    @property
    def filters(self) -> IncidentFilter:
        return IncidentFilter(
            severity=self.severity or None,
            status=self.status or None,
            source_type=self.source or None,
            service=self.service or None,
            title_contains=self.q or None,
            lifecycle=self.lifecycle or None,
            assignee=self.assignee if self.assignee not in ("", "-") else None,
            unassigned=self.assignee == "-",
        )

    @property
    def is_filtered(self) -> bool:
        return any(
            (self.severity, self.status, self.source, self.service, self.q, self.lifecycle)
        ) or bool(self.assignee)

    def query_string(self, *, cursor: str | None = None) -> str:
        values = {
            "severity": self.severity,
            "status": self.status,
            "source": self.source,
            "service": self.service,
            "q": self.q,
            "lifecycle": self.lifecycle,
            "assignee": self.assignee,
            "cursor": cursor if cursor is not None else self.cursor,
        }
        return urlencode({k: v for k, v in values.items() if v})


Text = Annotated[str, Query(max_length=256)]


@router.get("/incidents", summary="Incident list")
async def incident_list(
    request: Request,
    services: ServicesDep,
    user: ViewerPage,
    severity: Text = "",
    status: Text = "",
    source: Text = "",
    service: Text = "",
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str, Query(max_length=512)] = "",
    lifecycle: Text = "",
    assignee: Text = "",
) -> Response:
    query = ListQuery.parse(
        severity=severity,
        status=status,
        source=source,
        service=service,
        q=q,
        cursor=cursor,
        lifecycle=lifecycle,
        assignee=assignee,
    )
    async with services.database.unit_of_work(write=False) as session:
        page = await services.incidents.list(
            session, query.filters, cursor=query.cursor or None, limit=PAGE_SIZE
        )
    context = {
        "query": query,
        "page": page,
        "next_query": query.query_string(cursor=page.next_cursor) if page.next_cursor else None,
        "first_query": replace(query, cursor="").query_string(),
        "refresh_seconds": services.settings.console.refresh_seconds,
        "severities": SEVERITIES,
        "statuses": INCIDENT_STATUSES,
        "lifecycles": LIFECYCLE_STATES,
        "sources": SOURCE_TYPES,
    }
    if is_htmx(request) and request.headers.get("hx-target") == RESULTS_TARGET:
        headers: dict[str, str] = {}
        if request.headers.get("hx-trigger") == FILTERS_FORM:
            # The address bar shows only the filters in use, not every empty field of the
            # form; the auto-refresh of the results leaves history alone.
            canonical = query.query_string()
            headers["HX-Push-Url"] = "/incidents" + (f"?{canonical}" if canonical else "")
        return render(request, "incidents/_results.html", context, user=user, headers=headers)
    return render(request, "incidents/list.html", context, user=user)


@router.get("/", summary="Console home")
async def home(request: Request, services: ServicesDep, user: ViewerPage) -> Response:
    async with services.database.unit_of_work(write=False) as session:
        recent = await services.incidents.list(session, IncidentFilter(), cursor=None, limit=RECENT)
        failed = await services.incidents.list(
            session, IncidentFilter(status="failed"), cursor=None, limit=RECENT
        )
        open_critical = await services.incidents.list(
            session,
            IncidentFilter(severity="critical", resolved=False),
            cursor=None,
            limit=RECENT,
        )
    return render(
        request,
        "home/index.html",
        {"recent": recent.items, "failed": failed.items, "open_critical": open_critical.items},
        user=user,
    )
