"""How much traffic backs a service's percentiles: its baseline requests per second, and the
support (0.2–1) its latency and error readings get from them."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from chronosops.analysis.signals import SignalTable, peer_of
from chronosops.analysis.statistics import median
from chronosops.analysis.suspects.cut import Cut
from chronosops.core.artifacts import MetricSeries, SpanGroup

# Requests per second under which a service's latency percentiles are mostly noise.
LOW_TRAFFIC_RPS = 0.5


def own_request_rate(item: MetricSeries, table: SignalTable) -> bool:
    """A service's own requests per second: a traffic series of a service, not of a call
    edge (no peer label), named as a rate (a count or a byte rate says less about load)."""
    return (
        item.service is not None
        and table.kind_of(item.name, item.labels) == "traffic"
        and not peer_of(item.labels)
        and ("per_second" in item.name or "rps" in item.name.lower())
    )


def traffic_of(
    series: Sequence[MetricSeries], spans: Sequence[SpanGroup], table: SignalTable, cut: Cut
) -> dict[str, float]:
    """Baseline requests per second per service: from a rate series, else from its spans."""
    found: dict[str, float] = {}
    for item in series:
        if item.service is None or not own_request_rate(item, table):
            continue
        before = [p.value for p in item.points if p.ts < cut.baseline_end]
        if before:
            found[item.service] = max(found.get(item.service, 0.0), median(before))
    counted: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # spans, minutes
    for group in spans:
        if group.peer_service or group.service in found:
            continue
        buckets = [b for b in group.histogram if b.ts < cut.fault_start]
        counted[group.service][0] += sum(b.count for b in buckets)
        counted[group.service][1] = max(counted[group.service][1], float(len(buckets)))
    for service, (count, minutes) in counted.items():
        if minutes:
            found[service] = count / (60 * minutes)  # sampled spans: a lower bound
    return found


def support(service: str, traffic: dict[str, float]) -> float:
    """How far a service's percentiles can be trusted (0.2–1): a near-idle one's swing on a
    handful of calls. A service with no traffic figure, where others have one, counts as idle."""
    if not traffic:
        return 1.0
    rate = traffic.get(service, 0.0)
    return max(0.2, min(1.0, math.sqrt(rate / LOW_TRAFFIC_RPS)))
