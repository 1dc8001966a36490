"""Operator metrics keep every label bounded, whatever names arrive."""

from __future__ import annotations

from prometheus_client import generate_latest

from chronosops.core.metrics import MAX_NAMES, BoundedNames, OperatorMetrics


def test_names_beyond_the_cap_or_malformed_count_as_other() -> None:
    names = BoundedNames(limit=2)
    assert [names("prometheus"), names("loki"), names("tempo"), names("prometheus")] == [
        "prometheus",
        "loki",
        "other",
        "prometheus",
    ]
    assert names("a b") == "other"
    assert names("x" * 65) == "other"
    assert names(None) == "other"


def test_a_flood_of_distinct_sources_and_outcomes_cannot_grow_the_series() -> None:
    metrics = OperatorMetrics()
    for index in range(500):
        metrics.ingested(f"SOURCE_{index}", f"outcome-{index}")
        metrics.collected(f"backend-{index}", "weird")
        metrics.delivered(f"receiver-{index}", "sent")
    text = generate_latest(metrics.registry).decode()
    ingest_series = [
        line for line in text.splitlines() if line.startswith("chronosops_ingests_total{")
    ]
    assert len(ingest_series) == MAX_NAMES + 1
    assert all('outcome="other"' in line for line in ingest_series)
    collector_series = [
        line for line in text.splitlines() if line.startswith("chronosops_collector_calls_total{")
    ]
    assert len(collector_series) == MAX_NAMES + 1


def test_timeouts_and_errors_count_as_collector_failures() -> None:
    metrics = OperatorMetrics()
    for status in ("ok", "empty", "timeout", "error", "skipped"):
        metrics.collected("prometheus", status)
    text = generate_latest(metrics.registry).decode()
    assert 'chronosops_collector_failures_total{backend="prometheus"} 2.0' in text
    assert 'chronosops_collector_calls_total{backend="prometheus",status="timeout"} 1.0' in text


def test_a_labelled_child_is_made_once_and_counts_as_labels_would() -> None:
    from prometheus_client import CollectorRegistry, Counter

    from chronosops.core.metrics import Children

    registry = CollectorRegistry()
    counter = Counter("things_total", "Things.", ["kind"], registry=registry)
    children = Children(counter)
    assert children("a") is children("a") is counter.labels("a")
    children("a").inc()
    children("b").inc(2)
    assert registry.get_sample_value("things_total", {"kind": "a"}) == 1
    assert registry.get_sample_value("things_total", {"kind": "b"}) == 2
