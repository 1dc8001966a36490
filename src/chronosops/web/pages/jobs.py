"""Jobs (admins): background work by state, failed jobs first, each failed one retried on request.

The same `JobService.list` and `JobService.retry` as ``GET /v1/jobs`` and
``POST /v1/jobs/{id}/retry``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from chronosops.jobs import JobState
from chronosops.web.deps import ServicesDep
from chronosops.web.pages.rendering import PageUser, render
from chronosops.web.pages.session import AdminPage, CheckedForm, PageRoute

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 100
STATES: tuple[JobState, ...] = ("failed", "queued", "running", "succeeded")


async def _page(
    request: Request,
    services: ServicesDep,
    user: PageUser,
    *,
    state: JobState,
    retried: str | None = None,
) -> Response:
    async with services.database.unit_of_work(write=False) as session:
        jobs = await services.jobs.list(session, state=state, limit=PAGE_SIZE)
        counts = await services.jobs.counts(session)
    context = {"jobs": jobs, "state": state, "states": STATES, "counts": counts, "retried": retried}
    return render(request, "jobs/list.html", context, user=user)


@router.get("/jobs", summary="Background jobs")
async def jobs(
    request: Request,
    services: ServicesDep,
    user: AdminPage,
    state: Annotated[JobState, Query()] = "failed",
) -> Response:
    return await _page(request, services, user, state=state)


@router.post("/jobs/{job_id}/retry", summary="Run a failed job again")
async def retry(
    job_id: str, request: Request, services: ServicesDep, user: AdminPage, _form: CheckedForm
) -> Response:
    async with services.database.unit_of_work() as session:
        await services.jobs.retry(session, job_id)
    return await _page(request, services, user, state="failed", retried=job_id)
