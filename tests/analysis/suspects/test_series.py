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


def test_a_short_baseline_reads_a_cpu_pinned_from_idle_on_each_sides_own_level() -> None:
    # Nezha's food-service CPU contention `…144957` with 5 min of evidence before the alert:
    # three idle minutes near 1%, then the injection's minute and three pinned ones. The
    # pinned minutes wobble by points (85–100%), which as they stand set the pooled spread
    # and read the hundredfold step as eight spreads (0.38); each side on its own level, it
    # is a plain step.
    metrics = short_window("cpu_usage_percent", [0.95, 0.91, 0.94], [1.21, 99.9, 99.9, 85.5])
    assert suspect_kinds(metrics=metrics)["web"]["cpu"] >= 0.55


def test_a_short_baseline_on_each_sides_level_leaves_a_latency_spike_on_its_pooled_spread() -> None:
    # The proportional reading is the CPU's: an idle service's latency tail swinging on a
    # few calls keeps the spread both sides show as they stand.
    metrics = short_window(
        "server_latency_p99_seconds", [0.005, 0.0049, 0.005], [0.4, 0.005, 0.3, 0.005]
    )
    assert suspect_kinds(metrics=metrics).get("web", {}).get("latency", 0.0) < 0.3


def test_an_earlier_fault_that_ended_two_minutes_before_the_baselines_end_is_split_off() -> None:
    # Nezha's shipping CPU hog `…155624`: the same service's earlier hog (CPU ~100%) fills the
    # window until two minutes before the cut's baseline ends, then the CPU idles near 3%, and
    # at the fault it runs at 80–89% on the same traffic. A latest regime of four points would
    # reach back into the earlier hog (its median half-way up), and the CPU read 0.2 spreads.
    cpu = {m: 95.0 + (m % 3) for m in range(-15, -4)}
    cpu |= {-4: 3.0, -3: 3.5, -2: 3.2}
    cpu |= {m: 85.0 + 2 * (m % 2) for m in range(-1, 5)}
    requests = {m: 2.5 + 0.05 * (m % 2) for m in range(-15, -1)}
    requests |= {m: 2.55 + 0.05 * (m % 2) for m in range(-1, 5)}
    metrics = flat("cpu_usage_percent", cpu, {"service": "shipping"})
    metrics += flat("requests_per_second", requests, {"service": "shipping"})
    assert suspect_kinds(metrics=metrics)["shipping"].get("cpu", 0.0) >= 0.5


def test_a_calm_baseline_whose_last_two_points_dip_keeps_all_its_points() -> None:
    baseline = [1.0, 1.02, 0.98, 1.0, 0.99, 1.01, 1.0, 0.9, 0.92]
    assert latest_regime(baseline, floor=0.01, relative=0.05) == baseline


def test_a_short_latest_regime_is_taken_only_where_no_four_point_one_is_found() -> None:
    # An earlier fault ending four points before the end: the four calm points are the regime,
    # not the last two of them.
    baseline = [2.0, 2.1, 1.9, 2.0, 0.1, 0.11, 0.1, 0.09]
    assert latest_regime(baseline, floor=0.01, relative=0.05) == [0.1, 0.11, 0.1, 0.09]
    assert latest_regime([2.0, 2.1, 1.9, 2.0, 2.05, 0.1, 0.11], floor=0.01, relative=0.05) == [
        0.1,
        0.11,
    ]
    # Three calm points: the four-point regime holds one of the fault's, and is taken.
    assert latest_regime([2.0, 2.1, 1.9, 2.0, 0.1, 0.11, 0.1], floor=0.01, relative=0.05) == [
        2.0,
        0.1,
        0.11,
        0.1,
    ]


def test_a_noisy_baseline_whose_last_two_points_sit_low_keeps_all_its_points() -> None:
    # TrainTicket's ts-basic-service p90 (`…095804`) swings between ~0.08 s and ~0.8 s minute
    # to minute; its last two baseline minutes both low are no step out of an earlier fault.
    baseline = [0.55, 0.073, 0.091, 0.392, 0.8, 0.39, 0.775, 0.0788, 0.0875]
    assert latest_regime(baseline, floor=0.001, relative=0.2) == baseline


def test_a_latency_getting_worse_over_its_last_baseline_points_keeps_all_its_points() -> None:
    # A gradual degradation builds up before the alert: its last points step up, not down out
    # of an earlier fault, and reading the incident against them would hide it.
    building_up = [0.1, 0.11, 0.1, 0.1, 0.105, 0.1, 0.1, 2.0, 2.1]
    assert latest_regime(building_up, floor=0.001, relative=0.2, worse="up") == building_up
    recovered = [0.1, 0.11, 0.1, 0.1, 0.105, 2.0, 2.1, 0.1, 0.11]
    assert latest_regime(recovered, floor=0.001, relative=0.2, worse="up") == [0.1, 0.11]
