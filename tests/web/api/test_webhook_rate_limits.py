"""Rate limits count what a vendor delivery asks for: one unit per alert, not per request."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chronosops.auth.rate_limits import RateLimiter
from chronosops.config import LimitSettings
from chronosops.core.errors import RateLimitedError
from tests.fixtures.app import ClientFactory
from tests.fixtures.webhooks import Hooks, webhook_settings
from tests.sources.payloads import load


def batch(alerts: int) -> dict[str, Any]:
    """An Alertmanager group of ``alerts`` distinct firing alerts."""
    payload: dict[str, Any] = load("alertmanager", "firing")
    template = payload["alerts"][0]
    payload["alerts"] = []
    for n in range(alerts):
        alert = copy.deepcopy(template)
        alert["labels"]["instance"] = f"10.0.{n // 250}.{n % 250}:8080"
        alert["fingerprint"] = f"{n:016x}"
        payload["alerts"].append(alert)
    return payload


async def limited_hooks(client_with: ClientFactory, limit: str) -> Hooks:
    http, services = await client_with(**webhook_settings(), rate_limit_ingest=limit)
    return Hooks(http=http, services=services)


async def test_a_delivery_of_a_thousand_alerts_costs_a_thousand_units(
    client_with: ClientFactory,
) -> None:
    hooks = await limited_hooks(client_with, "1000/minute")
    first = await hooks.post("alertmanager", batch(1))
    assert first.status_code == 201, first.text

    flood = await hooks.post("alertmanager", batch(1000))

    assert flood.status_code == 429, flood.text
    assert int(flood.headers["Retry-After"]) >= 1
    assert flood.json()["limit"] == "ingest: 1000 per 1 minute"


async def test_small_deliveries_pass_until_their_alerts_reach_the_limit(
    client_with: ClientFactory,
) -> None:
    hooks = await limited_hooks(client_with, "5/minute")
    assert (await hooks.post("alertmanager", batch(2))).status_code == 201
    assert (await hooks.post("alertmanager", batch(3) | {"groupKey": "b"})).status_code == 201
    # Two requests so far, but five alerts: the limit is used up.
    assert (await hooks.post("alertmanager", batch(1) | {"groupKey": "c"})).status_code == 429


async def test_a_delivery_bigger_than_the_whole_limit_passes_into_an_empty_window() -> None:
    limiter = RateLimiter(
        LimitSettings(enabled=True, ingest="10/minute", read="10/minute", storage_url="memory://")
    )
    await limiter.hit("ingest", "source:grafana", cost=50)
    with pytest.raises(RateLimitedError):
        await limiter.hit("ingest", "source:grafana")
