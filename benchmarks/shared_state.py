"""What sharing through Redis costs and saves: a rate-limit check, and a repeated delivery.

Times, in-process and in one run, (1) `RateLimiter.hit` with the counters in the process and in
Redis, and (2) a vendor delivery sent again (the answer replayed) through the whole app, with
and without `CHRONOSOPS_REDIS_URL`: without it the repeat is answered from the database (a
claim transaction), with it from the copy in Redis. Prints a table (median and p99, ms).

    python -m benchmarks.shared_state                  # fresh SQLite file, Redis db 5
    python -m benchmarks.shared_state --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import redis

from chronosops import migrations
from chronosops.auth.rate_limits import RateLimiter
from chronosops.bootstrap import build_services
from chronosops.config import LimitSettings, Settings
from chronosops.core.log_output import configure_logging
from chronosops.web.app import create_app

TOKEN = "alertmanager-" + secrets.token_hex(24)
DELIVERY = {
    "version": "4",
    "status": "firing",
    "receiver": "chronosops",
    "groupKey": "bench",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "service": "checkout", "severity": "critical"},
            "annotations": {"summary": "p99 latency above 2 s"},
            "startsAt": "2026-12-04T10:00:00Z",
            "fingerprint": "bench-1",
        }
    ],
}


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def limiter_rows(redis_url: str, runs: int) -> list[tuple[str, float, float]]:
    rows = []
    for name, url in (("memory://", "memory://"), ("Redis", redis_url)):
        limiter = RateLimiter(
            LimitSettings(
                enabled=True,
                ingest="1000000/minute",
                read="1000000/minute",
                storage_url=url,
                key_prefix=f"bench-{secrets.token_hex(4)}:limits",
            )
        )
        median, p99 = await timed(lambda limiter=limiter: limiter.hit("ingest", "bench"), runs)
        rows.append((f"rate-limit check, counters in {name}", median, p99))
    return rows


async def replay_rows(
    database_url: str, redis_url: str | None, runs: int
) -> tuple[str, float, float]:
    settings = Settings(
        database_url=database_url,
        jwt_secret=secrets.token_hex(32),
        webhook_alertmanager_token=TOKEN,
        rate_limit_enabled=False,
        redis_url=redis_url,
        redis_key_prefix=f"bench-{secrets.token_hex(4)}",
        log_level="ERROR",
    )
    services = build_services(settings)
    transport = httpx.ASGITransport(app=create_app(services))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {**DELIVERY, "groupKey": secrets.token_hex(8)}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            first = await http.post("/v1/webhooks/alertmanager", json=body, headers=headers)
            assert first.status_code in (200, 201, 202), first.text

            async def again() -> None:
                answer = await http.post("/v1/webhooks/alertmanager", json=body, headers=headers)
                assert answer.json().get("replayed") is True

            median, p99 = await timed(again, runs)
    finally:
        await services.aclose()
    where = "Redis copy" if redis_url else "database"
    return (f"repeated delivery answered from the {where}", median, p99)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    configure_logging("ERROR", "json")
    redis.Redis.from_url(args.redis_url).ping()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        migrations.upgrade(url)
        rows = await limiter_rows(args.redis_url, args.runs * 4)
        rows.append(await replay_rows(url, None, args.runs))
        rows.append(await replay_rows(url, args.redis_url, args.runs))
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"\n{database}, {args.runs} repeats, Redis at {args.redis_url}\n")
    print("| what | median ms | p99 ms |")
    print("|---|---|---|")
    for name, median, p99 in rows:
        print(f"| {name} | {median:.2f} | {p99:.2f} |")
    client = redis.Redis.from_url(args.redis_url)
    for key in client.scan_iter("bench-*"):
        client.delete(key)


if __name__ == "__main__":
    asyncio.run(main())
