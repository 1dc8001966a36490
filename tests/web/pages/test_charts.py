"""Metric charts: the incident shaded, change events marked, spikes kept when downsampling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chronosops.core.artifacts import ChangeEvent, MetricSeries, SeriesPoint, SeriesStats
from chronosops.core.windows import TimeWindow
from chronosops.web.pages.charts import LEFT, MAX_POINTS, PLOT_WIDTH, TOP, metric_chart

T0 = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
WINDOW = TimeWindow(start=T0, end=T0 + timedelta(minutes=60))


def series(values: list[float], step: timedelta = timedelta(minutes=1)) -> MetricSeries:
    points = [SeriesPoint(ts=T0 + step * i, value=v) for i, v in enumerate(values)]
    return MetricSeries(
        artifact_id="metric:x",
        title="latency",
        summary="",
        source="test",
        name="latency",
        points=points,
        stats=SeriesStats(
            count=len(values),
            min=min(values),
            max=max(values),
            mean=sum(values) / len(values),
            median=sorted(values)[len(values) // 2],
            first=values[0],
            last=values[-1],
        ),
    )


def deploy(at: datetime) -> ChangeEvent:
    return ChangeEvent(
        artifact_id="change:1",
        title="deploy",
        summary="",
        source="test",
        change_type="deploy",
        timestamp=at,
        description="v2",
    )


def xs(polyline: str) -> list[float]:
    return [float(pair.split(",")[0]) for pair in polyline.split()]


def test_the_incident_is_shaded_from_its_start_to_its_end() -> None:
    chart = metric_chart(
        series([1.0] * 61),
        window=WINDOW,
        incident_start=T0 + timedelta(minutes=15),
        incident_end=T0 + timedelta(minutes=45),
    )
    assert chart.shade == (LEFT + PLOT_WIDTH / 4, LEFT + PLOT_WIDTH * 3 / 4)
    assert chart.onset_x == LEFT + PLOT_WIDTH / 4


def test_an_open_incident_is_shaded_to_the_end_of_the_window() -> None:
    chart = metric_chart(
        series([1.0] * 61),
        window=WINDOW,
        incident_start=T0 + timedelta(minutes=30),
        incident_end=None,
    )
    assert chart.shade == (LEFT + PLOT_WIDTH / 2, LEFT + PLOT_WIDTH)


def test_change_events_in_the_window_are_marked_and_others_are_not() -> None:
    chart = metric_chart(
        series([1.0] * 61),
        window=WINDOW,
        incident_start=T0,
        incident_end=None,
        changes=[deploy(T0 + timedelta(minutes=30)), deploy(T0 + timedelta(hours=5))],
    )
    assert [m.x for m in chart.markers] == [LEFT + PLOT_WIDTH / 2]
    assert chart.markers[0].anchor.startswith("ev-")
    assert "deploy" in chart.markers[0].label


def test_the_peak_is_drawn_at_the_top_and_zero_at_the_bottom() -> None:
    chart = metric_chart(
        series([0.0, 50.0, 100.0]), window=WINDOW, incident_start=T0, incident_end=None
    )
    ys = [float(pair.split(",")[1]) for pair in chart.polyline.split()]
    assert ys[0] == TOP + chart.plot_height
    assert TOP < ys[2] < ys[1] < ys[0]


def test_a_long_series_is_reduced_but_keeps_its_spike() -> None:
    values = [1.0] * 20_000
    values[12_345] = 999.0
    long = series(values, step=timedelta(seconds=0.18))
    chart = metric_chart(long, window=WINDOW, incident_start=T0, incident_end=None)
    assert len(chart.polyline.split()) <= MAX_POINTS
    assert xs(chart.polyline) == sorted(xs(chart.polyline))
    top = min(float(pair.split(",")[1]) for pair in chart.polyline.split())
    assert top < TOP + chart.plot_height * 0.1  # the spike reaches the top of the plot


def test_points_outside_the_window_stretch_the_chart_to_hold_them() -> None:
    early = series([1.0, 2.0], step=timedelta(hours=2))  # second point two hours after T0
    chart = metric_chart(early, window=WINDOW, incident_start=T0, incident_end=None)
    assert xs(chart.polyline) == [LEFT, LEFT + PLOT_WIDTH]
    assert chart.dots  # two points: drawn as dots too, or a reader would see only a line
