"""The Google Cloud status feed: overlapping provider incidents in the region, cached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from chronosops.auth import Role
from chronosops.bootstrap import build_services
from chronosops.collectors import CollectorQuery, CollectorSpec, registry
from chronosops.collectors.google_cloud_status import GoogleCloudStatusCollector
from chronosops.core.artifacts import ProviderStatus
from chronosops.core.clock import FrozenClock
from chronosops.core.windows import TimeWindow
from chronosops.web.app import create_app
from tests.collectors.replay import Replay, recording
from tests.fixtures.app import make_settings
from tests.fixtures.guide import request
from tests.fixtures.jobs import ingest_and_run

ONSET = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
WINDOW = TimeWindow(ONSET - timedelta(minutes=15), ONSET + timedelta(minutes=75))
FEED = "GET /incidents.json"


def status(
    replay: Replay, clock: FrozenClock | None = None, **options: Any
) -> GoogleCloudStatusCollector:
    collector = registry.build(
        CollectorSpec(
            name="gcp-status",
            backend="google-cloud-status",
            endpoint=None,
            options=options,
            credentials={},
        ),
        http=replay.client(),
        clock=clock or FrozenClock(ONSET),
    )
    assert isinstance(collector, GoogleCloudStatusCollector)
    return collector


def query(region: str | None = "us-east1") -> CollectorQuery:
    return CollectorQuery(window=WINDOW, onset=ONSET, service="payment-service", region=region)


def refs(artifacts: list[Any]) -> list[str]:
    return [a.incident_ref for a in artifacts if isinstance(a, ProviderStatus)]


async def test_incidents_overlapping_the_window_in_the_region_become_provider_status() -> None:
    replay = Replay({FEED: recording("google_cloud_status", "incidents")})
    collected = await status(replay).collect(query())
    assert refs(collected.artifacts) == ["nAbc2Lp8QmE4uF7yRz1s", "xVSEV3kVaJBmS7SZbnre"]
    sql = next(
        a
        for a in collected.artifacts
        if isinstance(a, ProviderStatus) and a.incident_ref.startswith("xVS")
    )
    assert sql.provider == "google-cloud"
    assert sql.status == "AVAILABLE"
    assert sql.severity == "medium"
    assert sql.products == ["Cloud SQL"]
    assert sql.locations == ["us-east1"]
    assert sql.began_at == datetime(2024, 1, 15, 9, 52, tzinfo=UTC)
    # The feed's uri is relative; the reference spec kept it so and broke every link.
    assert sql.link == "https://status.cloud.google.com/incidents/xVSEV3kVaJBmS7SZbnre"
    assert [u.status for u in sql.updates] == ["AVAILABLE", "SERVICE_DISRUPTION"]
    assert "support@example.com" not in sql.model_dump_json()
    (sent,) = replay.requests
    assert sent.url == httpx.URL("https://status.cloud.google.com/incidents.json")


async def test_products_global_incidents_and_regions_filter_the_feed() -> None:
    feed = {FEED: recording("google_cloud_status", "incidents")}
    only_sql = await status(Replay(feed), products=["Cloud SQL"]).collect(query())
    assert refs(only_sql.artifacts) == ["xVSEV3kVaJBmS7SZbnre"]
    no_global = await status(Replay(feed), include_global=False).collect(query())
    assert refs(no_global.artifacts) == ["xVSEV3kVaJBmS7SZbnre"]
    europe = await status(Replay(feed)).collect(query("europe-west1"))
    assert refs(europe.artifacts) == ["Qw9eRt6yUi3oPa1sDf5g", "nAbc2Lp8QmE4uF7yRz1s"]
    anywhere = await status(Replay(feed)).collect(query(None))
    assert len(refs(anywhere.artifacts)) == 3


async def test_the_feed_is_fetched_once_per_cache_period() -> None:
    replay = Replay({FEED: recording("google_cloud_status", "incidents")})
    clock = FrozenClock(ONSET)
    collector = status(replay, clock, cache_seconds=300)
    await collector.collect(query())
    clock.advance(timedelta(seconds=299))
    await collector.collect(query())
    assert len(replay.requests) == 1
    clock.advance(timedelta(seconds=2))
    await collector.collect(query())
    assert len(replay.requests) == 2


async def test_a_google_cloud_incident_gets_provider_status_and_completeness_counts_it(
    database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "collectors.yaml"
    config.write_text("collectors:\n  - name: gcp-status\n    backend: google-cloud-status\n")
    replay = Replay({FEED: recording("google_cloud_status", "incidents")})
    services = build_services(
        make_settings(database_url, collectors_file=str(config)), http=replay.client()
    )
    try:
        assert services.issuer is not None
        token = services.issuer.mint(
            subject="analyst", roles=[Role.ANALYST], ttl=timedelta(hours=1)
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(services)), base_url="http://test"
        ) as client:
            body = request(
                sourceType="GOOGLE_CLOUD",
                sourceRef="gcp-sql-1",
                timeline={"start": "2024-01-15T10:00:00Z", "end": "2024-01-15T11:00:00Z"},
                metadata={"service": "payment-service", "region": "us-east1"},
            )
            created = await ingest_and_run(client, services, body, headers)
            bundle = (
                await client.get(
                    f"/v1/evidence-bundles/{created['evidenceBundleId']}", headers=headers
                )
            ).json()
            analysis = (
                await client.get(f"/v1/analyses/{created['analysisId']}", headers=headers)
            ).json()
    finally:
        await services.aclose()
    kinds = [a["kind"] for a in bundle["artifacts"]]
    assert kinds == ["provider_status", "provider_status"]
    assert bundle["sources"] == ["gcp-status"]
    assert "GOOGLE_STATUS" in analysis["result"]["completeness"]["present"]
