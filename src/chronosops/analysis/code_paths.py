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

A code path broken for longer than the evidence reaches back leaves no change inside it: the
operation never reaches the statement, before the fault's start or after. Read against the
service's *earlier incidents* (`StatementHistory`, how much of the service's logging each
statement was each time), it shows: a statement that was a steady share of the service's lines
in earlier incidents, whose operation keeps running now, and that this incident's lines never
hold is a code path that stopped (`missing_paths`). Measured on the tuned Nezha TrainTicket
cases with the history of the earlier tuned cases only, the statement the injected fault skips
(`TravelServiceImpl#457`, `#372`, `PriceController#46`) is absent from the whole window in three
exception cases where the fault was in force before it began, and no other service's statement
is missing in any of the 21 (the four CPU faults included).

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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chronosops.analysis.models import StatementHistory
from chronosops.analysis.onset import PRIOR_MINUTES
from chronosops.analysis.statistics import fisher_exact, homogeneity, median
from chronosops.core.artifacts import (
    ERROR_LEVELS,
    WARN_LEVELS,
    Artifact,
    LogStatement,
    LogTemplate,
    SpanGroup,
)

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


def strength_of(p_value: float) -> float:
    """0–1 from a p-value: full strength at ``FULL_STRENGTH_LOG_P`` orders of magnitude."""
    return min(1.0, -math.log10(max(p_value, 1e-12)) / FULL_STRENGTH_LOG_P)


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
    # Where it went on past the fault's start: the minute it was logged last (its stop read
    # there, `LateStop`); None where it stopped by the fault's start.
    stopped_at: datetime | None = None

    @property
    def strength(self) -> float:
        """0–1: how unlikely the vanishing is if the operation still did what it did before."""
        return strength_of(self.p_value)

    def describe(self) -> str:
        since = "the fault" if self.stopped_at is None else f"{self.stopped_at:%H:%M}"
        return (
            f"{self.operation} on {self.service} stopped logging “{self.statement}”: "
            f"{self.logged_before} of its {self.calls_before} calls did before {since}, none "
            f"of {self.calls_after} after (p = {self.p_value:.2g})"
        )


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def log_reach(artifacts: Sequence[Artifact]) -> tuple[datetime, datetime] | None:
    """The minutes over which a statement is read against its operation's calls: those the
    bundle's logs cover (None without logs or without spans). A call made where no log was
    collected says nothing about what it logged, and logs and traces are fetched apart and
    rarely end together (a log pipeline's ingest lag, a collector's per-kind limits, a sender
    that cut its logs shorter): read against calls the logs never reached, every statement of a
    busy operation "stops" at the logs' last minute. Where the spans reach past the logs, the
    logs' own first or last minute holds only part of what was logged in it (its calls are
    whole), so it is left out too; where both end in the same minute, it is partial for both
    and kept. Measured on the tuned Nezha TrainTicket cases with their last 30 s of logs dropped
    (spans kept): 12 of the 21 named a bystander, 7 of them for a code path at
    ``ts-config-service``; read over the logs' minutes, 4."""
    logs: list[datetime] = []
    spans: list[datetime] = []
    for artifact in artifacts:
        if isinstance(artifact, LogTemplate):
            logs += [artifact.first_seen, artifact.last_seen]
        elif isinstance(artifact, LogStatement):
            logs += [p.ts for p in artifact.histogram]
        elif isinstance(artifact, SpanGroup):
            spans += [bucket.ts for bucket in artifact.histogram]
    if not logs or not spans:
        return None
    first, last = _minute(min(logs)), _minute(max(logs))
    if min(spans) < first:
        first += MINUTE
    if max(spans) > last:
        last -= MINUTE
    return first, last


def _covered(ts: datetime, reach: tuple[datetime, datetime] | None) -> bool:
    return reach is None or reach[0] <= ts <= reach[1]


