"""When the fault began, read from the metrics, with the reported start as the prior.

The engine reads an incident around its reported start (`timeline.start`): the metric cut takes
the fault from a minute before it (`suspects.cut.Cut.around`), the code-path readings split the
logs there (`code_paths.FAULT_LEAD`). An alert rule with another ``for:`` or evaluation interval
reports the same fault a minute earlier or later, and every one of those readings moves with it
(`bench nezha --perturb`, transforms ``onset-earlier`` / ``onset-later``).

`anchored_onset` keeps the reported start where the metrics agree with it and moves it where they
clearly place the fault elsewhere:

1. *Where the fault shows.* Each series of a kind with a bad direction (`signals.KIND_DIRECTION`)
   gives the first point, in the stretch where the fault would show if the report were off by
   at most ``PRIOR_MINUTES``, from which it is worse than the median of all its earlier points
   by ``STEP_SPREADS`` spreads on that point and the next. The instant most series step at is
   where the fault shows, when at least ``MIN_STEPS`` series and ``MIN_SHARE`` of the series
   read step there, and no other instant holds half as many (``DOMINANCE``): a fault steps its
   own and its neighbours' series together; the background of a large system steps a few
   series at a time, at any instant.
2. *Whether the report agrees.* A point scraped over a rate window shows a fault once a good
   part of its window holds it: the first point that steps follows the fault's start by
   ``SHOWS_EARLIEST`` to ``SHOWS_LATEST`` scrape spacings. A reported fault start (a minute
   before the reported start) in that interval is kept, whatever else the metrics say.
3. *Where to move it.* Else the fault start is put in the middle of that interval, only if the
   estimate holds there: read again around the start it proposes, the metrics must place the
   fault at the same point (else the stretch's edge spoke, not the fault).

Where the metrics place nothing clearly (code faults that leave no metric step, a large system
whose background steps as often as its faults), the reported start stands.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from chronosops.analysis.signals import DEFAULT_TABLE, KIND_DIRECTION, SignalTable, unit_floor
from chronosops.analysis.statistics import MAD_SCALE, mad, median
from chronosops.core.artifacts import Artifact, MetricSeries

# The reported start is when the fault was noticed; the fault began about this much earlier
# (the lead `Cut.around` and `code_paths.FAULT_LEAD` read).
REPORTED_LEAD = timedelta(minutes=1)
# How far off the reported start may be (an alert rule's evaluation interval or `for:` step).
PRIOR_MINUTES = 1.0
# A step is this many spreads of the series' earlier points, on two points in a row.
STEP_SPREADS = 4.0
# Series that must step at the same instant, and how many times more than at any other.
MIN_STEPS = 3
DOMINANCE = 2.0
# Of the series read, the share that must step there.
MIN_SHARE = 0.06
# The first point that shows a fault holds at least this share of a spacing of it, and follows
# its start by at most this many spacings.
SHOWS_EARLIEST = 0.25
SHOWS_LATEST = 1.4
# Earlier points a step is read against.
MIN_BEFORE = 2
# Step instants closer than this are one instant (series scraped a second apart).
SAME_INSTANT = timedelta(seconds=30)


def _first_step(series: MetricSeries, kind: str, low: datetime, high: datetime) -> datetime | None:
    """The first point in [low, high] from which the series is worse than every earlier point's
    median by ``STEP_SPREADS`` spreads, on that point and the next."""
    direction = KIND_DIRECTION.get(kind)
    if direction is None:
        return None
    points = series.points
    floor = unit_floor(series.name, kind, series.unit)
    relative = 0.2 if kind == "latency" else 0.05
    for i in range(MIN_BEFORE, len(points) - 1):
        if not low <= points[i].ts <= high:
            continue
        before = [p.value for p in points[:i]]
        centre = median(before)
        scale = max(MAD_SCALE * mad(before), relative * abs(centre), floor)
        z = [(points[j].value - centre) / scale for j in (i, i + 1)]
        up = all(v > STEP_SPREADS for v in z)
        down = all(v < -STEP_SPREADS for v in z)
        if (direction == "up" and up) or (direction == "down" and down):
            return points[i].ts
        if direction == "both" and (up or down):
            return points[i].ts
    return None


def fault_shows_at(
    artifacts: Sequence[Artifact], reported: datetime, table: SignalTable = DEFAULT_TABLE
) -> tuple[datetime, timedelta] | None:
    """The instant most series step for the worse at, near the reported fault start, and the
    series' point spacing; None where no instant is supported and dominant."""
    fault = reported - REPORTED_LEAD
    # Where the fault's first point can be if the reported start is off by at most the prior.
    low = fault + timedelta(minutes=SHOWS_EARLIEST - PRIOR_MINUTES)
    high = fault + timedelta(minutes=SHOWS_LATEST + PRIOR_MINUTES)
    steps: list[datetime] = []
    spacings: list[float] = []
    read = 0
    for series in artifacts:
        if not isinstance(series, MetricSeries) or len(series.points) < MIN_BEFORE + 2:
            continue
        kind = table.kind_of(series.name, series.labels)
        if kind is None or kind not in KIND_DIRECTION:
            continue
        read += 1
        at = _first_step(series, kind, low, high)
        if at is not None:
            steps.append(at)
            points = series.points
            spacings.append(
                median([(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(points)])
            )
    if not steps:
        return None
    counts: Counter[datetime] = Counter()
    anchor: datetime | None = None
    for at in sorted(steps):
        if anchor is None or at - anchor > SAME_INSTANT:
            anchor = at
        counts[anchor] += 1
    ranked = counts.most_common()
    best, held = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if held < MIN_STEPS or held < DOMINANCE * runner_up or held < MIN_SHARE * read:
        return None
    return best, timedelta(seconds=median(spacings))


def anchored_onset(
    artifacts: Sequence[Artifact], reported: datetime, table: SignalTable = DEFAULT_TABLE
) -> datetime:
    """The reported start, or, where the metrics place the fault's first point clearly and the
    reported fault start is not in the interval before it, the start that puts it there."""
    found = fault_shows_at(artifacts, reported, table)
    if found is None:
        return reported
    shows, spacing = found
    fault = reported - REPORTED_LEAD
    if shows - SHOWS_LATEST * spacing <= fault < shows - SHOWS_EARLIEST * spacing:
        return reported
    moved = shows - (SHOWS_EARLIEST + SHOWS_LATEST) / 2 * spacing + REPORTED_LEAD
    # The estimate must hold where it puts the start: read around the start it proposes, the
    # evidence must place the fault at the same point (else it is the window's edge speaking).
    again = fault_shows_at(artifacts, moved, table)
    if again is None or abs((again[0] - shows).total_seconds()) > SAME_INSTANT.total_seconds():
        return reported
    return moved


__all__ = [
    "DOMINANCE",
    "MIN_STEPS",
    "PRIOR_MINUTES",
    "STEP_SPREADS",
    "anchored_onset",
    "fault_shows_at",
]
