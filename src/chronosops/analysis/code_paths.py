"""Code paths that stopped running: Nezha's log patterns, each read against its own operation.

Nezha (FSE'23) finds a code fault as a change in what follows what inside a request: the
pattern "this method starts, then it logs X" holds before the fault and breaks after it. Counted
raw, patterns move with the traffic: when the mix of requests shifts, whole families of lines
triple or vanish with no fault anywhere. Read *conditionally* they do not: a statement's lines
(`core.artifacts.LogStatement`, one per span that logged it) divided by the calls of the
operation that logs it is what the operation does per call, whatever the mix of calls. A
method whose exception skips the rest of it, or that returns a value its caller now branches
on, stops reaching a statement it reached on every call before, while the operation itself
keeps being called.

Only the vanishing direction is read. Measured on the tuned Nezha TrainTicket cases, a statement
*appearing* under an operation is the traffic's content as often as a fault (trips found or
not, trains whose number starts with another letter: the same handler walks another branch for
other input), and an error line that stops is a recovery (an earlier fault ending), so error and
warning statements stay out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chronosops.analysis.statistics import fisher_exact
from chronosops.core.artifacts import ERROR_LEVELS, WARN_LEVELS, Artifact, LogStatement, SpanGroup

MINUTE = timedelta(minutes=1)
# The incident's reported start is when it was noticed; the fault began about a minute earlier
# (the same reading as the suspects' cut).
FAULT_LEAD = timedelta(minutes=1)
# Spans that logged the statement before the fault: fewer say nothing about "every call".
MIN_LOGGED_BEFORE = 5
# Calls of its operation on each side: it must have been seen running before the fault (traces
# are sampled apart from logs), and still run after it for its path to vanish.
MIN_CALLS = 3
# Fisher's exact test on (spans that logged it, calls) before against after.
SIGNIFICANCE = 0.05
# -log10(p) at which the evidence is full strength (p = 0.01); at p = 0.05 it is 0.65, which
# with the rule's weight just clears the bar for naming a cause: a statement every call reached
# and none reaches any more is rarely the traffic (none of the 21 tuned Nezha TrainTicket cases
# shows one away from the culprit).
FULL_STRENGTH_LOG_P = 2.0


@dataclass(frozen=True)
class VanishedPath:
    """A statement an operation logged on its calls before the fault and on none after."""

    service: str
    operation: str
    statement: str
    logged_before: int  # spans of the operation that logged it, before the fault
    calls_before: int
    calls_after: int
    p_value: float
    refs: tuple[str, ...]  # the statement, then the operation's span group

    @property
    def strength(self) -> float:
        """0–1: how unlikely the vanishing is if the operation still did what it did before."""
        return min(1.0, -math.log10(max(self.p_value, 1e-12)) / FULL_STRENGTH_LOG_P)

    def describe(self) -> str:
        return (
            f"{self.operation} on {self.service} stopped logging “{self.statement}”: "
            f"{self.logged_before} of its {self.calls_before} calls did before the fault, none "
            f"of {self.calls_after} after (p = {self.p_value:.2g})"
        )


def _split(points: Sequence[tuple[datetime, float]], fault_start: datetime) -> tuple[int, int]:
    """Whole minutes before the fault's start, and minutes from it on (the minute it began in,
    half fault-free, is left out)."""
    before = sum(value for ts, value in points if ts + MINUTE <= fault_start)
    after = sum(value for ts, value in points if ts >= fault_start)
    return round(before), round(after)


def vanished_paths(artifacts: Sequence[Artifact], onset: datetime) -> list[VanishedPath]:
    """Statements whose operation kept being called after the fault but stopped reaching them,
    strongest first."""
    statements = [a for a in artifacts if isinstance(a, LogStatement)]
    if not statements:
        return []
    fault_start = onset - FAULT_LEAD
    calls: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
    groups: dict[tuple[str, str], str] = {}
    for group in artifacts:
        if isinstance(group, SpanGroup) and not group.peer_service:
            key = (group.service, group.operation)
            calls[key] += [(bucket.ts, float(bucket.count)) for bucket in group.histogram]
            groups.setdefault(key, group.artifact_id)
    found: list[VanishedPath] = []
    for statement in statements:
        if any(level in ERROR_LEVELS or level in WARN_LEVELS for level in statement.levels):
            continue
        key = (statement.service, statement.operation)
        if key not in calls:
            continue
        logged_before, logged_after = _split(
            [(p.ts, p.value) for p in statement.histogram], fault_start
        )
        calls_before, calls_after = _split(calls[key], fault_start)
        if (
            logged_after
            or logged_before < MIN_LOGGED_BEFORE
            or min(calls_before, calls_after) < MIN_CALLS
        ):
            continue
        p_value = fisher_exact(logged_before, calls_before, 0, calls_after)
        if p_value > SIGNIFICANCE:
            continue
        found.append(
            VanishedPath(
                service=statement.service,
                operation=statement.operation,
                statement=statement.statement,
                logged_before=logged_before,
                calls_before=calls_before,
                calls_after=calls_after,
                p_value=p_value,
                refs=(statement.artifact_id, groups[key]),
            )
        )
    return sorted(found, key=lambda path: (path.p_value, path.service, path.statement))


__all__ = ["VanishedPath", "vanished_paths"]
