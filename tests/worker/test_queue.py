"""`chronosops worker` on PostgreSQL: a real Procrastinate worker runs the job the ingest
deferred in its own transaction."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.worker.queue import build_queue, check_without_round_trip, libpq_url
from tests.fixtures.database import on_postgres
from tests.fixtures.guide import request
from tests.fixtures.jobs import worker_running

pytestmark = pytest.mark.skipif(not on_postgres(), reason="Procrastinate needs PostgreSQL")


async def status_of(services: Services, incident_id: str) -> str:
    async with services.database.unit_of_work(write=False) as session:
        return (await services.incidents.get(session, incident_id)).status


async def test_a_worker_analyses_an_incident_accepted_in_the_background(
    services: Services,
) -> None:
    outcome = await services.pipeline.ingest(
        IngestIncidentRequest.model_validate(request()),
        principal=SYSTEM_PRINCIPAL,
        mode="background",
    )
    async with worker_running(services):
        for _ in range(200):
            if await status_of(services, outcome.response.incident_id) == "analyzed":
                break
            await asyncio.sleep(0.05)
    assert await status_of(services, outcome.response.incident_id) == "analyzed"


def test_the_queue_connects_with_libpq_urls() -> None:
    assert libpq_url("postgresql+psycopg://u@h:5432/d") == "postgresql://u@h:5432/d"


async def test_the_queue_lends_its_connections_without_a_query_first(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[object] = []
    lend = psycopg.AsyncConnection.execute

    async def counted(self: psycopg.AsyncConnection[Any], query: Any, *args: Any, **kw: Any) -> Any:
        checks.append(query)
        return await lend(self, query, *args, **kw)

    app = build_queue(services)
    async with app.open_async():
        monkeypatch.setattr(psycopg.AsyncConnection, "execute", counted)
        for _ in range(3):
            await app.job_manager.list_jobs_async()
    # Procrastinate's own pool check sends an empty query before every statement.
    assert checks == []


async def test_the_queues_statements_go_out_without_a_transaction_around_each(
    services: Services,
) -> None:
    app = build_queue(services)
    async with app.open_async():
        pool = app.connector.pool  # type: ignore[attr-defined]
        async with pool.connection() as connection:
            await connection.execute("SELECT 1")
            # Inside a transaction psycopg opened (a BEGIN before the first statement, a
            # COMMIT when the connection goes back: a round trip each), a later statement
            # would start after its transaction did.
            cursor = await connection.execute("SELECT now() = statement_timestamp()")
            alone = await cursor.fetchone()
    assert alone == (True,)


async def test_a_connection_the_server_dropped_is_replaced_before_the_queue_uses_it(
    services: Services,
) -> None:
    app = build_queue(services)
    async with app.open_async():
        pool = app.connector.pool  # type: ignore[attr-defined]
        async with pool.connection() as connection:
            dropped = connection.info.backend_pid
        async with await psycopg.AsyncConnection.connect(
            libpq_url(services.settings.database_url), autocommit=True
        ) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", [dropped])
        await asyncio.sleep(0.2)  # the backend's goodbye reaches the socket
        assert await app.job_manager.list_jobs_async() is not None
        async with pool.connection() as connection:
            assert connection.info.backend_pid != dropped


async def test_a_live_connection_passes_the_socket_check_and_a_closed_one_fails_it(
    services: Services,
) -> None:
    connection = await psycopg.AsyncConnection.connect(libpq_url(services.settings.database_url))
    await check_without_round_trip(connection)
    await connection.close()
    with pytest.raises(psycopg.OperationalError):
        await check_without_round_trip(connection)


async def test_the_job_deferred_with_an_incident_carries_the_incidents_id_for_its_claim(
    services: Services,
) -> None:
    outcome = await services.pipeline.ingest(
        IngestIncidentRequest.model_validate(request()),
        principal=SYSTEM_PRINCIPAL,
        mode="background",
    )
    async with services.database.unit_of_work(write=False) as session:
        args = await session.scalar(
            text("SELECT args FROM procrastinate.procrastinate_jobs WHERE args->>'job_id' = :id"),
            {"id": outcome.queued_job},
        )
    assert args == {"job_id": outcome.queued_job, "incident_id": outcome.response.incident_id}
