"""A series read against its baseline: from its latest regime, and a step in a flat memory
footprint as a change inside the service."""

from __future__ import annotations

from chronosops.analysis.suspects import rank_suspects
from chronosops.analysis.suspects.series import latest_regime
from tests.analysis.builders import analysis_input, at, series
from tests.analysis.suspects.builders import flat, suspect_kinds


def test_a_baseline_reaching_back_into_an_earlier_fault_is_read_from_its_latest_regime() -> None:
    def seconds(minute: int) -> float:
        if minute < -7:
            return 2.0  # the previous incident, still in the window
        return 0.01 if minute < 0 else 0.05

    metrics = [
        {
            "name": "server_latency_p90_seconds",
            "value": seconds(minute) * (1 + 0.02 * ((minute % 3) - 1)),
            "timestamp": at(minute),
            "labels": {"service": "currency"},
        }
        for minute in range(-15, 15)
    ]
    assert suspect_kinds(metrics=metrics)["currency"].get("latency", 0.0) > 0.3


def test_a_calm_baseline_with_one_spike_keeps_all_its_points() -> None:
    baseline = [1.0, 1.02, 0.98, 5.0, 1.0, 0.99, 1.01, 1.0]
    assert latest_regime(baseline, floor=0.01, relative=0.05) == baseline


def footprint(before: float, after: float) -> dict[int, float]:
    return {minute: before if minute < 0 else after for minute in range(-15, 5)}


def test_a_memory_step_from_a_flat_footprint_reads_as_a_change_inside_the_service() -> None:
    from chronosops.analysis.engine import _family

    metrics = flat("memory_usage_percent", footprint(15.6, 16.6), {"service": "catalog"})
    request = analysis_input(metrics=metrics)
    suspect = rank_suspects(request.artifacts, request.context)[0]
    assert suspect.service == "catalog"
    assert suspect.kinds["memory"] >= 0.3
    assert _family(suspect) == "DEPLOY_BUG"


def test_a_memory_step_beside_a_hot_cpu_still_reads_as_saturation() -> None:
    from chronosops.analysis.engine import _family

    metrics = flat("memory_usage_percent", footprint(15.6, 18.0), {"service": "catalog"})
    metrics += series("cpu_usage_percent", 20, 95, service="catalog")
    request = analysis_input(metrics=metrics)
    assert _family(rank_suspects(request.artifacts, request.context)[0]) == "CAPACITY_SATURATION"


def test_memory_that_swings_with_collections_and_traffic_is_no_step() -> None:
    sawtooth = {minute: 15.0 + 1.5 * (minute % 4) for minute in range(-15, 5)}
    metrics = flat("memory_usage_percent", sawtooth, {"service": "catalog"})
    metrics += series("requests_per_second", 10, 14, service="catalog")
    found = suspect_kinds(metrics=metrics)
    assert found.get("catalog", {}).get("memory", 0.0) < 0.1


def short_window(name: str, before: list[float], after: list[float]) -> list[dict[str, object]]:
    """A window cut short by the previous incident: two or three baseline minutes (the cut's
    guard gap is the minute before the fault's), then the fault's minutes from −1 on."""
    first = -2 - len(before)
    minutes = [*range(first, first + len(before)), *range(-1, -1 + len(after))]
    return [
        {"name": name, "value": value, "timestamp": at(minute), "labels": {"service": "web"}}
        for minute, value in zip(minutes, [*before, *after], strict=True)
    ]


def test_a_short_baseline_reads_a_steady_step_on_the_spread_both_sides_show() -> None:
    # Two baseline minutes of CPU near 27%, then 80–104% for five minutes (Nezha's frontend
    # CPU contention `…035354`): the pooled spread (about two points, under the short
    # baseline's floor of four) makes it a step of 14 floors, where a quarter of the level made
    # it 8 (strength 0.38 after the weak baseline's 0.7; now 0.50).
    metrics = short_window("cpu_usage_percent", [26.7, 28.6], [80.5, 81.3, 100.2, 82.7, 104.5])
    assert suspect_kinds(metrics=metrics)["web"]["cpu"] >= 0.45


def test_a_short_baseline_does_not_read_noise_on_the_fault_side_as_a_step() -> None:
    # The same two baseline minutes, then a CPU that swings around a slightly higher level:
    # the swings widen the pooled spread, and the move stays a hint.
    metrics = short_window("cpu_usage_percent", [26.7, 28.6], [20.0, 45.0, 31.0, 50.0, 24.0])
    assert suspect_kinds(metrics=metrics).get("web", {}).get("cpu", 0.0) < 0.3
