"""Procrastinate around the jobs table, and the worker loop for either database.

A Procrastinate job carries only the id of a row in ``job``; the row says what to do and is
claimed before anything runs (`JobRunner.run`). Procrastinate brings the wake-up (LISTEN/NOTIFY),
one job at a time per incident (its ``lock``, set when the API defers) and worker heartbeats; the
row brings exactly-once storage and the retry policy shared with SQLite.

Two sweeps keep a crash from leaving work behind: rows whose runner stopped heartbeating are
queued again (and a Procrastinate job deferred for each), and Procrastinate jobs left ``doing``
by a dead worker are retried, which frees their incident's lock.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress
from typing import Any

import procrastinate
import psycopg
import psycopg_pool
import structlog
from procrastinate import PsycopgConnector, RetryStrategy

from chronosops.bootstrap import Services
from chronosops.investigation import JobBusyError
from chronosops.jobs import PROCRASTINATE_QUEUE, PROCRASTINATE_TASK
from chronosops.storage.postgres import socket_says_gone

log = structlog.get_logger(__name__)

PROCRASTINATE_SCHEMA = "procrastinate"


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq takes it (``postgresql://``, no ``+driver``)."""
    return "postgresql://" + url.split("://", 1)[1]


async def check_without_round_trip(connection: psycopg.AsyncConnection[Any]) -> None:
    """The pool's check of a connection before it is lent: its socket, not a query.

    Procrastinate's pool would send an empty query (one round trip) before each of its
    statements, two a job (fetch, finish); an idle connection that the server dropped has
    something to read on its socket (the API's pool checks the same way)."""
    if socket_says_gone(connection):
        # Closed, so that the pool replaces it: a connection handed back still "OK" to libpq
        # (it has not read the server's goodbye) would be lent, and fail the check, again.
        await connection.close()
        raise psycopg.OperationalError("the server closed this pooled connection")


async def each_statement_its_own_transaction(connection: psycopg.AsyncConnection[Any]) -> None:
    """A pooled connection in autocommit: Procrastinate lends a connection for one statement
    (a call of one of its functions: fetch a job, finish it, its heartbeat) and gives it back,
    which otherwise costs a ``BEGIN`` and a ``COMMIT``, a round trip each, around every one."""
    await connection.set_autocommit(True)


def checked_by_socket(**options: Any) -> psycopg_pool.AsyncConnectionPool[Any]:
    """Procrastinate's pool, with `check_without_round_trip` in place of its own check and
    its connections in autocommit (`each_statement_its_own_transaction`)."""
    return psycopg_pool.AsyncConnectionPool(
        **{
            **options,
            "check": check_without_round_trip,
            "configure": each_statement_its_own_transaction,
        }
    )


def build_queue(services: Services) -> procrastinate.App:
    """The Procrastinate app: one task, which runs a row of the jobs table by id."""
    connector = PsycopgConnector(
        conninfo=libpq_url(services.settings.database_url),
        kwargs={"options": f"-c search_path={PROCRASTINATE_SCHEMA}"},
        min_size=1,
        max_size=max(2, services.settings.job_concurrency + 1),
        pool_factory=checked_by_socket,
    )
    app = procrastinate.App(connector=connector)

    @app.task(
        name=PROCRASTINATE_TASK,
        queue=PROCRASTINATE_QUEUE,
        # Only "someone else is running it" (for up to 10 minutes; a dead holder's job is
        # re-deferred by the sweep): the row's own policy retries failed work.
        retry=RetryStrategy(max_attempts=300, wait=2, retry_exceptions={JobBusyError}),
    )
    async def run_job(job_id: str, incident_id: str | None = None) -> None:
        # The incident's id (in the arguments of jobs deferred since it was added) lets the
        # claim carry the job's reads.
        await services.runner.run(job_id, incident_id=incident_id)

    return app


async def _sweep(services: Services, app: procrastinate.App, stop: asyncio.Event) -> None:
    interval = max(1.0, services.settings.job_stale_seconds / 3)
    while not stop.is_set():
        try:
            async with services.database.unit_of_work() as session:
                taken = await services.jobs.requeue_stale(session)
            if taken:
                log.warning("jobs.taken_over", jobs=list(taken))
            for stalled in await app.job_manager.get_stalled_jobs():
                log.warning("jobs.stalled_retried", procrastinate_job=stalled.id)
                await app.job_manager.retry_job(stalled)
        except Exception:  # a database hiccup: look again next round
            log.exception("jobs.sweep_failed")
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def run_worker(services: Services) -> None:
    """Run jobs until SIGINT/SIGTERM: Procrastinate on PostgreSQL, the jobs table on SQLite."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if services.database.is_sqlite:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await services.runner.loop(stop)
        return
    app = build_queue(services)
    async with app.open_async():
        sweeper = asyncio.create_task(_sweep(services, app, stop))
        try:
            await app.run_worker_async(
                queues=[PROCRASTINATE_QUEUE],
                concurrency=services.settings.job_concurrency,
                name=services.jobs.owner,
                delete_jobs="successful",
                install_signal_handlers=True,
                stalled_worker_timeout=services.settings.job_stale_seconds,
                update_heartbeat_interval=max(1.0, services.settings.job_stale_seconds / 3),
            )
        finally:
            stop.set()
            await sweeper