def _split(points: Sequence[tuple[datetime, float]], fault_start: datetime) -> tuple[int, int]:
    """Whole minutes before the fault's start, and minutes from it on (the minute it began in,
    half fault-free, is left out)."""
    before = sum(value for ts, value in points if ts + MINUTE <= fault_start)
    after = sum(value for ts, value in points if ts >= fault_start)
    return round(before), round(after)


def _around(points: Sequence[tuple[datetime, float]], minute: datetime) -> tuple[int, int]:
    """The minutes before ``minute``, and those after it (``minute`` itself, where the stop
    fell part-way through, is left out)."""
    before = sum(value for ts, value in points if ts < minute)
    after = sum(value for ts, value in points if ts > minute)
    return round(before), round(after)


# A statement that went on past the fault's start and stopped later (a fault that took hold at
# the reported start or after it) is read only where the operation's other usual statements that
# went on after its stop kept the mix they had before it (Pearson's chi-square over them, before
# against after, at this level): where that mix moved, what the operation was asked changed (a
# caller upstream began failing and sends other requests, and the handler walks other branches
# for them), not its own code. Measured on the tuned Nezha TrainTicket cases: the statements of
# `ts-seat-service` that stop within a minute of an upstream exception have their operation's
# other lines move with them (p 0.001–0.008); the culprit's own stops keep theirs (p ≥ 0.67).
INPUT_SHIFT_SIGNIFICANCE = 0.05
# Lines a statement needs on the two sides together to weigh in that mix.
MIN_MIX_LINES = 5
# The latest a stop is read, after the reported start: a fault is noticed within minutes of
# taking hold, and a sparse statement's last line long after it is a gap of chance (a completion
# line logged on a twentieth of the calls fell silent for the last 13 minutes of a tuned mixed
# incident, p 0.04, at a service the fault never reached).
LATE_STOP_WITHIN = timedelta(minutes=5)
# How far before the split a stop is still read where it fell: the reported start may be late by
# this much (the anchor's own prior, `onset.PRIOR_MINUTES`), which puts the fault's first
# minute, and often all the logs after it, on the split's "before" side.
REPORT_UNCERTAINTY = timedelta(minutes=PRIOR_MINUTES)


def _kept_mix(
    points: dict[tuple[str, str], list[tuple[datetime, float]]],
    statement: LogStatement,
    stop: datetime,
) -> bool:
    """Whether the operation's other usual statements still logged after ``stop`` kept their
    shares of its lines (one, or none, cannot say otherwise)."""
    rows: list[tuple[float, float]] = []
    for (text, operation), histogram in points.items():
        if operation != statement.operation or text == statement.statement:
            continue
        before, after = _around(histogram, stop)
        if after > 0 and before + after >= MIN_MIX_LINES:
            rows.append((before, after))
    return homogeneity(rows) > INPUT_SHIFT_SIGNIFICANCE


def _p_vanished(logged_before: int, calls_before: int, calls_after: int) -> float:
    """Fisher's p for a statement logged on ``logged_before`` of ``calls_before`` calls and on
    none of ``calls_after`` (1 where either side is too thin to read)."""
    if logged_before < MIN_LOGGED_BEFORE or min(calls_before, calls_after) < MIN_CALLS:
        return 1.0
    return fisher_exact(logged_before, calls_before, 0, calls_after)


