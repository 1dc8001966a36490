"""The statement history kept between incidents (engine 3.13): each analysed incident's log
statements per service, stored and read back on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from chronosops.analysis.code_paths import history_of
from chronosops.bootstrap import Services
from chronosops.evidence.repository import EvidenceRepository
from tests.analysis.builders import ADS, RANDOM, ads_traffic, analysis_input
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"
DAY = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)


def _record(found: int, other: int = 30) -> dict[str, object]:
    return {
        "lines": found + other,
        "statements": {
            "price found #": {"PriceController.query": found},
            "list prices": {"PriceController.list": other},
        },
        "calls": {"PriceController.query": found, "PriceController.list": other},
    }


async def _incidents(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> list[str]:
    ids = []
    for number in range(count):
        answer = await client.post(INGEST, json=request(sourceRef=f"h-{number}"), headers=headers)
        assert answer.status_code == 201
        ids.append(answer.json()["incidentId"])
    return ids


async def test_statement_records_round_trip_latest_first_per_service_and_bounded(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    ids = await _incidents(client, analyst, 4)
    async with services.database.unit_of_work() as session:
        repository = EvidenceRepository(session)
        for day, incident_id in enumerate(ids):
            await repository.record_statement_history(
                incident_id,
                {"price": _record(10 + day), "cart": _record(5)},
                onset=DAY + timedelta(days=day),
                at=DAY,
                replace=False,
            )
    async with services.database.unit_of_work(write=False) as session:
        rows = await EvidenceRepository(session).statement_history(
            {"price", "cart", "unknown"}, excluding=ids[3], onset=DAY + timedelta(days=3), limit=2
        )
    # The incident itself is left out; per service, the latest two before it.
    assert [(incident, service) for incident, service, *_ in rows] == [
        (ids[2], "cart"),
        (ids[1], "cart"),
        (ids[2], "price"),
        (ids[1], "price"),
    ]
    price = [
        (lines, statements, calls)
        for _, service, lines, statements, calls in rows
        if service == "price"
    ]
    assert price[0] == (42, _record(12)["statements"], _record(12)["calls"])


async def test_incidents_that_began_later_are_not_earlier_incidents(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    first, later = await _incidents(client, analyst, 2)
    async with services.database.unit_of_work() as session:
        repository = EvidenceRepository(session)
        await repository.record_statement_history(
            first, {"price": _record(10)}, onset=DAY, at=DAY, replace=False
        )
        await repository.record_statement_history(
            later, {"price": _record(10)}, onset=DAY + timedelta(hours=1), at=DAY, replace=False
        )
    async with services.database.unit_of_work(write=False) as session:
        rows = await EvidenceRepository(session).statement_history(
            {"price"}, excluding="other", onset=DAY + timedelta(minutes=30), limit=20
        )
    assert [incident for incident, *_ in rows] == [first]


async def test_recording_an_incident_again_replaces_its_rows(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    (incident_id,) = await _incidents(client, analyst, 1)
    for found, replace in ((10, False), (20, True), (30, True)):
        async with services.database.unit_of_work() as session:
            await EvidenceRepository(session).record_statement_history(
                incident_id, {"price": _record(found)}, onset=DAY, at=DAY, replace=replace
            )
    async with services.database.unit_of_work(write=False) as session:
        rows = await EvidenceRepository(session).statement_history(
            {"price"}, excluding="other", onset=DAY, limit=20
        )
    assert [(incident, lines) for incident, _, lines, *_ in rows] == [(incident_id, 60)]
    (history,) = [
        h
        for h in history_of(
            [(s, {"lines": n, "statements": st, "calls": c}) for _, s, n, st, c in rows]
        )
        if h.statement == "price found #"
    ]
    assert history.shares == [0.5]
    assert history.per_call == [1.0]  # its 30 lines over its operation's 30 calls


async def test_rows_kept_before_calls_were_read_without_calls(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    (incident_id,) = await _incidents(client, analyst, 1)
    old = {"lines": 40, "statements": _record(10)["statements"]}
    async with services.database.unit_of_work() as session:
        await EvidenceRepository(session).record_statement_history(
            incident_id, {"price": old}, onset=DAY, at=DAY, replace=False
        )
    async with services.database.unit_of_work(write=False) as session:
        rows = await EvidenceRepository(session).statement_history(
            {"price"}, excluding="other", onset=DAY, limit=20
        )
    assert [(lines, statements, calls) for *_, lines, statements, calls in rows] == [
        (40, old["statements"], None)
    ]


async def test_a_service_with_spans_and_no_logs_is_kept_and_read_back_as_its_operations_mix(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    first, later = await _incidents(client, analyst, 2)
    artifacts = analysis_input(service="frontend", **ads_traffic(4)).artifacts
    evidence = services.evidence
    async with services.database.unit_of_work() as session:
        await evidence.remember_statements(
            session, artifacts, incident_id=first, onset=DAY, replace=True
        )
    async with services.database.unit_of_work(write=False) as session:
        statements, operations, compared_with = await evidence.statement_history(
            session,
            evidence.history_services(artifacts),
            incident_id=later,
            onset=DAY + timedelta(hours=1),
        )
    # No statement to read (it logged nothing), and its operations' shares of its spans.
    assert statements == []
    assert compared_with == [first]
    shares = {(h.service, h.operation): h.shares for h in operations}
    assert shares[(ADS, RANDOM)] == [0.125]
    assert shares[("frontend", "GET /product")] == [1.0]
