"""The mix of a service's own operations, read against its earlier incidents.

A handler that throws, or returns early on a value it cannot use, skips the calls it would have
made after that point: the spans of those calls stop while the handler's own keep coming. No
span needs to carry a status for this to show, and no log line: the share of the service's spans
that belong to each of its operations changes. OnlineBoutique's services log nothing, and its
bundles often hold no trace before the fault (the collector kept a few minutes around the alert),
so the mix is read against the service's *earlier incidents*: how much of its spans each
operation was each time, kept per incident beside the statement records
(`remembered_records`, stored in the ``statement_history`` table's JSON with no new column).

One test per service reads its whole mix (`read_mix`): the usual mix is each operation's median
share over the earlier incidents, and how far mixes stray from it is taken from those incidents'
own deviations, with their covariance, so operations that run together count once and no count
of calls needs to be set as support: a thin service's own multinomial noise is part of the
spread. Only falls count towards the statistic, as for statements (`code_paths.missing_paths`): a
share that rises is the other side of one that fell, or traffic of another kind. The correction
is over the services read, not their operations. The operation named is the one whose fall
carries most of the deviation.

Measured on the tuned Nezha cases, in the benchmark's history order (engine 3.41): adservice's
mix, its ``getRandomAds`` about 5 % of its spans before, falls to 1 and 3 of 264 and 268 spans
in its two code faults with spans (p = 0.011 and 0.042, Bonferroni over the services read); the only
TrainTicket service it reads as fallen is the culprit of a CPU fault, whose answer it does not
change. A mix shift is the service's own code path only where what it was asked did not change
first: where requests were cut short below it, or a caller's mix shifted, every service
downstream sees other requests (`suspects.ranking` reads that guard, over the call graph).
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
from chronosops.analysis.statistics import f_sf, median
from chronosops.core.artifacts import Artifact, LogStatement, SpanGroup

# The tail, Bonferroni over the services whose mix is read, at or below which a mix's falls are
# read (the statement readings' level).
SIGNIFICANCE = 0.05
# An earlier incident whose own mix lies this far out (the same test, against every earlier
# incident's spread) is left out of the spread: the history holds faults too. The same level.
OUTLIER_LEVEL = SIGNIFICANCE


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
                    spans=[sum(calls.values()) for calls in mix],
                )
            )
    return found


@dataclass(frozen=True)
class FallenOperation:
    """A service whose mix of operations moved away from its earlier incidents' through falls,
    and the operation whose fall carries most of that move."""

    service: str
    operation: str
    calls: int  # its spans, this incident
    spans: int  # the service's own spans in operations it ran before, this incident
    usual_share: float  # its share of them in the usual mix (medians over earlier incidents)
    incidents: int  # earlier incidents the usual mix and its spread were read from
    p_value: float  # the whole mix's falls against their spread, times the services read
    refs: tuple[str, ...]  # the operation's span group, or the service's first

    @property
    def strength(self) -> float:
        return strength_of(self.p_value)

    def describe(self) -> str:
        return (
            f"{self.operation} on {self.service} was {self.calls} of its {self.spans} spans; in "
            f"{self.incidents} earlier incidents it was {self.usual_share:.0%} of them, "
            f"{self.usual_share * self.spans:.0f} expected (the service's mix, p = "
            f"{self.p_value:.2g})"
        )


@dataclass(frozen=True)
class _Mix:
    """One service's earlier mixes: its operations, and per earlier incident each one's share
    (and the service's spans, where the record says)."""

    operations: list[str]
    shares: list[list[float]]  # per earlier incident, per operation
    spans: list[int]


def _mixes(history: Sequence[OperationHistory]) -> dict[str, _Mix]:
    by_service: dict[str, list[OperationHistory]] = defaultdict(list)
    for past in history:
        by_service[past.service].append(past)
    found: dict[str, _Mix] = {}
    for service, pasts in by_service.items():
        incidents = len(pasts[0].shares)
        if any(len(p.shares) != incidents for p in pasts):
            continue  # not one incident per position: not a mix
        spans = pasts[0].spans if all(p.spans == pasts[0].spans for p in pasts) else []
        found[service] = _Mix(
            operations=[p.operation for p in pasts],
            shares=[[p.shares[i] for p in pasts] for i in range(incidents)],
            spans=list(spans) if len(spans) == incidents else [],
        )
    return found


@dataclass(frozen=True)
class _Reading:
    p_value: float  # one service, before the correction over services
    operation: str
    calls: int
    spans: int
    usual_share: float
    incidents: int


@dataclass(frozen=True)
class _Spread:
    """The traces of the spread's covariance and of its square, read through the earlier
    incidents' Gram matrix (their deviations' dot products), which is as large as there are
    incidents and not operations."""

    trace: float
    square: float

    @staticmethod
    def of(gram: Sequence[Sequence[float]], members: Sequence[int]) -> _Spread:
        divisor = max(1, len(members) - 1)
        return _Spread(
            trace=sum(gram[i][i] for i in members) / divisor,
            square=sum(gram[i][k] ** 2 for i in members for k in members) / divisor**2,
        )

    def scaled_chi_square(self, noise: float, size: int) -> tuple[float, float]:
        """Satterthwaite's scale and degrees of freedom for the sum of squared deviations whose
        covariance is the spread plus ``noise`` times the multinomial's (the usual mix's square
        roots are the spread's null direction, so their traces add)."""
        trace = self.trace + noise * (size - 1)
        square = self.square + 2 * noise * self.trace + noise * noise * (size - 1)
        if trace <= 0 or square <= 0:
            return 0.0, 0.0
        return square / trace, trace * trace / square


def _strayed(gram: Sequence[Sequence[float]]) -> list[float]:
    """How far each earlier incident's mix lies from the others': the same test as an
    incident's, two-sided, against the spread of every earlier incident but that one (its own
    term taken out of the traces), so its own distance does not widen what it is read against."""
    divisor = len(gram) - 2
    if divisor < 1:
        return [1.0] * len(gram)
    trace = sum(gram[i][i] for i in range(len(gram)))
    rows = [sum(value * value for value in row) for row in gram]
    square = sum(rows)
    found: list[float] = []
    for i, row in enumerate(rows):
        distance = gram[i][i]
        others = _Spread(
            trace=(trace - distance) / divisor,
            square=(square - 2 * row + distance * distance) / divisor**2,
        )
        scale, freedom = others.scaled_chi_square(0.0, 0)
        if freedom <= 0:
            found.append(0.0 if distance > 0 else 1.0)
        else:
            found.append(f_sf(distance / (scale * freedom), freedom, divisor * freedom))
    return found


def _sum_sq(values: Sequence[float]) -> float:
    return sum(v * v for v in values)


def _falls(deviation: Sequence[float], shares: Sequence[float], usual: Sequence[float]) -> float:
    return sum(d * d for d, now, was in zip(deviation, shares, usual, strict=True) if now < was)


def read_mix(now: dict[str, int], mix: _Mix) -> _Reading | None:
    """One test of a service's whole mix against its earlier incidents'. The usual mix is each
    operation's median share (so a minority of earlier incidents that held a fault does not
    move it), renormalised; each mix's deviation from it is read on Pearson's scale (the share's
    difference over the square root of the usual share). How far mixes spread is taken from the
    earlier incidents' own deviations, with their covariance: operations that run together (one
    call of each per request) move together and count once. An earlier incident the test itself
    would read as shifted is left out of that spread (the history holds faults too). This
    incident adds the multinomial noise of its own spans where it has fewer than the earlier
    ones had. Only falls count towards the statistic (a skipped code path is a fall; what rose is
    the other side of it, or another kind of traffic), which is at most the whole deviation, so
    the tail of the whole deviation's distribution bounds it: a scaled chi-square
    (Satterthwaite) over a spread itself read from a few incidents, hence an F."""
    if len(mix.shares) < HISTORY_MIN_INCIDENTS:
        return None
    medians = [median([shares[j] for shares in mix.shares]) for j in range(len(mix.operations))]
    kept = [j for j, value in enumerate(medians) if value > 0]
    if len(kept) < 2:
        return None
    total = sum(medians[j] for j in kept)
    usual = [medians[j] / total for j in kept]
    roots = [math.sqrt(u) for u in usual]
    spans = sum(now.get(mix.operations[j], 0) for j in kept)
    if spans == 0:
        return None  # none of its usual operations ran: there is no mix left to read

    def deviation_of(shares: Sequence[float]) -> list[float]:
        return [(s - u) / r for s, u, r in zip(shares, usual, roots, strict=True)]

    earlier: list[list[float]] = []
    for incident in mix.shares:
        ran = sum(incident[j] for j in kept)
        if ran > 0:
            earlier.append(deviation_of([incident[j] / ran for j in kept]))
    if len(earlier) < HISTORY_MIN_INCIDENTS:
        return None
    gram = [[0.0] * len(earlier) for _ in earlier]
    for i, a in enumerate(earlier):
        for k in range(i, len(earlier)):
            gram[i][k] = gram[k][i] = sum(x * y for x, y in zip(a, earlier[k], strict=True))
    strayed = _strayed(gram)
    usual_enough = [i for i in range(len(earlier)) if strayed[i] > OUTLIER_LEVEL]
    if len(usual_enough) < HISTORY_MIN_INCIDENTS:
        usual_enough = list(range(len(earlier)))
    spread = _Spread.of(gram, usual_enough)
    _, spread_freedom = spread.scaled_chi_square(0.0, len(kept))
    sizes = [size for size in mix.spans if size > 0]
    own_noise = 1 / spans - (sum(1 / size for size in sizes) / len(sizes) if sizes else 0.0)
    scale, freedom = spread.scaled_chi_square(max(0.0, own_noise), len(kept))
    if freedom <= 0 or spread_freedom <= 0:
        return None
    shares = [now.get(mix.operations[j], 0) / spans for j in kept]
    deviation = deviation_of(shares)
    fell = [i for i in range(len(kept)) if shares[i] < usual[i]]
    if not fell:
        return None
    # The spread's trace, read from these incidents, holds about (incidents - 1) times its own
    # degrees of freedom.
    p_value = f_sf(
        _falls(deviation, shares, usual) / (scale * freedom),
        freedom,
        (len(usual_enough) - 1) * spread_freedom,
    )
    worst = max(fell, key=lambda i: deviation[i] ** 2)
    return _Reading(
        p_value=p_value,
        operation=mix.operations[kept[worst]],
        calls=now.get(mix.operations[kept[worst]], 0),
        spans=spans,
        usual_share=usual[worst],
        incidents=len(mix.shares),
    )


def fallen_operations(
    artifacts: Sequence[Artifact], history: Sequence[OperationHistory]
) -> list[FallenOperation]:
    """Services whose mix of operations fell away from their earlier incidents' (`read_mix`,
    one test per service, Bonferroni over the services read), strongest first, each with the
    operation whose fall carries most of it."""
    if not history:
        return []
    calls = operation_calls(artifacts)
    refs: dict[tuple[str, str], str] = {}
    for group in artifacts:
        if isinstance(group, SpanGroup) and not group.peer_service:
            refs.setdefault((group.service, group.operation), group.artifact_id)
            refs.setdefault((group.service, ""), group.artifact_id)
    readings: dict[str, _Reading] = {}
    for service, mix in sorted(_mixes(history).items()):
        now = calls.get(service)
        if now:
            reading = read_mix(now, mix)
            if reading is not None:
                readings[service] = reading
    found: list[FallenOperation] = []
    for service, reading in readings.items():
        p_value = min(1.0, reading.p_value * len(readings))
        if p_value > SIGNIFICANCE:
            continue
        found.append(
            FallenOperation(
                service=service,
                operation=reading.operation,
                calls=reading.calls,
                spans=reading.spans,
                usual_share=reading.usual_share,
                incidents=reading.incidents,
                p_value=p_value,
                refs=(refs.get((service, reading.operation)) or refs[(service, "")],),
            )
        )
    return sorted(found, key=lambda f: (f.p_value, f.service, f.operation))


__all__ = [
    "SIGNIFICANCE",
    "FallenOperation",
    "fallen_operations",
    "operation_calls",
    "operation_history_of",
    "remembered_records",
]
