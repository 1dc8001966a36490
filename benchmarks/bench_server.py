"""The ChronosOps app plus a "framework floor" route, served for the ingest benchmark.

The floor route only reads and parses the JSON body, so comparing it with the real ingest
route in the same run shows what ChronosOps adds on top of FastAPI + uvicorn. With
``--workers N`` uvicorn runs N processes on the port, as ``chronosops serve --workers N`` does.
It serves on the event loop and HTTP parser `chronosops serve` uses (``--loop``/``--http``
choose others, to measure the difference).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from typing import Any

import uvicorn
from fastapi import FastAPI, Request

from chronosops import migrations
from chronosops.bootstrap import build_services
from chronosops.cli.server_stack import server_stack
from chronosops.config import Settings
from chronosops.core.heap import settle_long_running_heap
from chronosops.core.log_output import configure_logging
from chronosops.web.app import create_app


async def floor(request: Request) -> dict[str, Any]:
    body = json.loads(await request.body())
    return {"ok": isinstance(body, dict)}


def bench_app() -> FastAPI:
    """One server process's app; the settings come from the environment `main` sets."""
    settings = Settings(
        database_url=os.environ["BENCH_DATABASE_URL"],
        jwt_secret=os.environ["BENCH_SECRET"],
        rate_limit_enabled=False,
        log_level="WARNING",
        # The webhook benchmark (a 1,000-alert Alertmanager delivery) signs with the same secret.
        webhook_alertmanager_token=os.environ["BENCH_SECRET"],
        # "worker": this process runs no jobs, a `chronosops worker` beside it does.
        job_runner=os.environ.get("BENCH_JOB_RUNNER", "auto"),
    )
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(build_services(settings), owns_services=True)
    app.post("/bench/floor")(floor)
    # As `chronosops serve` does: without it, each full collection walked every start-up object
    # again (170-250 ms each, a few every 10 s under load) and set the benchmark's p99.
    settle_long_running_heap()
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--secret", default=secrets.token_hex(32))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--loop", default=server_stack().loop)
    parser.add_argument("--http", default=server_stack().http)
    parser.add_argument(
        "--job-runner",
        default="auto",
        choices=["auto", "worker"],
        help="worker: leave every job to a `chronosops worker` process (also on SQLite)",
    )
    args = parser.parse_args()
    migrations.upgrade(args.database_url)
    os.environ["BENCH_DATABASE_URL"] = args.database_url
    os.environ["BENCH_SECRET"] = args.secret
    os.environ["BENCH_JOB_RUNNER"] = args.job_runner
    uvicorn.run(
        "benchmarks.bench_server:bench_app",
        factory=True,
        workers=args.workers,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop=args.loop,
        http=args.http,
    )


if __name__ == "__main__":
    main()
