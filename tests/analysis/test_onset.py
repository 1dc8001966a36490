"""The reported start, kept where the metrics agree with it and moved where they place the fault
clearly elsewhere (`analysis.onset`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chronosops.analysis.onset import anchored_onset
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.suspects.cut import Cut
from chronosops.analysis.units import normalise
from chronosops.core.artifacts import MetricSeries
from chronosops.core.timestamps import format_instant
from tests.analysis.builders import ONSET, analysis_input

# Scrapes 40 s into each minute; the fault begins on the minute (ONSET), so the first point that
# holds it is ONSET + 40 s, and the alert that reports it a minute later says ONSET + 1 min.
SCRAPE = timedelta(seconds=40)
FAULT = ONSET
REPORTED = FAULT + timedelta(minutes=1)


def _points(
    name: str, service: str, before: float, after: float, *, steps: bool = True
) -> list[dict[str, Any]]:
    points = []
    for minute in range(-10, 5):
        ts = FAULT + timedelta(minutes=minute) + SCRAPE
        jitter = 1 + 0.02 * ((minute % 3) - 1)
        level = after if steps and ts > FAULT else before
        points.append(
            {
                "name": name,
                "value": round(level * jitter, 6),
                "timestamp": format_instant(ts),
                "labels": {"service": service},
            }
        )
    return points


def _incident(*, stepping: int = 4, flat: int = 4) -> list[dict[str, Any]]:
    """``stepping`` services whose CPU and latency step up at the fault, ``flat`` that do not."""
    metrics: list[dict[str, Any]] = []
    for n in range(stepping):
        metrics += _points("cpu_usage_percent", f"svc{n}", 20, 90)
        metrics += _points("http_request_duration_seconds_p95", f"svc{n}", 0.05, 0.5)
    for n in range(flat):
        metrics += _points("cpu_usage_percent", f"calm{n}", 20, 20, steps=False)
        metrics += _points("http_request_duration_seconds_p95", f"calm{n}", 0.05, 0.05, steps=False)
    return metrics


def _anchored(metrics: list[dict[str, Any]], reported: Any) -> Any:
    request = analysis_input(metrics=metrics)
    return anchored_onset(normalise(request.artifacts, DEFAULT_TABLE), reported)


def _cut_sides(metrics: list[dict[str, Any]], reported: Any) -> tuple[list[float], list[float]]:
    request = analysis_input(metrics=metrics)
    artifacts = normalise(request.artifacts, DEFAULT_TABLE)
    cut = Cut.around(anchored_onset(artifacts, reported))
    series = next(a for a in artifacts if isinstance(a, MetricSeries) and a.service == "svc0")
    return cut.sides(series)


def test_a_reported_start_the_metrics_agree_with_is_kept() -> None:
    assert _anchored(_incident(), REPORTED) == REPORTED


def test_a_start_reported_a_minute_early_is_moved_to_where_the_fault_shows() -> None:
    moved = _anchored(_incident(), REPORTED - timedelta(minutes=1))
    assert abs(moved - REPORTED) < timedelta(seconds=30)


def test_a_start_reported_a_minute_late_is_moved_to_where_the_fault_shows() -> None:
    moved = _anchored(_incident(), REPORTED + timedelta(minutes=1))
    assert abs(moved - REPORTED) < timedelta(seconds=30)


def test_the_metric_cut_reads_the_same_sides_whether_the_alert_was_early_on_time_or_late() -> None:
    metrics = _incident()
    on_time = _cut_sides(metrics, REPORTED)
    assert _cut_sides(metrics, REPORTED - timedelta(minutes=1)) == on_time
    assert _cut_sides(metrics, REPORTED + timedelta(minutes=1)) == on_time


def test_one_service_stepping_does_not_move_the_reported_start() -> None:
    # Two series of one service step: fewer than MIN_STEPS.
    metrics = _incident(stepping=1, flat=6)
    early = REPORTED - timedelta(minutes=1)
    assert _anchored(metrics, early) == early


def test_steps_in_a_small_share_of_the_series_read_do_not_move_the_reported_start() -> None:
    # 4 of 120 series step together: under MIN_SHARE, as the background of a large system steps.
    metrics = _incident(stepping=2, flat=58)
    early = REPORTED - timedelta(minutes=1)
    assert _anchored(metrics, early) == early


def test_a_step_far_from_the_reported_start_does_not_move_it() -> None:
    # The reported start five minutes after the fault: beyond the prior, the report stands.
    late = REPORTED + timedelta(minutes=5)
    assert _anchored(_incident(), late) == late
