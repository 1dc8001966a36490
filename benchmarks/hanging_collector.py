"""How fast ingests, vendor webhooks and re-analyses answer while a collector hangs.

The server (`benchmarks.bench_server`) is configured with one Prometheus collector whose
endpoint accepts connections and never answers; the collector gives up after 10 s. Collection
runs in a job, so every answer should come long before that: the issue's target is < 1 s.
Requests go one at a time (answer time, not throughput), the guide's Example 1 (no evidence:
collection needed), then Alertmanager deliveries and re-analyses.

    python -m benchmarks.hanging_collector [--requests 50] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

# The test suite's hung backend: the same behaviour the hanging-collector test checks.
from tests.collectors.local_servers import silent_server

from benchmarks.ingest import token_for
from benchmarks.wrk_ingest import ALERTMANAGER, ROOT, free_port, start, wait_ready

EXAMPLE_1 = ROOT / "tests" / "fixtures" / "guide" / "example_1_simple.json"
COLLECTOR_SECONDS = 10


def timed(send: Callable[[], httpx.Response], n: int) -> tuple[list[float], dict[int, int]]:
    """Answer times in ms of ``n`` requests sent one after another, and their status codes."""
    times: list[float] = []
    codes: dict[int, int] = {}
    for _ in range(n):
        started = time.perf_counter()
        response = send()
        times.append((time.perf_counter() - started) * 1000)
        codes[response.status_code] = codes.get(response.status_code, 0) + 1
    return times, codes


def row(label: str, times: list[float], codes: dict[int, int]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    answered = ", ".join(f"{n}× {code}" for code, n in sorted(codes.items()))
    return (
        f"| {label} | {len(times)} | {statistics.median(times):.1f} | {p99:.1f} | "
        f"{max(times):.1f} | {answered} |"
    )


def measure(database_url: str, requests: int, work: Path) -> list[str]:
    secret = secrets.token_hex(32)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with silent_server() as endpoint:
        collectors = work / "collectors.toml"
        collectors.write_text(
            f'[[collectors]]\nname = "hung"\nbackend = "prometheus"\nendpoint = "{endpoint}"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONOSOPS_")}
        env.update(
            PYTHONPATH=str(ROOT),
            CHRONOSOPS_COLLECTORS_FILE=str(collectors),
            CHRONOSOPS_COLLECTORS_TIMEOUT_SECONDS=str(COLLECTOR_SECONDS),
            CHRONOSOPS_COLLECTORS_BUDGET_SECONDS=str(COLLECTOR_SECONDS),
        )
        args = ["-m", "benchmarks.bench_server", "--port", str(port)]
        process = start([*args, "--database-url", database_url, "--secret", secret], env, work)
        try:
            wait_ready(url, "/v1/health", process)
            analyst = {"Authorization": f"Bearer {token_for(secret)}"}
            body = json.loads(EXAMPLE_1.read_text())
            refs = iter(range(1_000_000))
            ids: list[str] = []

            def ingest() -> httpx.Response:
                sent = {**body, "sourceRef": f"hung-{secrets.token_hex(4)}-{next(refs)}"}
                response = httpx.post(
                    f"{url}/v1/incidents/ingest", json=sent, headers=analyst, timeout=60
                )
                if response.status_code < 300:
                    ids.append(response.json()["incidentId"])
                return response

            alerts = json.loads(ALERTMANAGER.read_text())

            def deliver() -> httpx.Response:
                payload = {**alerts, "groupKey": f"hung-{secrets.token_hex(6)}"}
                payload["alerts"] = [
                    {**alert, "fingerprint": secrets.token_hex(8)} for alert in alerts["alerts"]
                ]
                return httpx.post(
                    f"{url}/v1/webhooks/alertmanager",
                    json=payload,
                    headers={"Authorization": f"Bearer {secret}"},
                    timeout=60,
                )

            reanalysed = iter(range(1_000_000))

            def reanalyse() -> httpx.Response:
                target = ids[next(reanalysed) % len(ids)]
                return httpx.post(
                    f"{url}/v1/incidents/{target}/reanalyze", headers=analyst, timeout=60
                )

            return [
                row("ingest, Example 1 (collection needed)", *timed(ingest, requests)),
                row("Alertmanager delivery", *timed(deliver, requests)),
                row("re-analysis", *timed(reanalyse, requests)),
            ]
        finally:
            process.terminate()
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", default=None, help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        database_url = args.database_url or f"sqlite:///{work / 'bench.db'}"
        lines = measure(database_url, args.requests, work)
    print(f"one collector that never answers (gives up after {COLLECTOR_SECONDS} s)")
    print("| request | n | p50 ms | p99 ms | max ms | answered |")
    print("|---|---:|---:|---:|---:|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
