"""An ingest's CPU inside one process: the guide's Example 2 posted straight into the ASGI app.

No server, no sockets, no load generator: 16 coroutines post Example 2 (a new `sourceRef` per
request) into the app on uvloop, and the process's CPU time over the measured requests is
divided by their number. What uvicorn and the sockets add (~0.07 ms a request) is left out, and
so is the load the machine's other work puts on a server under wrk, so on a shared machine this
reading moves less than a wrk row's. Compare two trees by running each, alternated, several
times (`--rounds`), and read the medians. `--profile` writes a cProfile of the measured
requests (cProfile charges builtins heavily; a sampling profiler such as py-spy reads the same
process more faithfully: ``py-spy record --format raw -- python -m benchmarks.ingest_cpu``).

    python -m benchmarks.ingest_cpu --mode sync --requests 2000 --rounds 3
    python -m benchmarks.ingest_cpu --mode async --job-runner worker   # the API's share alone
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvloop

from benchmarks.ingest import EXAMPLE_2, token_for
from chronosops import migrations
from chronosops.bootstrap import build_services
from chronosops.config import Settings
from chronosops.core.heap import settle_long_running_heap
from chronosops.core.log_output import configure_logging
from chronosops.web.app import create_app

Message = MutableMapping[str, Any]
CONCURRENCY = 16
WARM_UP = 320


class InProcess:
    """The app with its lifespan started, and a way to post one ingest into it."""

    def __init__(self, app: Any, token: str, *, respond_async: bool) -> None:
        self.app = app
        self.template = json.loads(EXAMPLE_2.read_text())
        self.run_id = secrets.token_hex(3)
        self.headers = [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
        ]
        if respond_async:
            self.headers.append((b"prefer", b"respond-async"))
        self._lifespan: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._lifespan_task = asyncio.create_task(
            self.app(scope, self._lifespan.get, self._lifespan_out.put)
        )
        await self._lifespan.put({"type": "lifespan.startup"})
        started = await self._lifespan_out.get()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {started}")

    async def stop(self) -> None:
        await self._lifespan.put({"type": "lifespan.shutdown"})
        await self._lifespan_out.get()

    async def post(self, index: int) -> int:
        body = {**self.template, "sourceRef": f"cpu-{self.run_id}-{index}"}
        raw = json.dumps(body).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/incidents/ingest",
            "raw_path": b"/v1/incidents/ingest",
            "query_string": b"",
            "root_path": "",
            "headers": [*self.headers, (b"content-length", str(len(raw)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        delivered = False
        status: list[int] = []

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await asyncio.Event().wait()  # the client never hangs up
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await self.app(scope, receive, send)
        return status[0]

    async def burst(self, first: int, count: int) -> Counter[int]:
        """``count`` ingests, ``CONCURRENCY`` at a time; how many answered each status."""
        indices = iter(range(first, first + count))
        statuses: Counter[int] = Counter()

        async def client() -> None:
            for index in indices:
                statuses[await self.post(index)] += 1

        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        return statuses


async def measure(
    target: InProcess, requests: int, rounds: int, profile: Path | None
) -> list[float]:
    await target.start()
    settle_long_running_heap()  # as `chronosops serve` does after start-up
    warm = await target.burst(0, WARM_UP)
    print(f"warm-up: {dict(warm)}", file=sys.stderr)
    readings = []
    for round_ in range(rounds):
        profiler = cProfile.Profile() if profile is not None and round_ == 0 else None
        first = (round_ + 1) * 1_000_000
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        statuses = await target.burst(first, requests)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        readings.append(cpu * 1000 / requests)
        print(
            f"round {round_ + 1}: {readings[-1]:.3f} ms of CPU a request, "
            f"{wall * 1000 / requests:.3f} ms of wall time, answers {dict(statuses)}"
        )
    await target.stop()
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--mode", choices=["sync", "async"], default="sync")
    parser.add_argument("--requests", type=int, default=2000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", help="default: a fresh SQLite database in a temporary directory"
    )
    parser.add_argument(
        "--job-runner",
        choices=["auto", "worker"],
        default="auto",
        help="worker: this process runs no jobs (the API's share of a respond-async ingest)",
    )
    parser.add_argument("--profile", type=Path, help="a cProfile of the first round, to FILE")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='ingest-cpu-')}/bench.db"
    migrations.upgrade(url)
    secret = secrets.token_hex(32)
    settings = Settings(
        database_url=url,
        jwt_secret=secret,
        rate_limit_enabled=False,
        log_level="WARNING",
        job_runner=args.job_runner,
    )
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(build_services(settings), owns_services=True)
    target = InProcess(app, token_for(secret), respond_async=args.mode == "async")
    run: Callable[[], Awaitable[list[float]]] = lambda: measure(  # noqa: E731
        target, args.requests, args.rounds, args.profile
    )
    readings = uvloop.run(run())
    print(f"{args.mode}: median {statistics.median(readings):.3f} ms of CPU a request")


if __name__ == "__main__":
    main()