def vanished_paths(artifacts: Sequence[Artifact], onset: datetime) -> list[VanishedPath]:
    """Statements whose operation kept being called after the fault but stopped reaching them,
    strongest first.

    Most are read against a fixed split a minute before the reported start (`FAULT_LEAD`). A
    statement still logged after that split and stopped by ``LATE_STOP_WITHIN`` after the reported
    start is read at its own last minute instead: its lines
    before that minute against the calls since, where the operation kept its other statements'
    mix (`INPUT_SHIFT_SIGNIFICANCE`); the chance that a statement logged at one rate leaves a
    run that long at the end is one test per statement, Bonferroni over those so read.

    A statement whose last line falls within ``REPORT_UNCERTAINTY`` before the split is read
    both at the split and at its own last minute, the better kept at twice its p-value, and
    only where the operation kept its other statements' mix: a report a minute late moves the
    split past the fault's first minute, and read at the split alone the statement would then
    say nothing (too few calls after it inside the logs' reach) or, where an upstream input
    changed, read a bystander's branch as a code path that stopped."""
    statements = [a for a in artifacts if isinstance(a, LogStatement)]
    if not statements:
        return []
    fault_start = onset - FAULT_LEAD
    reach = log_reach(artifacts)
    calls: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
    groups: dict[tuple[str, str], str] = {}
    for group in artifacts:
        if isinstance(group, SpanGroup) and not group.peer_service:
            key = (group.service, group.operation)
            # The calls that did not fail: a failed call skips the rest of its path whatever
            # made it fail (a callee's outage, a pool's timeout), and its failure is read as
            # one; where spans carry no status every call counts. Only over the logs' minutes.
            calls[key] += [
                (bucket.ts, float(bucket.count - bucket.error_count))
                for bucket in group.histogram
                if _covered(bucket.ts, reach)
            ]
            groups.setdefault(key, group.artifact_id)
    # Calls the traces did not send, known from the logs alone (`LogStatement.unsent`: sampled
    # apart from the logs): each minute, at least as many as the statement of the operation
    # that named most of them. Counted beside the calls sent, so that a statement's lines, every
    # span of them, are read against calls that include every span they name (read against the
    # calls sent only, a statement logged on every call "did" on 21 of 16 calls under 50 %
    # sampling, and stopping looked like a code path breaking).
    unsent: dict[tuple[str, str], dict[datetime, float]] = defaultdict(dict)
    for statement in statements:
        key = (statement.service, statement.operation)
        if key not in calls:
            continue
        known = unsent[key]
        for point in statement.unsent:
            if _covered(point.ts, reach):
                known[point.ts] = max(known.get(point.ts, 0.0), point.value)
    for key, known in unsent.items():
        calls[key] += sorted(known.items())
    usual: dict[str, dict[tuple[str, str], list[tuple[datetime, float]]]] = defaultdict(dict)
    for statement in statements:
        if _is_path(statement):
            usual[statement.service][(statement.statement, statement.operation)] = [
                (p.ts, p.value) for p in statement.histogram if _covered(p.ts, reach)
            ]
    found: list[VanishedPath] = []
    late: list[tuple[VanishedPath, bool]] = []  # each read at its stop, and whether it counts
    for statement in statements:
        if not _is_path(statement):
            continue
        key = (statement.service, statement.operation)
        if key not in calls:
            continue
        points = [(p.ts, p.value) for p in statement.histogram if _covered(p.ts, reach)]
        logged_before, logged_after = _split(points, fault_start)
        calls_before, calls_after = _split(calls[key], fault_start)
        last = max((ts for ts, value in points if value > 0), default=None)
        stop: datetime | None = None
        # Stopped in the minute before the split or earlier, within what a late report would
        # move the split by: the same evidence as a stop after it, read the same way.
        early = (
            not logged_after
            and last is not None
            and last + MINUTE > fault_start - REPORT_UNCERTAINTY
        )
        at_split = False
        if logged_after:
            stop = last
            if stop is None or stop > onset + LATE_STOP_WITHIN:
                continue
            logged_before, _ = _around(points, stop)
            calls_before, calls_after = _around(calls[key], stop)
        elif early and last is not None:
            # Read at the split and at the stop, the better of the two (Bonferroni below): the
            # split says nothing where too few calls follow it inside the logs' reach, or where
            # the calls between the stop and the split count as before.
            stop = last
            at_stop = (_around(points, stop)[0], *_around(calls[key], stop))
            if _p_vanished(*at_stop) < _p_vanished(logged_before, calls_before, calls_after):
                logged_before, calls_before, calls_after = at_stop
            else:
                at_split = True
        if logged_before < MIN_LOGGED_BEFORE or min(calls_before, calls_after) < MIN_CALLS:
            continue
        p_value = fisher_exact(logged_before, calls_before, 0, calls_after)
        path = VanishedPath(
            service=statement.service,
            operation=statement.operation,
            statement=statement.statement,
            logged_before=logged_before,
            calls_before=calls_before,
            calls_after=calls_after,
            p_value=p_value,
            refs=(statement.artifact_id, groups[key]),
            stopped_at=stop if stop is not None and not at_split else None,
        )
        if stop is None:
            if p_value <= SIGNIFICANCE:
                found.append(path)
        elif early:
            # Two readings, the better kept: Bonferroni over both; and only where the
            # operation's other statements kept their mix (as for a late stop).
            p_value = min(1.0, p_value * 2)
            if p_value <= SIGNIFICANCE and _kept_mix(usual[statement.service], statement, stop):
                found.append(replace(path, p_value=p_value))
        else:
            late.append((path, _kept_mix(usual[statement.service], statement, stop)))
    for path, own_code in late:
        p_value = min(1.0, path.p_value * len(late))
        if own_code and p_value <= SIGNIFICANCE:
            found.append(replace(path, p_value=p_value))
    return sorted(found, key=lambda path: (path.p_value, path.service, path.statement))


