"""A metric series read against its baseline: the deviation of one series in its kind's
direction, with its baseline taken from its latest regime."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from chronosops.analysis.signals import KIND_DIRECTION, SignalTable, peer_of, unit_floor
from chronosops.analysis.statistics import MAD_SCALE, mad, median
from chronosops.analysis.suspects.cut import MIN_BASELINE, Cut, deviation
from chronosops.core.artifacts import MetricSeries

MIN_WEAK_BASELINE = 2  # two or three points: read on a pooled spread, weighed down
WEAK_SUPPORT = 0.7


def own_sides(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut, kind: str
) -> Iterator[tuple[str, MetricSeries, list[float], list[float]]]:
    """A service's own series of one signal kind (not a call edge's, which a peer label marks),
    by service, with both sides of the cut, where both have the support a robust reading
    needs."""
    for item in series:
        if item.service is None or peer_of(item.labels):
            continue
        if table.kind_of(item.name, item.labels) != kind:
            continue
        before, after = cut.sides(item)
        if len(before) >= MIN_BASELINE and len(after) >= 2:
            yield item.service, item, before, after


def series_evidence(
    series: MetricSeries, table: SignalTable, cut: Cut
) -> tuple[str, float, float] | None:
    """(kind, signed deviation, weight) of one series, or None.

    Four baseline points or more: the robust deviation. Two or three (a window cut short by
    the previous incident): the deviation on both sides' pooled spread against a wider floor,
    weighed down (weak support; `pooled_deviation`). Fewer: nothing.
    """
    kind = table.kind_of(series.name, series.labels)
    if kind is None:
        return None
    before, after = cut.sides(series)
    if len(before) < MIN_WEAK_BASELINE or len(after) < 2:
        return None
    relative = 0.2 if kind == "latency" else 0.05
    floor = unit_floor(series.name, kind, series.unit)
    if kind == "memory":
        # A container's footprint is flat between collections: a step of a point from a flat
        # baseline is the process changing (new code running, a leak), not noise.
        relative, floor = FOOTPRINT_RELATIVE, FOOTPRINT_FLOOR * floor
    before = latest_regime(
        before, floor=floor, relative=relative, worse=KIND_DIRECTION.get(kind, "up")
    )
    if len(before) < MIN_BASELINE:
        return (
            kind,
            pooled_deviation(
                before,
                after,
                floor=2 * floor,
                relative=relative,
                proportional=kind in PROPORTIONAL_KINDS,
            ),
            WEAK_SUPPORT,
        )
    return kind, deviation(before, after, floor=floor, relative=relative), 1.0


def pooled_deviation(
    before: Sequence[float],
    after: Sequence[float],
    *,
    floor: float,
    relative: float,
    proportional: bool = False,
) -> float:
    """The move of a series whose baseline is too short to show its own spread (two or three
    points: a window cut short by the previous incident), scaled by the spread both sides show
    around their own medians (engine 3.33), as a two-sample test pools its variances where one
    sample alone cannot give one. A fault that steps a level leaves each side about as steady
    as before; one that only adds noise widens the pooled spread with it. Before 3.33 the scale
    was a quarter of the level, whatever the series: a CPU tripling read as eight spreads."""
    return (median(after) - median(before)) / pooled_scale(
        before, after, floor=floor, relative=relative, proportional=proportional
    )


# Kinds whose wobble grows with their level (engine 3.50): a CPU share is the work done in the
# minute, and a container pinned at its limit wobbles by points where it wobbled by hundredths
# idle. Pooling the two sides' spreads as they stand lets the busier side's set the scale of
# the step between them: a CPU from 1% to 90-100% read as eight spreads on a short baseline.
PROPORTIONAL_KINDS = frozenset({"cpu"})


def pooled_scale(
    before: Sequence[float],
    after: Sequence[float],
    *,
    floor: float,
    relative: float,
    proportional: bool = False,
) -> float:
    """`pooled_deviation`'s scale: the spread both sides show around their own medians.

    ``proportional`` (`PROPORTIONAL_KINDS`): each side's spread as a share of its own level,
    pooled, and read at the baseline's level, as a spread read on a log scale is."""
    centre, level = median(before), median(after)
    if proportional and centre > 0 and level > 0:
        shares = [abs(v - centre) / centre for v in before] + [
            abs(v - level) / level for v in after
        ]
        spread = median(shares) * centre
    else:
        spread = median([abs(v - centre) for v in before] + [abs(v - level) for v in after])
    return max(MAD_SCALE * spread, relative * abs(centre), floor)


# Memory is read against a fiftieth of its level and a tenth of the kind's unit floor.
FOOTPRINT_RELATIVE = 0.02
FOOTPRINT_FLOOR = 0.1


# How many of the later stretch's spreads an earlier stretch of the baseline must sit away to be
# another regime (an earlier fault, its recovery), and the points each side needs.
REGIME_SHIFT = 5.0
REGIME_MIN_HEAD = 2


def latest_regime(
    before: list[float], *, floor: float, relative: float, worse: str = "both"
) -> list[float]:
    """The baseline since its own last level shift: a window reaching back into an earlier
    fault (or its recovery) compares the incident with that fault, and its spread drowns the
    incident. Split where the earlier part's median sits furthest from the later part's, in
    the later part's spreads; at REGIME_SHIFT or more, only the later part is the baseline
    (it keeps MIN_BASELINE points at least).

    Where no such split is found, an earlier fault may have ended only two points before the
    baseline's end (engine 3.45; with three, the four-point regime holds one point of it and
    its median is already the later level): those two points are the only ones that show the
    service as it ran before this incident. Two points cannot show their own spread, so they
    are read against the two points just before them, on the spread both pairs show around
    their own medians (`pooled_scale`, relative to the later pair's level), and split off at
    REGIME_SHIFT of that: a step, not a noisy series whose last two points happen to be low.
    The step must come down from worse (``worse``: the kind's bad direction,
    `signals.KIND_DIRECTION`): a fault that ended is a recovery, while a series getting worse
    over its last points is this incident building up (a gradual degradation), not a regime to
    read it against (3.42's onset reads the same way). `series_evidence` then reads the short
    baseline as it reads a window the previous incident cut short (3.33)."""
    if len(before) < 2 * MIN_WEAK_BASELINE:
        return before
    if len(before) >= MIN_BASELINE + REGIME_MIN_HEAD:
        best, split = 0.0, 0
        for k in range(REGIME_MIN_HEAD, len(before) - MIN_BASELINE + 1):
            tail = before[k:]
            centre = median(tail)
            scale = max(MAD_SCALE * mad(tail), relative * abs(centre), floor)
            shift = abs(median(before[:k]) - centre) / scale
            if shift > best:
                best, split = shift, k
        if best >= REGIME_SHIFT:
            return before[split:]
    tail, previous = (
        before[-MIN_WEAK_BASELINE:],
        before[-2 * MIN_WEAK_BASELINE : -MIN_WEAK_BASELINE],
    )
    step = median(previous) - median(tail)
    if worse == "up":
        step = max(0.0, step)
    elif worse == "down":
        step = max(0.0, -step)
    scale = pooled_scale(tail, previous, floor=floor, relative=relative)
    return tail if abs(step) / scale >= REGIME_SHIFT else before


def directional(kind: str, z: float) -> float:
    direction = KIND_DIRECTION.get(kind, "up")
    if direction == "up":
        return max(0.0, z)
    if direction == "down":
        return max(0.0, -z)
    return abs(z)
