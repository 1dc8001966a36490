"""The jobs page: admins see failed jobs with their error and run one again."""

from __future__ import annotations

import httpx

from chronosops.analysis import AnalysisInput
from chronosops.auth import Role
from chronosops.bootstrap import Services
from chronosops.reasoning import BuiltinReasoner, Reasoning
from tests.fixtures.console import SignIn
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"


class BrokenReasoner:
    name = "broken"

    async def reason(self, request: AnalysisInput) -> Reasoning:
        raise RuntimeError("reasoner exploded")


async def failed_job(client: httpx.AsyncClient, services: Services, headers: dict[str, str]) -> str:
    services.reasoning.reasoner = BrokenReasoner()
    services.jobs.policy = type(services.jobs.policy)(max_attempts=1)
    await client.post(INGEST, json=request(), headers=headers)
    async with services.database.unit_of_work(write=False) as session:
        (job,) = await services.jobs.list(session, state="failed")
    services.reasoning.reasoner = BuiltinReasoner()
    return job.id


async def test_admins_see_failed_jobs_with_their_error(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str], sign_in: SignIn
) -> None:
    job_id = await failed_job(client, services, analyst)
    await sign_in(Role.ADMIN)
    page = await client.get("/jobs")
    assert (page.status_code, job_id in page.text, "reasoner exploded" in page.text) == (
        200,
        True,
        True,
    )


async def test_retrying_from_the_page_queues_the_job_again(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str], sign_in: SignIn
) -> None:
    job_id = await failed_job(client, services, analyst)
    csrf = await sign_in(Role.ADMIN)
    await client.post(f"/jobs/{job_id}/retry", data={"csrf_token": csrf})
    async with services.database.unit_of_work(write=False) as session:
        assert (await services.jobs.get(session, job_id)).state == "queued"


async def test_analysts_cannot_open_the_jobs_page(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(Role.ANALYST)
    assert (await client.get("/jobs")).status_code == 403