# A service's statements are read against its history only where it logged this many lines in
# its spans (in this incident, and in each earlier one that counts): fewer, and shares swing.
HISTORY_MIN_LINES = 20
# Earlier incidents of the service a statement's usual share is read from (its median).
HISTORY_MIN_INCIDENTS = 5


def _own_lines(statements: Sequence[LogStatement]) -> dict[str, int]:
    lines: dict[str, int] = defaultdict(int)
    for statement in statements:
        lines[statement.service] += sum(statement.levels.values())
    return lines


def _is_path(statement: LogStatement) -> bool:
    """A statement of the code's usual path: error and warning lines report trouble, which
    comes and goes (an earlier fault ending is a recovery, not a path that stopped)."""
    return not any(level in ERROR_LEVELS or level in WARN_LEVELS for level in statement.levels)


# One incident's record of a service's logging, as kept between incidents: the lines it logged
# in its spans, and per usual-path statement the lines of it per operation ("" where the
# statement was not placed in one operation). Plain data, so that it can be stored as JSON.
ServiceStatements = dict[str, Any]


def _own_calls(artifacts: Sequence[Artifact]) -> dict[tuple[str, str], int]:
    """Calls of each (service, operation) in its own spans (not its clients' view of a peer)."""
    reach = log_reach(artifacts)
    calls: dict[tuple[str, str], int] = defaultdict(int)
    for group in artifacts:
        if isinstance(group, SpanGroup) and not group.peer_service:
            calls[(group.service, group.operation)] += sum(
                bucket.count for bucket in group.histogram if _covered(bucket.ts, reach)
            )
    return calls


def statement_lines(artifacts: Sequence[Artifact]) -> dict[str, ServiceStatements]:
    """What an incident's history keeps of it: for each service that logged
    ``HISTORY_MIN_LINES`` lines in its spans or more, ``{"lines": n, "statements": {statement:
    {operation: lines}}, "calls": {operation: calls}}`` over its usual-path statements, with the
    calls of each operation one of them was placed in (`statement_history` reads these)."""
    statements = [a for a in artifacts if isinstance(a, LogStatement)]
    if not statements:
        return {}
    lines = _own_lines(statements)
    calls = _own_calls(artifacts)
    kept: dict[str, ServiceStatements] = {}
    for statement in statements:
        total = lines[statement.service]
        if total < HISTORY_MIN_LINES:
            continue
        record = kept.setdefault(statement.service, {"lines": total, "statements": {}, "calls": {}})
        if not _is_path(statement):
            continue
        where = record["statements"].setdefault(statement.statement, {})
        where[statement.operation] = where.get(statement.operation, 0) + sum(
            statement.levels.values()
        )
    for (service, operation), ran in sorted(calls.items()):
        if service in kept and ran:
            kept[service]["calls"][operation] = ran
    return dict(sorted(kept.items()))


