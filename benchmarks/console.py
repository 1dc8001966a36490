"""The console's incident list with 100k incidents: how long each page takes to render.

Seeds incident rows directly (fast; the list reads only the incident table), signs in through a
one-time link, then times `GET /incidents` with the filters people use, through the whole
app (routing, session, query, template) in-process. Prints a table.

    python -m benchmarks.console                       # fresh SQLite file, 100k rows
    python -m benchmarks.console --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import re
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

from chronosops import migrations
from chronosops.auth import Role
from chronosops.bootstrap import build_services
from chronosops.config import Settings
from chronosops.core.ingest_request import SEVERITIES, SOURCE_TYPES
from chronosops.core.log_output import configure_logging
from chronosops.incidents.tables import Incident
from chronosops.storage.database import sync_url
from chronosops.web.app import create_app

WORDS = ["latency", "errors", "timeout", "saturation", "outage", "degraded", "spike", "queue"]
SERVICES = [f"svc-{n}" for n in range(40)]
RARE = "needle-in-the-haystack"


def seed(database_url: str, rows: int) -> None:
    engine = create_engine(sync_url(database_url))
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM incident"))
    batch: list[dict[str, object]] = []
    for n in range(rows):
        at = start + timedelta(minutes=5 * n)
        title = f"{rng.choice(WORDS)} on {rng.choice(SERVICES)} #{n}"
        if n == rows // 3:
            title += f" {RARE}"
        batch.append(
            {
                "id": f"bench{n:010d}",
                "source_type": rng.choice(SOURCE_TYPES),
                "source_ref": f"ref-{n}",
                "occurrence": 1,
                "title": title,
                "description": None,
                "severity": rng.choice(SEVERITIES),
                "status": rng.choices(["analyzed", "created", "failed"], [90, 5, 5])[0],
                "status_reason": None,
                "start_at": at,
                "end_at": at + timedelta(minutes=30) if rng.random() < 0.8 else None,
                "detected_at": None,
                "resolved_at": None,
                "service": rng.choice(SERVICES),
                "region": None,
                "environment": "production",
                "team": None,
                "tags": None,
                "custom_fields": None,
                "window_minutes_before": 15,
                "window_minutes_after": 15,
                "force_collect": False,
                "request": {},
                "source_payload": None,
                "latest_bundle_id": None,
                "latest_analysis_id": None,
                "created_at": at,
                "updated_at": at,
                "created_by": "bench",
            }
        )
        if len(batch) == 5000:
            with engine.begin() as connection:
                connection.execute(insert(Incident), batch)
            batch = []
    if batch:
        with engine.begin() as connection:
            connection.execute(insert(Incident), batch)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE incident"))
    engine.dispose()


QUERIES = [
    ("first page, no filter", "/incidents"),
    ("severity=critical", "/incidents?severity=critical"),
    ("status=failed & source=DATADOG", "/incidents?status=failed&source=DATADOG"),
    ("service=svc-7", "/incidents?service=svc-7"),
    ("title contains 'timeout'", "/incidents?q=timeout"),
    ("title contains a word in 1 row", f"/incidents?q={RARE}"),
    ("title matching nothing", "/incidents?q=zzz-no-such-title"),
    ("auto-refresh fragment", "/incidents"),
]


async def measure(database_url: str, runs: int) -> list[tuple[str, float, float, int]]:
    settings = Settings(
        database_url=database_url,
        jwt_secret=secrets.token_hex(32),
        rate_limit_enabled=False,
        log_level="WARNING",
    )
    configure_logging(settings.log_level, settings.log_format)
    services = build_services(settings)
    app = create_app(services, owns_services=True)
    results = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as client:
        async with services.database.unit_of_work() as session:
            link = await services.sign_in_links.issue(session, subject="bench", roles=list(Role))
        assert (await client.get(f"/sign-in/link?token={link.token}")).status_code == 303
        first = await client.get("/incidents")
        older = re.search(r'href="(/incidents\?[^"]+)" rel="next"', first.text)
        assert older, "the first page has no link to older incidents"
        queries = [*QUERIES, ("10th page (cursor)", "")]
        for label, url in queries:
            headers = {}
            if label == "auto-refresh fragment":
                headers = {"HX-Request": "true", "HX-Target": "results"}
            if label.startswith("10th page"):
                url = "/incidents"
                for _ in range(9):
                    page = await client.get(url)
                    found = re.search(r'href="(/incidents\?[^"]+)" rel="next"', page.text)
                    assert found
                    url = found.group(1).replace("&amp;", "&")
            timings = []
            rows = 0
            for _ in range(runs):
                started = time.perf_counter()
                response = await client.get(url, headers=headers)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
                rows = response.text.count('<td class="title-cell">')
            timings.sort()
            results.append(
                (
                    label,
                    statistics.median(timings),
                    timings[max(0, int(len(timings) * 0.95) - 1)],
                    rows,
                )
            )
    await services.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite:///{Path(directory) / 'bench.db'}"
        migrations.upgrade(url)
        started = time.perf_counter()
        seed(url, args.rows)
        seeded = time.perf_counter() - started
        results = asyncio.run(measure(url, args.runs))
    backend = url.split(":", 1)[0]
    print(
        f"Console incident list, {args.rows:,} incidents on {backend} "
        f"(seeded in {seeded:.1f} s), {args.runs} requests each, "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    print()
    print("| page | median ms | p95 ms | rows shown |")
    print("|---|---:|---:|---:|")
    for label, median, p95, rows in results:
        print(f"| {label} | {median:.1f} | {p95:.1f} | {rows} |")


if __name__ == "__main__":
    main()
