"""Metric charts as server-rendered SVG geometry: no charting library, no script.

A chart spans the evidence window (stretched to hold every point), shades the incident itself
(start to end, or to the window's end while it is open), marks the onset and every change
event inside the window, and draws the series as one polyline. Long series are reduced to
the minimum and maximum of each pixel column, so a spike survives downsampling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chronosops.core.artifacts import ChangeEvent, MetricSeries, SeriesPoint
from chronosops.core.windows import TimeWindow
from chronosops.web.pages.rendering import anchor, instant, number

WIDTH = 640
HEIGHT = 200
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 30
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
# Two values per pixel column keep the shape of a series whatever its length.
MAX_POINTS = 2 * PLOT_WIDTH


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    label: str
    change_type: str
    anchor: str


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    polyline: str
    dots: list[tuple[float, float]]
    shade: tuple[float, float] | None
    onset_x: float | None
    markers: list[Marker]
    x_ticks: list[Tick]
    y_ticks: list[Tick]

    @property
    def bottom(self) -> int:
        return self.top + self.plot_height

    @property
    def right(self) -> int:
        return self.left + self.plot_width


def _reduce(points: Sequence[SeriesPoint], start: datetime, span: float) -> list[SeriesPoint]:
    if len(points) <= MAX_POINTS:
        return list(points)
    columns: dict[int, list[SeriesPoint]] = {}
    for point in points:
        column = int((point.ts - start).total_seconds() / span * (PLOT_WIDTH - 1))
        columns.setdefault(column, []).append(point)
    reduced: list[SeriesPoint] = []
    for members in columns.values():
        low = min(members, key=lambda p: p.value)
        high = max(members, key=lambda p: p.value)
        reduced.extend(sorted({id(low): low, id(high): high}.values(), key=lambda p: p.ts))
    return reduced


def _time_label(value: datetime, span_seconds: float) -> str:
    return value.strftime("%H:%M" if span_seconds < 86400 * 2 else "%m-%d %H:%M")


def metric_chart(
    series: MetricSeries,
    *,
    window: TimeWindow,
    incident_start: datetime,
    incident_end: datetime | None,
    changes: Sequence[ChangeEvent] = (),
) -> Chart:
    points = sorted(series.points, key=lambda p: p.ts)
    start = min([window.start, *(p.ts for p in points[:1])])
    end = max([window.end, *(p.ts for p in points[-1:])])
    span = max((end - start).total_seconds(), 1.0)

    def x_of(at: datetime) -> float:
        return round(LEFT + (at - start).total_seconds() / span * PLOT_WIDTH, 1)

    values = [p.value for p in points]
    low = min([0.0, *values])
    high = max([*values, 0.0])
    if high == low:
        high = low + 1.0
    high += (high - low) * 0.08  # headroom so the peak does not touch the frame

    def y_of(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * PLOT_HEIGHT, 1)

    reduced = _reduce(points, start, span)
    polyline = " ".join(f"{x_of(p.ts)},{y_of(p.value)}" for p in reduced)
    shade_end = incident_end or end
    shade = (
        (x_of(max(incident_start, start)), x_of(min(shade_end, end)))
        if start <= incident_start <= end
        else None
    )
    markers = [
        Marker(
            x=x_of(change.timestamp),
            label=f"{change.change_type} {instant(change.timestamp)}: {change.description}",
            change_type=change.change_type,
            anchor=anchor(change.artifact_id),
        )
        for change in changes
        if start <= change.timestamp <= end
    ]
    x_ticks = [
        Tick(
            at=LEFT + PLOT_WIDTH * i / 4,
            label=_time_label(start + timedelta(seconds=span * i / 4), span),
        )
        for i in range(5)
    ]
    y_ticks = [
        Tick(at=y_of(value), label=number(value)) for value in (low, low + (high - low) / 2, high)
    ]
    unit = f" {series.unit}" if series.unit else ""
    stats = series.stats
    description = (
        f"{stats.count} points from {instant(points[0].ts) if points else '—'} to "
        f"{instant(points[-1].ts) if points else '—'}; min {number(stats.min)}{unit}, "
        f"mean {number(stats.mean)}{unit}, max {number(stats.max)}{unit}, "
        f"last {number(stats.last)}{unit}. The shaded band is the incident"
        + (f"; {len(markers)} change event(s) marked." if markers else ".")
    )
    return Chart(
        title=series.title,
        description=description,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        plot_width=PLOT_WIDTH,
        plot_height=PLOT_HEIGHT,
        polyline=polyline,
        dots=[(x_of(p.ts), y_of(p.value)) for p in reduced] if len(reduced) <= 2 else [],
        shade=shade,
        onset_x=x_of(incident_start) if start <= incident_start <= end else None,
        markers=markers,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )
