"""Saturation read against load (engine 3.6).

A service is saturated when its CPU rises beyond what its own request rate explains and its
own time gets slower. CPU that rises in proportion to its requests is load; a latency
percentile its own operations do not show is its callees' time or a tail of a few calls; a
tail that moves while the median holds is a slower path, not saturation.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence

from chronosops.analysis.quantiles import is_median
from chronosops.analysis.signals import SignalTable, peer_of, unit_floor
from chronosops.analysis.statistics import MAD_SCALE, mad, median
from chronosops.analysis.suspects.cut import MIN_BASELINE, Cut, strength_of
from chronosops.analysis.suspects.edges import CALM_EDGE_Z
from chronosops.analysis.suspects.series import (
    latest_regime,
    own_sides,
    pooled_scale,
    series_evidence,
)
from chronosops.analysis.suspects.spans import GroupMove, group_move
from chronosops.analysis.suspects.suspect import Suspect
from chronosops.core.artifacts import MetricSeries, SpanGroup

# Spans (on the thinner side, summed over its operations) a service's own time needs to speak.
CALM_OWN_SUPPORT = 10
# An operation's own time moved by less than this (in a quarter of its baseline or 1 ms) is
# unmoved.
CALM_OWN_Z = 1.0
# What is left of a service's latency percentiles when its own operations serve as fast as
# before: the percentile still says its callers waited, not that it is the cause.
UNSHOWN_LATENCY_SHARE = 0.5
# A CPU's and a request rate's spread is at least this share of their level (as
# `series.series_evidence` reads them).
RELATIVE = 0.05


def read_against_load(
    series: Sequence[MetricSeries],
    spans: Sequence[SpanGroup],
    table: SignalTable,
    cut: Cut,
    suspects: dict[str, Suspect],
) -> None:
    """CPU strength becomes the CPU beyond the load the service's requests explain; latency
    percentiles of a service whose measured own time did not move count for less, and the
    service is marked so its family is not read as saturation from them."""
    for service, strength in cpu_beyond_load(series, table, cut).items():
        suspect = suspects.get(service)
        if suspect is not None and "cpu" in suspect.kinds:
            suspect.kinds["cpu"] = min(suspect.kinds["cpu"], strength)
    for service in own_time_calm(spans, cut):
        suspect = suspects.get(service)
        if suspect is None:
            continue
        suspect.own_time_calm = True
        if "latency" in suspect.kinds:
            suspect.kinds["latency"] *= UNSHOWN_LATENCY_SHARE


def own_time_calm(spans: Sequence[SpanGroup], cut: Cut) -> set[str]:
    """Services whose spans measure their own time (well-supported operations, parents known)
    and whose every such operation serves as fast as before the fault."""
    moves: dict[str, list[GroupMove]] = defaultdict(list)
    for group in spans:
        if group.peer_service:
            continue
        move = group_move(group, cut, own=True)
        if move is not None:
            moves[group.service].append(move)
    return {
        service
        for service, found in moves.items()
        if sum(m.support for m in found) >= CALM_OWN_SUPPORT
        and max(m.z() for m in found) < CALM_OWN_Z
    }


def cpu_beyond_load(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut
) -> dict[str, float]:
    """Per service whose request rate rose: the strength (0-1) of its CPU rise beyond the CPU
    its baseline spends per request would spend on the requests after the fault's start."""
    rates: dict[str, float] = {}
    for item in series:
        if (
            item.service is None
            or peer_of(item.labels)
            or table.kind_of(item.name, item.labels) != "traffic"
        ):
            continue
        before, after = cut.sides(item)
        if len(before) >= MIN_BASELINE and after:
            # Both baselines from their latest regime, as `series.series_evidence` reads every
            # series (engine 3.33): a window reaching back into an earlier fault (a CPU hog
            # minutes before, its callers' traffic dipping with it) would read this incident's
            # CPU against that fault's and its spread.
            before = latest_regime(
                before, floor=unit_floor(item.name, "traffic", item.unit), relative=RELATIVE
            )
            if median(before) > 0:
                rise = median(after) / median(before)
                rates[item.service] = max(rates.get(item.service, 0.0), rise)
    found: dict[str, float] = {}
    for service, item, before, after in own_sides(series, table, cut, "cpu"):
        ratio = rates.get(service)
        if ratio is None or ratio <= 1.0:
            continue
        floor = unit_floor(item.name, "cpu", item.unit)
        before = latest_regime(before, floor=floor, relative=RELATIVE, worse="up")
        centre = median(before)
        if len(before) < MIN_BASELINE:
            # An earlier fault ended two or three points before the baseline's end: read on
            # both sides' pooled spread, as `series_evidence` reads that CPU (engine 3.45).
            scale = pooled_scale(
                before, after, floor=2 * floor, relative=RELATIVE, proportional=True
            )
        else:
            scale = max(MAD_SCALE * mad(before), RELATIVE * abs(centre), floor)
        beyond = (median(after) - centre * ratio) / scale
        found[service] = max(found.get(service, 0.0), strength_of(beyond))
    return found


_MEDIAN = re.compile(r"(?:^|[^a-z0-9])(?:p50|median|quantile_0?\.5)(?:[^0-9]|$)", re.IGNORECASE)


def median_calm(series: Sequence[MetricSeries], table: SignalTable, cut: Cut) -> set[str]:
    """Services whose own median latency (a p50 series of their own, or their own view of the
    calls into them, labelled with the caller) did not move at the onset, read on every such
    series with a full baseline. Saturation — a CPU, a pool, a queue running out — slows every
    request, the typical one included; a tail that moves while the median holds is a share of
    the requests taking another, slower path (an exception's handling, a retry, a branch)."""
    moved: dict[str, float] = {}
    for item in series:
        if item.service is None or peer_of(item.labels):
            continue
        if not (_MEDIAN.search(item.name) or is_median(item)):
            continue
        found = series_evidence(item, table, cut)
        if found is None or found[0] != "latency" or found[2] < 1.0:
            continue
        moved[item.service] = max(moved.get(item.service, -math.inf), found[1])
    return {service for service, z in moved.items() if z < CALM_EDGE_Z}
