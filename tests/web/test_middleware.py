"""Request metrics: labels only from a fixed set, whatever unauthenticated clients send."""

from __future__ import annotations

import re

import httpx

SERIES = re.compile(r"^chronosops_http_requests_total\{(?P<labels>[^}]*)\}", re.MULTILINE)


def label_sets(metrics: str) -> set[str]:
    return {match["labels"] for match in SERIES.finditer(metrics)}


async def test_made_up_methods_and_random_paths_add_no_label_values(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/v1/health")
    await client.request("BREW", "/v1/health")
    await client.get("/v1/nothing-here-0")
    await client.request("BREW", "/nowhere")
    before = label_sets((await client.get("/metrics")).text)

    for n in range(200):
        await client.request(f"M{n}ETHOD", f"/v1/health?{n}")
        await client.get(f"/random/{n}/path")
        await client.request(f"X{n}", f"/v1/incidents/no-such-{n}/nothing")

    metrics = (await client.get("/metrics")).text
    assert label_sets(metrics) - before <= {'method="GET",route="/metrics",status="200"'}
    assert 'method="other",route="/v1/health"' in metrics
    assert 'method="GET",route="other",status="404"' in metrics
    assert "M1ETHOD" not in metrics
    assert "/random/" not in metrics


async def test_known_methods_and_route_templates_are_kept(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    await client.get("/v1/incidents/abc123", headers=viewer)
    await client.options("/v1/health")
    metrics = (await client.get("/metrics")).text
    assert 'method="GET",route="/v1/incidents/{incident_id}",status="404"' in metrics
    assert 'method="OPTIONS",route="/v1/health"' in metrics
    assert "abc123" not in metrics