def history_of(records: Sequence[tuple[str, ServiceStatements]]) -> list[StatementHistory]:
    """The services' statements over earlier incidents, from `statement_lines` records: one
    ``(service, record)`` per earlier incident in which the service logged enough to count. Each
    statement's share of its service's lines per such incident (0 where it logged none; the
    incidents that held it first, then those that did not), with the operation that logged most
    of its lines; and, from the records that keep their operations' calls, its lines per call of
    that operation in each incident in which the operation ran (0 where it logged none)."""
    shares: dict[tuple[str, str], list[float]] = defaultdict(list)
    where: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counted: dict[str, int] = defaultdict(int)
    kept: list[tuple[str, ServiceStatements]] = []
    for service, record in records:
        total = int(record.get("lines", 0))
        if total < HISTORY_MIN_LINES:
            continue
        counted[service] += 1
        kept.append((service, record))
        # A record holds each statement once (its lines per operation), so one share each.
        for text, operations in record.get("statements", {}).items():
            key = (service, text)
            shares[key].append(round(sum(operations.values()) / total, 6))
            placed = where[key]
            for operation, count in operations.items():
                if operation:
                    placed[operation] += count
    main = {
        key: min(placed.items(), key=lambda item: (-item[1], item[0]))[0]
        for key, placed in where.items()
        if placed
    }
    per_call: dict[tuple[str, str], list[float]] = defaultdict(list)
    for service, record in kept:
        calls = record.get("calls")
        if not isinstance(calls, dict):
            continue  # kept before calls were: the per-service reading alone
        statements = record.get("statements", {})
        for (owner, text), placed in where.items():
            ran = sum(int(calls.get(operation, 0)) for operation in placed)
            if owner != service or not placed or ran < MIN_CALLS:
                continue
            logged = sum(statements.get(text, {}).values())
            per_call[(owner, text)].append(round(logged / ran, 6))
    return [
        StatementHistory(
            service=service,
            operation=main[(service, text)],
            statement=text,
            shares=seen + [0.0] * (counted[service] - len(seen)),
            per_call=per_call.get((service, text), []),
            operations=sorted(where[(service, text)]),
        )
        for (service, text), seen in sorted(shares.items())
        # Only statements seen in an operation: whether that operation still runs is the test.
        if (service, text) in main
    ]


def statement_history(incidents: Sequence[Sequence[Artifact]]) -> list[StatementHistory]:
    """Each service's statements over earlier incidents (each given by its artifacts): per
    incident in which the service logged ``HISTORY_MIN_LINES`` lines in its spans or more, the
    share of them each statement held (0 where it logged none), whichever operations its lines
    were placed in; with the operation that logged most of them."""
    return history_of(
        [
            (service, record)
            for artifacts in incidents
            for service, record in statement_lines(artifacts).items()
        ]
    )


@dataclass(frozen=True)
class MissingPath:
    """A statement that was a steady share of its service's lines in earlier incidents, whose
    operation keeps running, and that this incident never logs."""

    service: str
    operation: str
    statement: str
    usual_share: float  # median over the earlier incidents
    incidents: int  # earlier incidents it is read from
    lines: int  # the service's lines in its spans, this incident
    calls: int  # calls of the operation, this incident
    p_value: float  # P(none | the usual share), times the statements read (Bonferroni)
    refs: tuple[str, ...]  # the operation's span group

    @property
    def strength(self) -> float:
        return strength_of(self.p_value)

    def describe(self) -> str:
        return (
            f"{self.operation} on {self.service} ran {self.calls} times and never logged "
            f"“{self.statement}”: in {self.incidents} earlier incidents it was "
            f"{self.usual_share:.0%} of the service's lines, "
            f"{self.usual_share * self.lines:.0f} of these {self.lines} (p = {self.p_value:.2g})"
        )


