"""A worker's CPU a job, beside a synchronous ingest's, in one process: no server, no sockets.

Each round stores N incidents of the guide's Example 2 (a new `sourceRef` each) as a
`Prefer: respond-async` ingest stores them (`mode="background"`: the incident and its analyze
job, nothing analysed), then lets the worker drain them the way `chronosops worker` runs them
(on SQLite the jobs table's loop, `JobRunner.run_due`; on PostgreSQL Procrastinate's worker,
`run_worker`, fetching and finishing each job), and divides the process's CPU time over the
drain by N. For comparison the same round then times N synchronous ingests (`mode="auto"`,
the analysis in the call) of the same body. Compare two trees by running each, alternated.

    python -m benchmarks.job_cpu --jobs 300 --rounds 3
    python -m benchmarks.job_cpu --database-url postgresql+psycopg://postgres@127.0.0.1:5432/db
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from contextlib import suppress
from pathlib import Path

import uvloop
from sqlalchemy import text

from benchmarks.ingest import EXAMPLE_2
from chronosops import migrations
from chronosops.auth import SYSTEM_PRINCIPAL
from chronosops.bootstrap import Services, build_services
from chronosops.config import Settings
from chronosops.core.heap import settle_long_running_heap
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.core.log_output import configure_logging
from chronosops.investigation.ingest import AnalysisMode
from chronosops.worker import run_worker

CONCURRENCY = 16
WARM_UP = 40
# Instructions counted over the drains only (valgrind's callgrind, started not counting).
CALLGRIND_INSTRUMENT = False
_LEFT = text("SELECT count(*) FROM job WHERE state IN ('queued', 'running')")


async def ingest(services: Services, prefix: str, count: int, mode: AnalysisMode) -> None:
    template = json.loads(EXAMPLE_2.read_text())
    indices = iter(range(count))

    async def client() -> None:
        for index in indices:
            body = {**template, "sourceRef": f"{prefix}-{index}"}
            request = IngestIncidentRequest.model_validate(body)
            await services.pipeline.ingest(request, principal=SYSTEM_PRINCIPAL, mode=mode)

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))


async def left(services: Services) -> int:
    async with services.database.unit_of_work(write=False) as session:
        return int(await session.scalar(_LEFT) or 0)


async def drain(services: Services) -> None:
    """Until no job is left, as `chronosops worker` runs them."""
    if services.database.is_sqlite:
        while await services.runner.run_due():
            pass
        return
    worker = asyncio.create_task(run_worker(services))
    try:
        # Coarse: each look is a read of this process's own, counted with the jobs.
        while True:
            if not await left(services):
                break
            await asyncio.sleep(0.5)
    finally:
        worker.cancel()
        with suppress(asyncio.CancelledError):
            await worker


def callgrind(on: bool) -> None:
    """Under ``valgrind --tool=callgrind --instr-atstart=no``: count instructions from here
    (``on``) or stop counting (`CALLGRIND_INSTRUMENT`)."""
    if CALLGRIND_INSTRUMENT:
        subprocess.run(
            ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
            check=True,
            capture_output=True,
        )


async def timed(step: Awaitable[None], count: int, *, drain: bool) -> tuple[float, float]:
    if drain:
        callgrind(on=True)
    cpu, wall = time.process_time(), time.perf_counter()
    await step
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if drain:
        callgrind(on=False)
    return cpu * 1000 / count, wall * 1000 / count


async def measure(
    services: Services, jobs: int, rounds: int, profile: Path | None
) -> tuple[list[float], list[float]]:
    settle_long_running_heap()
    run_id = secrets.token_hex(3)
    await ingest(services, f"warm-{run_id}", WARM_UP, "background")
    await drain(services)
    await ingest(services, f"warm-sync-{run_id}", WARM_UP, "auto")
    per_job, per_sync = [], []
    for round_ in range(rounds):
        await ingest(services, f"job-{run_id}-{round_}", jobs, "background")
        # The main thread's CPU, not wall time: a loaded machine's waits would count otherwise.
        profiler = (
            cProfile.Profile(time.thread_time) if profile is not None and round_ == 0 else None
        )
        if profiler is not None:
            profiler.enable()
        cpu, wall = await timed(drain(services), jobs, drain=True)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
        per_job.append(cpu)
        sync_cpu, _ = await timed(
            ingest(services, f"sync-{run_id}-{round_}", jobs, "auto"), jobs, drain=False
        )
        per_sync.append(sync_cpu)
        print(
            f"round {round_ + 1}: a job {cpu:.3f} ms of CPU ({wall:.3f} ms wall), "
            f"a sync ingest {sync_cpu:.3f} ms of CPU",
            flush=True,
        )
    return per_job, per_sync


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=300, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="the worker's")
    parser.add_argument(
        "--database-url", help="default: a fresh SQLite database in a temporary directory"
    )
    parser.add_argument("--profile", type=Path, help="a cProfile of the first drain, to FILE")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="under `valgrind --tool=callgrind --instr-atstart=no`: count the drains only",
    )
    args = parser.parse_args()
    global CALLGRIND_INSTRUMENT
    CALLGRIND_INSTRUMENT = args.callgrind
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='job-cpu-')}/bench.db"
    migrations.upgrade(url)
    settings = Settings(
        database_url=url,
        jwt_secret=secrets.token_hex(32),
        rate_limit_enabled=False,
        log_level="WARNING",
        job_runner="worker",
        job_concurrency=args.concurrency,
        job_poll_seconds=0.05,
    )
    configure_logging(settings.log_level, settings.log_format)
    services = build_services(settings)

    async def run() -> tuple[list[float], list[float]]:
        try:
            return await measure(services, args.jobs, args.rounds, args.profile)
        finally:
            await services.aclose()

    per_job, per_sync = uvloop.run(run())
    job, sync = statistics.median(per_job), statistics.median(per_sync)
    print(
        f"median: a job {job:.3f} ms of CPU, a sync ingest {sync:.3f} ms ({job / sync:.2f}×)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
