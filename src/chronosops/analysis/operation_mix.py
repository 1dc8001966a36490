"""The mix of a service's own operations, read against its earlier incidents.

A handler that throws, or returns early on a value it cannot use, skips the calls it would have
made after that point: the spans of those calls stop while the handler's own keep coming. No
span needs to carry a status for this to show, and no log line: the share of the service's spans
that belong to each of its operations changes. OnlineBoutique's services log nothing, and its
bundles often hold no trace before the fault (the collector kept a few minutes around the alert),
so the mix is read against the service's *earlier incidents*: how much of its spans each
operation was each time, kept per incident beside the statement records
(`remembered_records`, stored in the ``statement_history`` table's JSON with no new column).

Only the falling direction is read, as for statements (`code_paths.missing_paths`): a share
that rises is the other side of one that fell, or traffic of another kind. An operation is read
only with support (the calls its usual share expects of this incident's spans,
``MIN_EXPECTED_CALLS``); it counts as fallen when its share is below ``FALL_RATIO`` of the low
end of its earlier shares (their lower quartile, so one earlier incident that held the same
fault does not widen what is usual) and the count is a Poisson tail against its usual share
(their median), Bonferroni over every operation read in the incident.

Measured on the tuned Nezha cases, in the benchmark's history order: adservice's
``getRandomAds``, 9–53 % of its ``GetAds`` in other incidents, falls to 1 and 3 of 62 in its two
code faults with spans, and nothing falls at any TrainTicket service. A mix shift is the
service's own code path only where what it was asked did not change first: where requests were
cut short below it, or a caller's mix shifted, every service downstream sees other requests
(`suspects.ranking` reads that guard, over the call graph).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from chronosops.analysis.code_paths import (
    HISTORY_MIN_INCIDENTS,
    ServiceStatements,
    statement_lines,
    strength_of,
)
from chronosops.analysis.models import OperationHistory
from chronosops.analysis.statistics import median
from chronosops.core.artifacts import Artifact, LogStatement, SpanGroup

# Calls an operation's usual share must expect of this incident's spans before its fall is
# read: a Poisson count expecting fewer swings on chance alone, and shares across incidents
# vary more than a Poisson count does (requests are not drawn one by one: a user session is a
# run of them).
MIN_EXPECTED_CALLS = 10
# The share now, against the lower quartile of the earlier shares, at or below which it fell
# outside what the service's incidents usually hold.
FALL_RATIO = 0.5
# The Poisson tail, Bonferroni over the operations read, at or below which the fall is read.
SIGNIFICANCE = 0.05


def operation_calls(artifacts: Sequence[Artifact]) -> dict[str, dict[str, int]]:
    """Calls of each operation of each service in its own spans (not its clients' view of a
    peer), over the whole bundle."""
    calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for group in artifacts:
        if isinstance(group, SpanGroup) and not group.peer_service:
            ran = sum(bucket.count for bucket in group.histogram) or group.count
            if ran:
                calls[group.service][group.operation] += ran
    return {service: dict(sorted(ops.items())) for service, ops in sorted(calls.items())}


def remembered_records(artifacts: Sequence[Artifact]) -> dict[str, ServiceStatements]:
    """What the service keeps of an incident for later ones, per service: the statement record
    (`code_paths.statement_lines`) where the service logged enough, and for every other service
    with spans of its own the same record with no statements and its operations' calls (its
    lines, fewer than the statements need, kept as counted). One JSON record per (incident,
    service): the statement history reads the first kind only (`code_paths.history_of` skips
    records with too few lines), the operation mix every record's calls."""
    kept = statement_lines(artifacts)
    lines: dict[str, int] = defaultdict(int)
    for statement in artifacts:
        if isinstance(statement, LogStatement):
            lines[statement.service] += sum(statement.levels.values())
    for service, calls in operation_calls(artifacts).items():
        if service not in kept:
            kept[service] = {"lines": lines.get(service, 0), "statements": {}, "calls": calls}
    return dict(sorted(kept.items()))


