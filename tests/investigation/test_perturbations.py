"""Seeded variants of an ingest body change one detail each, as real integrations do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.investigation.perturbations import (
    TRANSFORMS,
    UnknownTransformError,
    parse_transforms,
    variants,
)


def _at(minute: int, second: int = 0) -> str:
    return f"2026-01-01T10:{minute:02d}:{second:02d}Z"


def body() -> dict[str, Any]:
    """An alert at 10:10 with ten minutes of CPU and latency, and two minutes of logs and spans
    around it: 40 traces of two spans each."""
    return {
        "sourceType": "CUSTOM",
        "sourceRef": "x-1",
        "title": "checkout slow",
        "timeline": {"start": _at(10)},
        "metadata": {"service": "checkout"},
        "evidenceLite": {
            "metrics": [
                {"name": name, "value": 1.0, "timestamp": _at(minute), "labels": {"service": s}}
                for name in ("cpu_usage_percent", "server_latency_p90_seconds")
                for s in ("checkout", "cart")
                for minute in range(12)
            ],
            "logs": [
                {"message": f"served {n}", "timestamp": _at(9 + n // 60, n % 60), "service": "cart"}
                for n in range(120)
            ],
            "traces": [
                {
                    "traceId": f"t{n}",
                    "spanId": f"{n}-{side}",
                    "service": side,
                    "operation": "get",
                    "duration": 12,
                    "timestamp": _at(9 + n // 20, n % 20),
                }
                for n in range(40)
                for side in ("checkout", "cart")
            ],
        },
    }


def one(transform: str, key: str = "x-1", index: int = 0) -> tuple[str, dict[str, Any]]:
    made = variants(body(), key, 1, [transform])
    assert [v.transform for v in made] == [transform]
    return made[0].detail, made[0].document


def test_sampling_drops_whole_traces_about_half_of_them() -> None:
    _, document = one("traces-sampled")
    spans = document["evidenceLite"]["traces"]
    traces = {span["traceId"] for span in spans}
    assert all(sum(s["traceId"] == t for s in spans) == 2 for t in traces)  # kept whole
    assert 10 <= len(traces) <= 30


def test_thinning_keeps_about_half_the_log_lines_in_their_order() -> None:
    _, document = one("logs-thinned")
    lines = document["evidenceLite"]["logs"]
    assert 40 <= len(lines) <= 80
    assert lines == sorted(lines, key=lambda line: line["timestamp"])


def test_ingest_lag_cuts_the_logs_last_thirty_seconds_and_nothing_else() -> None:
    detail, document = one("logs-lag")
    lines = document["evidenceLite"]["logs"]
    assert max(line["timestamp"] for line in lines) == _at(10, 29)
    assert len(lines) == 90
    assert document["evidenceLite"]["traces"] == body()["evidenceLite"]["traces"]
    assert "30 s" in detail


def test_the_onset_moves_a_minute_either_way() -> None:
    assert one("onset-earlier")[1]["timeline"]["start"] == _at(9)
    assert one("onset-later")[1]["timeline"]["start"] == _at(11)


def test_a_short_baseline_keeps_five_or_six_minutes_before_the_onset() -> None:
    _, document = one("baseline-short")
    first = min(m["timestamp"] for m in document["evidenceLite"]["metrics"])
    assert first in (_at(4), _at(5))
    assert max(m["timestamp"] for m in document["evidenceLite"]["metrics"]) == _at(11)


def test_a_missing_metric_kind_takes_every_series_of_that_kind_only() -> None:
    detail, document = one("metric-kind-missing")
    names = {m["name"] for m in document["evidenceLite"]["metrics"]}
    assert names in ({"cpu_usage_percent"}, {"server_latency_p90_seconds"})
    assert detail in ("without latency metrics", "without cpu metrics")


def test_every_variant_is_still_a_valid_ingest_body() -> None:
    for variant in variants(body(), "x-1", len(TRANSFORMS)):
        IngestIncidentRequest.model_validate_json(json.dumps(variant.document))


def test_as_many_variants_as_transforms_give_each_transform_once() -> None:
    made = variants(body(), "x-1", len(TRANSFORMS))
    assert sorted(v.transform for v in made) == sorted(TRANSFORMS)


def test_variants_are_the_same_for_the_same_key_and_differ_between_keys() -> None:
    def drawn(key: str) -> list[Any]:
        return [v.document for v in variants(body(), key, 14)]

    assert drawn("x-1") == drawn("x-1")
    assert drawn("x-1") != drawn("x-2")


def test_the_body_given_is_left_as_it_was() -> None:
    given = body()
    variants(given, "x-1", len(TRANSFORMS))
    assert given == body()


def test_transforms_are_named_or_all_and_an_unknown_one_is_refused() -> None:
    assert parse_transforms([]) == tuple(TRANSFORMS)
    assert parse_transforms(["onset-later", "logs-lag"]) == ("logs-lag", "onset-later")
    with pytest.raises(UnknownTransformError, match="expected one of traces-sampled"):
        parse_transforms(["logs-cut"])
