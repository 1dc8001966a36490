"""Hostile input through the ingest door: a megabyte of log line does not stall the server."""

from __future__ import annotations

import asyncio
import time

from tests.fixtures.app import ClientFactory
from tests.fixtures.guide import request

MIB = 1 << 20


def adversarial_line() -> str:
    # E-mail-like fragments without a top-level domain, then runs of '.', '@' and digits: the
    # shapes that made the old patterns retry every position of the line.
    quarter = MIB // 4
    return ("a@a.a" * quarter)[:quarter] + "." * quarter + "@" * quarter + "1" * (MIB - 3 * quarter)


def with_line(message: str) -> dict[str, object]:
    return request(
        sourceRef="adversarial-1",
        evidenceLite={
            "logs": [
                {"timestamp": "2024-01-15T10:05:00Z", "level": "error", "message": message},
                {"timestamp": "2024-01-15T10:06:00Z", "level": "error", "message": "db timeout"},
            ]
        },
    )


async def test_a_one_mebibyte_adversarial_log_line_is_ingested_within_a_second(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    client, _services = await client_with(max_body_bytes=4 * MIB)
    body = with_line(adversarial_line())
    # Warm up (first request builds the app's caches and the database's tables).
    await client.post("/v1/incidents/ingest", json=request(sourceRef="warm-up"), headers=analyst)

    started = time.perf_counter()
    response = await client.post("/v1/incidents/ingest", json=body, headers=analyst)
    took = time.perf_counter() - started

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "analyzed"
    assert took < 1.0, f"ingest took {took:.2f} s"
    bundle = (
        await client.get(
            f"/v1/evidence-bundles/{response.json()['evidenceBundleId']}", headers=analyst
        )
    ).json()
    templates = [a for a in bundle["artifacts"] if a["kind"] == "log_template"]
    assert len(templates) == 2
    assert all(len(a["template"]) <= 300 for a in templates)


async def test_the_event_loop_keeps_answering_while_a_big_evidence_line_is_templated(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    client, _services = await client_with(max_body_bytes=4 * MIB)
    await client.post("/v1/incidents/ingest", json=request(sourceRef="warm-up"), headers=analyst)
    # Many distinct long lines of the adversarial shape: with the old patterns this stalled the
    # loop for seconds; templating and sealing now also run off it.
    lines = [f"{i} " + ("a@a.a" * 2000) + f" worker-{i} stalled" for i in range(150)]
    body = request(
        sourceRef="many-lines",
        evidenceLite={
            "logs": [
                {"timestamp": "2024-01-15T10:05:00Z", "level": "error", "message": line}
                for line in lines
            ]
        },
    )
    longest_pause = 0.0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal longest_pause
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            longest_pause = max(longest_pause, now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        response = await client.post("/v1/incidents/ingest", json=body, headers=analyst)
    finally:
        done.set()
        await ticker
    assert response.status_code == 201, response.text
    assert longest_pause < 0.5, f"the event loop stalled for {longest_pause:.2f} s"
