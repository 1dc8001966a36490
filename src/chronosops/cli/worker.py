"""``chronosops worker``: run the background jobs (collection, analysis, re-analysis)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.console import Console

from chronosops.cli.server_stack import event_loop_factory
from chronosops.cli.settings import require_runnable, resolve_migrated, services_for
from chronosops.core.heap import settle_long_running_heap

if TYPE_CHECKING:
    from chronosops.bootstrap import Services

out = Console(stderr=True)


def worker() -> None:
    """Run jobs until stopped: a Procrastinate worker on PostgreSQL, the jobs table on SQLite."""
    settings = resolve_migrated()
    require_runnable(settings)
    services = services_for(settings)
    kind = "the jobs table (SQLite)" if settings.is_sqlite else "Procrastinate (PostgreSQL)"
    out.print(
        f"[bold green]ChronosOps worker[/bold green] {services.jobs.owner}: {kind}, "
        f"{settings.job_concurrency} at once"
    )
    # The loop `serve` runs on: a job's many round trips each cost a wake-up of it.
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(_run(services))


async def _run(services: Services) -> None:
    from chronosops.worker import run_worker  # the job runners: loaded here, not at start-up

    settle_long_running_heap()
    try:
        await run_worker(services)
    finally:
        await services.aclose()
