"""A code path that stopped, read against the service's earlier incidents end to end: each
analysed incident's log statements are kept, and the next incidents of the service read them
(engine 3.13, CHRONOSOPS_ANALYSIS_HISTORY)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from chronosops.bootstrap import Services
from chronosops.core.timestamps import format_instant
from chronosops.evidence.tables import StatementHistoryRow
from tests.fixtures.app import ClientFactory

INGEST = "/v1/incidents/ingest"
SERVICE = "ts-price-service"
QUERY = "PriceController.query"
LIST = "PriceController.list"
FIRST_ONSET = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
EARLIER = 5  # the engine reads a statement's history from this many earlier incidents on

Statement = tuple[str, str]  # code location, text

QUERY_LOGS: list[Statement] = [
    ("p.c.PriceController#46", "[query][query price]"),
    ("p.s.PriceImpl#52", "[query][price found]"),
]
LIST_LOGS: list[Statement] = [("p.c.PriceController#80", "[list][list prices]")]


def _incident(day: int, *, query_logs: list[Statement] = QUERY_LOGS) -> dict[str, Any]:
    """An incident ``day`` days after the first: for ten minutes around its onset the gateway
    calls the price service's query (6 a minute) and list (3 a minute) operations, and every
    call logs its statements with its trace context."""
    onset = FIRST_ONSET + timedelta(days=day)
    spans: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    number = 0
    for minute in range(-6, 4):
        for operation, calls, statements in ((QUERY, 6, query_logs), (LIST, 3, LIST_LOGS)):
            for index in range(calls):
                number += 1
                when = onset + timedelta(minutes=minute + index / (calls + 1))
                trace = f"{day:08x}{number:024x}"
                outer, inner = f"{2 * number:016x}", f"{2 * number + 1:016x}"
                spans += [
                    {
                        "traceId": trace,
                        "spanId": outer,
                        "service": "ts-gateway-service",
                        "operation": "/api",
                        "duration": 20.0,
                        "timestamp": format_instant(when),
                    },
                    {
                        "traceId": trace,
                        "spanId": inner,
                        "service": SERVICE,
                        "operation": operation,
                        "duration": 10.0,
                        "timestamp": format_instant(when + timedelta(milliseconds=5)),
                    },
                ]
                logs += [
                    {
                        "message": f"{location} TraceID: {trace} SpanID: {inner} {text} {number}",
                        "level": "INFO",
                        "timestamp": format_instant(when + timedelta(milliseconds=10)),
                        "service": SERVICE,
                    }
                    for location, text in statements
                ]
    return {
        "sourceType": "CUSTOM",
        "sourceRef": f"price-{day}",
        "title": "gateway errors",
        "severity": "high",
        "timeline": {
            "start": format_instant(onset),
            "end": format_instant(onset + timedelta(minutes=30)),
        },
        "metadata": {"service": "ts-gateway-service"},
        "evidenceLite": {"traces": spans, "logs": logs},
    }


async def _ingest(client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]) -> Any:
    answer = await client.post(INGEST, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "analyzed"
    return answer.json()


async def _result(client: httpx.AsyncClient, answer: Any, headers: dict[str, str]) -> Any:
    return (await _analysis(client, answer, headers))["result"]


async def _analysis(client: httpx.AsyncClient, answer: Any, headers: dict[str, str]) -> Any:
    analysis = await client.get(f"/v1/analyses/{answer['analysisId']}", headers=headers)
    assert analysis.status_code == 200, analysis.text
    return analysis.json()


async def _broken_after(
    client: httpx.AsyncClient, headers: dict[str, str], earlier: int
) -> dict[str, Any]:
    """``earlier`` incidents whose query always logs both statements, then one whose query runs
    as often and never reaches the second (its method throws before it)."""
    for day in range(earlier):
        await _ingest(client, _incident(day), headers)
    broken = await _ingest(client, _incident(earlier, query_logs=QUERY_LOGS[:1]), headers)
    result: dict[str, Any] = await _result(client, broken, headers)
    return result


async def _rows(services: Services, incident_id: str | None = None) -> int:
    async with services.database.unit_of_work(write=False) as session:
        query = select(func.count()).select_from(StatementHistoryRow)
        if incident_id is not None:
            query = query.where(StatementHistoryRow.incident_id == incident_id)
        return int(await session.scalar(query) or 0)


async def test_a_statement_every_earlier_incident_logged_and_this_one_never_does_names_a_code_fault(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    result = await _broken_after(client, analyst, EARLIER)

    assert result["hypotheses"][0]["id"] == "DEPLOY_BUG"
    assert result["culpritService"] == SERVICE
    assert "never logged" in result["hypotheses"][0]["rationale"]
    # Two rows per analysed incident: the price service's statements, and the gateway's
    # operation calls (engine 3.40: it logs nothing of its own, its spans' mix is kept).
    assert await _rows(services) == 2 * (EARLIER + 1)


async def test_with_the_history_switched_off_nothing_is_kept_or_read(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    client, services = await client_with(analysis_history=False)

    result = await _broken_after(client, analyst, EARLIER)

    assert not (
        result["hypotheses"][0]["id"] == "DEPLOY_BUG" and result["culpritService"] == SERVICE
    )
    assert await _rows(services) == 0


async def test_an_incident_analysed_again_counts_once_in_the_history(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    # One incident short of a history, however often its incidents are analysed again.
    first = await _ingest(client, _incident(0), analyst)
    for _ in range(2):
        again = await client.post(f"/v1/incidents/{first['incidentId']}/reanalyze", headers=analyst)
        assert again.status_code == 201
    assert await _rows(services, first["incidentId"]) == 2  # the price service, the gateway

    result = await _broken_after_more(client, analyst)

    assert not (
        result["hypotheses"][0]["id"] == "DEPLOY_BUG" and result["culpritService"] == SERVICE
    )


async def _broken_after_more(client: httpx.AsyncClient, headers: dict[str, str]) -> Any:
    for day in range(1, EARLIER - 1):
        await _ingest(client, _incident(day), headers)
    broken = await _ingest(client, _incident(EARLIER, query_logs=QUERY_LOGS[:1]), headers)
    return await _result(client, broken, headers)


async def test_the_analysis_reads_only_incidents_that_began_before_it(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    # The broken incident began first: the five ingested after it are not its history.
    broken = await _ingest(client, _incident(0, query_logs=QUERY_LOGS[:1]), analyst)
    for day in range(1, EARLIER + 1):
        await _ingest(client, _incident(day), analyst)

    again = await client.post(f"/v1/incidents/{broken['incidentId']}/reanalyze", headers=analyst)

    result = await _result(client, again.json(), analyst)
    assert result["culpritService"] != SERVICE or result["hypotheses"][0]["id"] != "DEPLOY_BUG"


async def test_an_analysis_says_which_earlier_incidents_it_was_read_against(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    earlier = [await _ingest(client, _incident(day), analyst) for day in range(EARLIER)]
    broken = await _ingest(client, _incident(EARLIER, query_logs=QUERY_LOGS[:1]), analyst)

    first = await _analysis(client, earlier[0], analyst)
    last = await _analysis(client, broken, analyst)

    # The first incident had nothing before it; the broken one was read against all five.
    assert "historyIncidents" not in first["request"]
    assert last["request"]["historyIncidents"] == sorted(a["incidentId"] for a in earlier)