def operation_history_of(
    records: Sequence[tuple[str, ServiceStatements]],
) -> list[OperationHistory]:
    """Each service's operations over earlier incidents, from remembered records (one
    ``(service, record)`` per earlier incident): per incident whose record holds the service's
    calls, each operation's share of them (0 where it did not run)."""
    mixes: dict[str, list[dict[str, int]]] = defaultdict(list)
    for service, record in records:
        calls = record.get("calls")
        if not isinstance(calls, dict):
            continue  # kept before calls were
        ran = {operation: int(count) for operation, count in calls.items() if int(count) > 0}
        if ran:
            mixes[service].append(ran)
    found: list[OperationHistory] = []
    for service, mix in sorted(mixes.items()):
        operations = sorted({operation for calls in mix for operation in calls})
        for operation in operations:
            found.append(
                OperationHistory(
                    service=service,
                    operation=operation,
                    shares=[
                        round(calls.get(operation, 0) / sum(calls.values()), 6) for calls in mix
                    ],
                )
            )
    return found


def lower_quartile(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 4]


@dataclass(frozen=True)
class FallenOperation:
    """An operation whose share of its service's spans fell far below its earlier incidents'."""

    service: str
    operation: str
    calls: int  # its spans, this incident
    spans: int  # the service's own spans, this incident
    usual_share: float  # the median over the earlier incidents
    low_share: float  # their lower quartile
    incidents: int
    p_value: float  # Poisson P(≤ calls | usual share × spans), times the operations read
    refs: tuple[str, ...]  # the operation's span group, or the service's first

    @property
    def strength(self) -> float:
        return strength_of(self.p_value)

    def describe(self) -> str:
        return (
            f"{self.operation} on {self.service} was {self.calls} of its {self.spans} spans; in "
            f"{self.incidents} earlier incidents it was {self.usual_share:.0%} of them, "
            f"{self.usual_share * self.spans:.0f} expected (p = {self.p_value:.2g})"
        )


def poisson_at_most(k: int, mean: float) -> float:
    """P(X ≤ k) for X ~ Poisson(mean)."""
    if mean <= 0:
        return 1.0
    return min(
        1.0,
        sum(math.exp(-mean + i * math.log(mean) - math.lgamma(i + 1)) for i in range(k + 1)),
    )


def fallen_operations(
    artifacts: Sequence[Artifact], history: Sequence[OperationHistory]
) -> list[FallenOperation]:
    """Operations whose share of their service's own spans fell below what the service's
    earlier incidents hold, strongest first, one per service (its strongest)."""
    if not history:
        return []
    calls = operation_calls(artifacts)
    refs: dict[tuple[str, str], str] = {}
    for group in artifacts:
        if isinstance(group, SpanGroup) and not group.peer_service:
            refs.setdefault((group.service, group.operation), group.artifact_id)
            refs.setdefault((group.service, ""), group.artifact_id)
    read: list[tuple[OperationHistory, float, int]] = []
    for past in history:
        now = calls.get(past.service)
        if not now or len(past.shares) < HISTORY_MIN_INCIDENTS:
            continue
        spans = sum(now.values())
        usual = median(past.shares)
        if usual * spans < MIN_EXPECTED_CALLS:
            continue
        read.append((past, usual, spans))
    found: dict[str, FallenOperation] = {}
    for past, usual, spans in read:
        ran = calls[past.service].get(past.operation, 0)
        low = lower_quartile(past.shares)
        if ran > FALL_RATIO * low * spans:
            continue
        p_value = min(1.0, poisson_at_most(ran, usual * spans) * len(read))
        if p_value > SIGNIFICANCE:
            continue
        fallen = FallenOperation(
            service=past.service,
            operation=past.operation,
            calls=ran,
            spans=spans,
            usual_share=usual,
            low_share=low,
            incidents=len(past.shares),
            p_value=p_value,
            refs=(refs.get((past.service, past.operation)) or refs[(past.service, "")],),
        )
        current = found.get(past.service)
        if current is None or fallen.p_value < current.p_value:
            found[past.service] = fallen
    return sorted(found.values(), key=lambda f: (f.p_value, f.service, f.operation))


__all__ = [
    "FALL_RATIO",
    "MIN_EXPECTED_CALLS",
    "SIGNIFICANCE",
    "FallenOperation",
    "fallen_operations",
    "operation_calls",
    "operation_history_of",
    "remembered_records",
]