def missing_paths(
    artifacts: Sequence[Artifact], history: Sequence[StatementHistory]
) -> list[MissingPath]:
    """Statements the service's earlier incidents always showed that this incident's lines
    never hold while their operation runs, strongest first. Each is read as a Poisson count
    (expected: the usual share times the service's lines now), Bonferroni over every statement
    read in the incident."""
    if not history:
        return []
    statements = [a for a in artifacts if isinstance(a, LogStatement)]
    lines = _own_lines(statements)
    logged: dict[tuple[str, str], int] = defaultdict(int)
    for statement in statements:
        logged[(statement.service, statement.statement)] += sum(statement.levels.values())
    reach = log_reach(artifacts)
    calls: dict[tuple[str, str], int] = defaultdict(int)
    groups: dict[tuple[str, str], str] = {}
    for group in artifacts:
        if isinstance(group, SpanGroup) and not group.peer_service:
            key2 = (group.service, group.operation)
            calls[key2] += sum(
                bucket.count for bucket in group.histogram if _covered(bucket.ts, reach)
            )
            groups.setdefault(key2, group.artifact_id)
    read: list[tuple[StatementHistory, float]] = []
    for past in history:
        if (
            len(past.shares) < HISTORY_MIN_INCIDENTS
            or lines.get(past.service, 0) < HISTORY_MIN_LINES
        ):
            continue
        if calls.get((past.service, past.operation), 0) < MIN_CALLS:
            continue
        usual = median(past.shares)
        if usual > 0:
            read.append((past, usual))
    found: list[MissingPath] = []
    for past, usual in read:
        if logged.get((past.service, past.statement), 0):
            continue
        p_value = min(1.0, math.exp(-usual * lines[past.service]) * len(read))
        if len(past.per_call) >= HISTORY_MIN_INCIDENTS:
            # Its lines per call of the operations that logged it, times their calls now: a
            # service flooding with other lines (errors of its calls to a failing dependency)
            # inflates the first expectation, not this one; both must make the absence telling.
            ran = sum(calls.get((past.service, operation), 0) for operation in past.operations)
            p_value = max(p_value, min(1.0, math.exp(-median(past.per_call) * ran) * len(read)))
        if p_value > SIGNIFICANCE:
            continue
        found.append(
            MissingPath(
                service=past.service,
                operation=past.operation,
                statement=past.statement,
                usual_share=usual,
                incidents=len(past.shares),
                lines=lines[past.service],
                calls=calls[(past.service, past.operation)],
                p_value=p_value,
                refs=(groups[(past.service, past.operation)],),
            )
        )
    return sorted(found, key=lambda path: (path.p_value, path.service, path.statement))


# A statement B is read against a statement A of the same service when at least this share of
# B's spans logged A too: B is a step of the requests that log A (the same handler, a later line
# of the same method), so A's spans are the calls that could have reached B.
FOLLOWS_SHARE = 0.8  # at least `core.log_statements.CO_SPANS_SHARE`: pairs below it are not kept


@dataclass(frozen=True)
class StoppedPath:
    """A statement that followed another in the same spans and stopped part-way through the
    window, while the other kept being logged."""

    service: str
    statement: str  # the one that stopped
    follows: str  # the one it followed, still logged
    together: int  # spans that logged both, up to the stop
    spans: int  # spans that logged the one it followed
    after: int  # of those, after the stop
    stopped_at: datetime  # its last span
    p_value: float  # the run at the end, times the pairs read (Bonferroni)
    refs: tuple[str, ...]  # the statement, then the one it followed

    @property
    def strength(self) -> float:
        return strength_of(self.p_value)

    def describe(self) -> str:
        return (
            f"“{self.statement}” on {self.service} stopped at {self.stopped_at:%H:%M:%S}: "
            f"{self.together} spans logged it after “{self.follows}” before then, none of the "
            f"{self.after} that logged that line since (p = {self.p_value:.2g})"
        )


def run_at_end(spans: int, together: int, after: int) -> float:
    """P(none of ``together`` spans, drawn at random from ``spans``, among the last ``after``):
    the hypergeometric chance of a run this long with no line, if the statement followed the
    other at one rate throughout."""
    if spans - after < together:
        return 0.0
    log_c = math.lgamma
    return math.exp(
        log_c(spans - after + 1)
        - log_c(spans - after - together + 1)
        - log_c(spans + 1)
        + log_c(spans - together + 1)
    )


