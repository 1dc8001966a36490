"""GET /metrics tells operators what ingest, analysis and collection are doing."""

from __future__ import annotations

import httpx

from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"


def value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_ingests_analyses_and_collection_are_counted_with_bounded_labels(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    open_report = request(sourceRef="m-1", timeline={"start": "2024-01-15T10:00:00Z"})
    await client.post(INGEST, json=open_report, headers=analyst)
    await client.post(INGEST, json=open_report, headers=analyst)
    await client.post(
        "/v1/silences",
        json={
            "matchers": {"service": "payment-service"},
            "endsAt": "2099-01-01T00:00:00Z",
            "comment": "m",
        },
        headers=analyst,
    )
    await client.post(INGEST, json=request(sourceRef="m-2"), headers=analyst)

    text = (await client.get("/metrics")).text
    assert value(text, 'chronosops_ingests_total{outcome="analyzed",source="CUSTOM"}') == 1
    assert value(text, 'chronosops_ingests_total{outcome="duplicate",source="CUSTOM"}') == 1
    assert value(text, 'chronosops_ingests_total{outcome="silenced",source="CUSTOM"}') == 1
    analyses = value(text, 'chronosops_analyses_total{outcome="conclusive"}') + value(
        text, 'chronosops_analyses_total{outcome="inconclusive"}'
    )
    assert analyses == 1
    assert "chronosops_analysis_duration_seconds_bucket" in text
    assert 'chronosops_collector_calls_total{backend="collectors",status="skipped"}' in text
    # the HTTP middleware's own series are still there beside them
    assert "chronosops_http_requests_total" in text
