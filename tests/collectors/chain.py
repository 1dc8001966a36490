# mypy: disable-error-code="comparison-overlap"
"""The chain incident of the Prometheus tests (`prometheus_server.chain_openmetrics`): the
collector, query, collectors file and alert that ask about it, and how its series are read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronosops.collectors import CollectorQuery, CollectorSpec, registry
from chronosops.collectors.prometheus import PrometheusCollector
from chronosops.core.artifacts import MetricSeries
from chronosops.core.clock import FrozenClock
from chronosops.core.timestamps import format_instant
from chronosops.core.windows import TimeWindow
from tests.collectors.prometheus_server import ONSET
from tests.fixtures.guide import request
from tests.fixtures.jobs import ingest_and_run

WINDOW = TimeWindow(ONSET - timedelta(minutes=30), ONSET + timedelta(minutes=30))
CHAIN = {"web-frontend", "orders-api", "inventory-api"}


def chain_collector(
    url: str, http: httpx.AsyncClient | None = None, **options: Any
) -> PrometheusCollector:
    collector = registry.build(
        CollectorSpec(
            name="prom",
            backend="prometheus",
            endpoint=url,
            options={"labels": {"environment": "env"}, **options},
            credentials={},
        ),
        http=http or httpx.AsyncClient(),
        clock=FrozenClock(ONSET),
    )
    assert isinstance(collector, PrometheusCollector)
    return collector


def chain_query(**fields: Any) -> CollectorQuery:
    """The alert on web-frontend, two hops of neighbours."""
    values: dict[str, Any] = {
        "window": WINDOW,
        "onset": ONSET,
        "service": "web-frontend",
        "environment": "production",
        "hops": 2,
    }
    values.update(fields)
    return CollectorQuery(**values)


def series_by_service(artifacts: list[Any]) -> dict[tuple[str, str], MetricSeries]:
    return {(a.service, a.name): a for a in artifacts if isinstance(a, MetricSeries) and a.service}


def before_after(series: MetricSeries) -> tuple[float, float]:
    """A quarter of an hour before the onset and after it."""
    before = next(p.value for p in series.points if p.ts == ONSET - timedelta(minutes=15))
    after = next(p.value for p in series.points if p.ts == ONSET + timedelta(minutes=15))
    return before, after


# What the chain's series read a quarter of an hour before the onset and after it, whichever
# instrumentation exported them: orders-api fails a quarter of its requests, slows tenfold and
# burns its CPU; web-frontend slows with it but does not fail; inventory-api stays as it was.
CHAIN_FIGURES: dict[tuple[str, str], tuple[float, float]] = {
    ("orders-api", "error_ratio"): (1 / 600, 0.25),
    ("web-frontend", "error_ratio"): (1 / 600, 1 / 600),
    ("orders-api", "latency_p95_ms"): (97.5, 975.0),
    ("web-frontend", "latency_p95_ms"): (242.5, 2425.0),
    ("inventory-api", "latency_p95_ms"): (47.5, 47.5),
    ("orders-api", "cpu_cores"): (0.4, 1.9),
}


def assert_chain_figures(series: dict[tuple[str, str], MetricSeries]) -> None:
    for key, (before, after) in CHAIN_FIGURES.items():
        assert before_after(series[key]) == (pytest.approx(before), pytest.approx(after)), key


def collectors_file(directory: Path, url: str, options: str = "") -> str:
    """A collectors file with one Prometheus (``prometheus-prod``) that finds the environment
    in the ``env`` label; ``options`` are TOML lines added under its options."""
    config = directory / "collectors.toml"
    config.write_text(
        f"""
[[collectors]]
name = "prometheus-prod"
backend = "prometheus"
endpoint = "{url}"

[collectors.options]
labels = {{ environment = "env" }}
{options}
"""
    )
    return str(config)


def frontend_alert(source_ref: str, **fields: Any) -> dict[str, Any]:
    """The guide's request for "web-frontend is slow" from the onset, without evidence."""
    return request(
        sourceRef=source_ref,
        title="web-frontend is slow",
        timeline={
            "start": format_instant(ONSET),
            "end": format_instant(ONSET + timedelta(minutes=30)),
        },
        metadata={"service": "web-frontend", "environment": "production"},
        **fields,
    )


async def assert_frontend_alert_names_orders_api(
    client: httpx.AsyncClient, built: Any, analyst: dict[str, str], source_ref: str
) -> None:
    """An alert on web-frontend sent without evidence: the collected bundle names orders-api
    from its failures and slowness (not its CPU alone), and the frontend's own slowness is read."""
    created = await ingest_and_run(client, built, frontend_alert(source_ref), analyst)
    assert created["status"] == "analyzed", created
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    result = analysis["result"]
    assert result["culpritService"] == "orders-api"
    assert {
        "metric:prometheus-prod:error_ratio{service=orders-api}",
        "metric:prometheus-prod:latency_p95_ms{service=orders-api}",
    } <= set(result["hypotheses"][0]["evidenceRefs"])
    assert "web-frontend" in {signal["service"] for signal in result["signals"]}