def stopped_paths(artifacts: Sequence[Artifact], onset: datetime) -> list[StoppedPath]:
    """Usual-path statements that stopped at some instant from the fault's start on, while the
    statement they followed in the same spans kept being logged, strongest first.

    The instant is the statement's own last span, not the incident's start: a fault can take
    effect part-way through the window (the Nezha injection taking hold half a minute after its
    label). The test is exact for that choice: if B followed A at one rate throughout, the spans
    that logged both are a random draw of A's spans, and the chance that the last ``after`` of
    A's spans hold none of them is hypergeometric; Bonferroni over the statements read."""
    statements = {
        (a.service, a.statement): a
        for a in artifacts
        if isinstance(a, LogStatement) and a.first_seen is not None and _is_path(a)
    }
    fault_start = onset - FAULT_LEAD
    read: list[tuple[float, LogStatement, LogStatement, int, int, datetime]] = []
    for (service, _), stopped in sorted(statements.items()):
        if stopped.first_seen is None or len(stopped.span_offsets_ms) < MIN_LOGGED_BEFORE:
            continue
        last = stopped.first_seen + timedelta(milliseconds=stopped.span_offsets_ms[-1])
        if last < fault_start - REPORT_UNCERTAINTY:
            # Stopped before the fault, even were the report late by as much as it may be.
            continue
        # The statement it follows is chosen before the run is looked at: the one that shares
        # most of its spans (then the one logged by most spans, then by name), so each
        # statement is one test and Bonferroni counts statements, not pairs.
        shared = [
            (together, len(followed.span_offsets_ms), other, followed)
            for other, together in stopped.co_spans.items()
            if (followed := statements.get((service, other))) is not None
            and followed.first_seen is not None
            and together >= MIN_LOGGED_BEFORE
            and together >= FOLLOWS_SHARE * len(stopped.span_offsets_ms)
        ]
        if not shared:
            continue
        together, spans, _, followed = max(shared, key=lambda item: (item[0], item[1], item[2]))
        first = followed.first_seen
        if first is None:  # kept out above; the checker does not follow the comprehension
            continue
        later = sum(
            1
            for offset in followed.span_offsets_ms
            if first + timedelta(milliseconds=offset) > last
        )
        # The span that logged it last may log the other line a moment later (times are each
        # statement's own): that one is not a call that went on without it. Nor can more spans
        # come after than those that never logged it.
        after = min(later - 1, spans - together)
        p_run = run_at_end(spans, together, after) if after > 0 else 1.0
        read.append((p_run, stopped, followed, spans, after, last))
    found: dict[tuple[str, str], StoppedPath] = {}
    for p_run, stopped, followed, spans, after, last in read:
        p_value = min(1.0, p_run * len(read))
        if p_value > SIGNIFICANCE or after <= 0:
            continue
        key = (stopped.service, stopped.statement)
        if key in found and found[key].p_value <= p_value:
            continue
        found[key] = StoppedPath(
            service=stopped.service,
            statement=stopped.statement,
            follows=followed.statement,
            together=stopped.co_spans[followed.statement],
            spans=spans,
            after=after,
            stopped_at=last,
            p_value=p_value,
            refs=(stopped.artifact_id, followed.artifact_id),
        )
    return sorted(found.values(), key=lambda path: (path.p_value, path.service, path.statement))


__all__ = [
    "FOLLOWS_SHARE",
    "HISTORY_MIN_INCIDENTS",
    "HISTORY_MIN_LINES",
    "INPUT_SHIFT_SIGNIFICANCE",
    "LATE_STOP_WITHIN",
    "MissingPath",
    "ServiceStatements",
    "StoppedPath",
    "VanishedPath",
    "history_of",
    "missing_paths",
    "run_at_end",
    "statement_history",
    "statement_lines",
    "stopped_paths",
    "vanished_paths",
]
