"""Ingest throughput and latency: the guide's Example 2 at concurrency 16, beside the floor.

Starts its own server (a fresh SQLite database unless --database-url says otherwise), warms it
up, then drives `POST /v1/incidents/ingest` and the parse-only floor route with the same client
and prints a table. Run with `make bench` or `python -m benchmarks.ingest --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from chronosops.auth import LocalTokenIssuer, Role
from chronosops.config import AuthSettings
from chronosops.core.clock import SystemClock
from chronosops.core.ids import Cuid2Factory

EXAMPLE_2 = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "guide"
    / "example_2_with_evidence.json"
)


@dataclass
class Result:
    target: str
    requests: int
    concurrency: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    server_rss_mib: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def processes_of(pid: int) -> list[int]:
    """``pid`` and its children: uvicorn's supervisor and its worker processes."""
    found = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def resident_mib(pid: int, field: str = "VmRSS") -> float | None:
    """Resident memory (or, with ``VmHWM``, peaks) of the server's processes, in MiB, summed;
    None off Linux."""
    total = 0
    for process in processes_of(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            if process == pid:
                return None
            continue
        for line in status.splitlines():
            if line.startswith(f"{field}:"):
                total += int(line.split()[1])
    return total / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token_for(secret: str, role: Role = Role.ANALYST) -> str:
    settings = AuthSettings(
        jwt_secret=secret,
        jwt_issuer="chronosops",
        jwt_audience="chronosops",
        oidc_issuer=None,
        oidc_audience=None,
        oidc_jwks_url=None,
        oidc_jwks_cache_seconds=0,
        leeway_seconds=30,
    )
    issuer = LocalTokenIssuer(settings, clock=SystemClock(), ids=Cuid2Factory())
    return issuer.mint(subject="bench", roles=[role], ttl=timedelta(hours=1))


async def drive(
    client: httpx.AsyncClient,
    path: str,
    bodies: list[dict[str, Any]],
    concurrency: int,
    target: str,
) -> Result:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(path, content=json.dumps(body))
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code >= 300:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(
        target, len(bodies), concurrency, time.perf_counter() - started, latencies, errors
    )


def bodies(count: int, prefix: str) -> list[dict[str, Any]]:
    template = json.loads(EXAMPLE_2.read_text())
    made = []
    for index in range(count):
        body = copy.deepcopy(template)
        body["sourceRef"] = f"{prefix}-{index}"  # every request a new incident: the full pipeline
        made.append(body)
    return made


async def run(
    url: str, token: str, requests: int, concurrency: int, server_pid: int
) -> list[Result]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=60
    ) as client:
        run_id = secrets.token_hex(4)
        await drive(
            client, "/bench/floor", bodies(200, f"warm-floor-{run_id}"), concurrency, "warm-up"
        )
        await drive(
            client, "/v1/incidents/ingest", bodies(200, f"warm-{run_id}"), concurrency, "warm-up"
        )
        floor = await drive(
            client,
            "/bench/floor",
            bodies(requests, f"floor-{run_id}"),
            concurrency,
            "floor: parse the body only",
        )
        floor.server_rss_mib = resident_mib(server_pid)
        ingest = await drive(
            client,
            "/v1/incidents/ingest",
            bodies(requests, f"ingest-{run_id}"),
            concurrency,
            "POST /v1/incidents/ingest (Example 2)",
        )
        ingest.server_rss_mib = resident_mib(server_pid)
    return [floor, ingest]


def table(results: list[Result], database: str, workers: int) -> str:
    lines = [
        f"ingest benchmark — {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, database {database}, "
        f"{workers} server process{'es' if workers != 1 else ''}",
        "",
        "| target | requests | concurrency | req/s | p50 ms | p99 ms | errors | server RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rss = "—" if r.server_rss_mib is None else f"{r.server_rss_mib:.0f}"
        lines.append(
            f"| {r.target} | {r.requests} | {r.concurrency} | {r.rate:,.0f} | "
            f"{r.quantile(0.5):.1f} | {r.quantile(0.99):.1f} | {r.errors} | {rss} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per target (default 2000)"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp directory")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (more than one: PostgreSQL)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        database_url = args.database_url or f"sqlite:///{scratch}/bench.db"
        secret = secrets.token_hex(32)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_server",
                "--port",
                str(port),
                "--database-url",
                database_url,
                "--secret",
                secret,
                "--workers",
                str(args.workers),
            ],
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/v1/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("benchmark server did not start")
                time.sleep(0.2)
            results = asyncio.run(
                run(url, token_for(secret), args.requests, args.concurrency, server.pid)
            )
            peak = resident_mib(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=10)
    database = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite (WAL)"
    print(table(results, database, args.workers))
    overhead = statistics.median(results[1].latencies_ms) - statistics.median(
        results[0].latencies_ms
    )
    print(f"\nmedian cost of the pipeline over the floor: {overhead:.1f} ms per request")
    if peak is not None:
        print(
            f"server peak resident memory: {peak:.0f} MiB, all processes "
            "(RSS column: after each target)"
        )


if __name__ == "__main__":
    main()
