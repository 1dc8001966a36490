"""Background jobs: the failed ones listed for an admin, and retried on request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from chronosops.jobs import JobRead, JobState
from chronosops.web.deps import Admin, ReadSession, ServicesDep

router = APIRouter(tags=["jobs"])


def job_json(job: JobRead) -> dict[str, Any]:
    return job.model_dump(mode="json", by_alias=True)


@router.get("/v1/jobs", summary="Background jobs, newest first (admin)")
async def list_jobs(
    _principal: Admin,
    services: ServicesDep,
    session: ReadSession,
    state: Annotated[JobState | None, Query()] = None,
    incident_id: Annotated[str | None, Query(alias="incidentId", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    jobs = await services.jobs.list(session, state=state, incident_id=incident_id, limit=limit)
    return {
        "items": [job_json(job) for job in jobs],
        "counts": await services.jobs.counts(session),
    }


@router.get("/v1/jobs/{job_id}", summary="One background job (admin)")
async def get_job(
    job_id: str, _principal: Admin, services: ServicesDep, session: ReadSession
) -> dict[str, Any]:
    return job_json(await services.jobs.get(session, job_id))


@router.post(
    "/v1/jobs/{job_id}/retry",
    summary="Queue a failed job again, its attempts counted afresh (admin)",
    status_code=202,
    responses={404: {"description": "Unknown job"}, 409: {"description": "The job is not failed"}},
)
async def retry_job(job_id: str, _principal: Admin, services: ServicesDep) -> dict[str, Any]:
    async with services.database.unit_of_work() as session:
        job = await services.jobs.retry(session, job_id)
    return job_json(job)
