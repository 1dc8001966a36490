"""Span readings: a service's own time per operation (client spans being its waits on a
callee), failures, operations cut short, calls slowed between caller and callee and the time a
call spends outside its callee."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chronosops.analysis.statistics import median
from chronosops.analysis.suspects.cut import Cut, deviation, strength_of
from chronosops.analysis.suspects.edges import edge_attribution
from chronosops.analysis.suspects.suspect import Suspect
from chronosops.core.artifacts import SpanBucket, SpanGroup


def client_spans(spans: Sequence[SpanGroup]) -> set[str]:
    """Span groups (by artifact id) that are a caller's client spans although nothing marks
    them so: operations that never had any own time (none, or none left after their calls)
    while another operation of the same service did. Where the traces give parents (sent, or
    inferred from time enclosure), a span wrapping calls to one other service only gets no own
    time (`core.call_graph`): its duration is the wait on that callee, network included, read
    on the caller→callee edge group. Counted as the caller's own operation, a slow callee reads
    as a slow caller, and a callee answering sooner as the caller's code path cut short."""
    timed: set[str] = set()  # services with an operation that took time of its own
    untimed: dict[str, list[str]] = defaultdict(list)
    for group in spans:
        if group.peer_service or not group.histogram:
            continue
        if any((bucket.own_p50_ms or 0.0) > 0 for bucket in group.histogram):
            timed.add(group.service)
        else:
            untimed[group.service].append(group.artifact_id)
    return {ref for service, refs in untimed.items() if service in timed for ref in refs}


def span_evidence(
    spans: Sequence[SpanGroup],
    cut: Cut,
    suspects: dict[str, Suspect],
    starved: frozenset[str] = frozenset(),
) -> None:
    """Per service: the typical minute's p95 after the cut against before, and failures.
    ``starved``: the services starved of CPU (`localisation.starved_of_cpu`)."""
    minutes: dict[str, dict[datetime, list[float]]] = defaultdict(lambda: defaultdict(list))
    errors: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    refs: dict[str, list[str]] = defaultdict(list)
    waits = client_spans(spans)
    for group in spans:
        if group.peer_service:
            continue
        refs[group.service].append(group.artifact_id)
        # A client span's time is what it waited on its callee: read on the call's edge.
        own = group.artifact_id not in waits
        for bucket in group.histogram:
            if own and bucket.p95_ms is not None and bucket.count >= 2:
                minutes[group.service][bucket.ts].append(bucket.p95_ms)
            side = 0 if bucket.ts < cut.baseline_end else 2 if bucket.ts >= cut.fault_start else -1
            if side >= 0:
                errors[group.service][side] += bucket.count
                errors[group.service][side + 1] += bucket.error_count
    for service, per_minute in minutes.items():
        before = [max(v) for ts, v in per_minute.items() if ts < cut.baseline_end]
        after = [max(v) for ts, v in per_minute.items() if ts >= cut.fault_start]
        if len(before) >= 2 and len(after) >= 1:
            z = deviation(before, after if len(after) > 1 else after * 2, floor=5.0, relative=0.2)
            suspects.setdefault(service, Suspect(service)).note(
                "span_latency", strength_of(z), refs[service][0]
            )
    _operation_latency(spans, cut, suspects)
    _operations_cut_short(spans, cut, suspects)
    _requests_cut_short(spans, cut, suspects)
    _call_waits(spans, cut, suspects)
    _call_gaps(spans, cut, suspects, starved)
    for service, (n0, e0, n1, e1) in errors.items():
        if n1 >= 5 and e1 / n1 - (e0 / n0 if n0 else 0.0) >= 0.02:
            # Wilson-style: a rise that could be two unlucky requests is not a rise.
            rise = e1 / n1 - (e0 / n0 if n0 else 0.0)
            spread = math.sqrt(max(rise * (1 - rise), 0.01) / n1)
            suspects.setdefault(service, Suspect(service)).note(
                "error_ratio", strength_of(rise / spread), refs[service][0]
            )


# Minute buckets a span group needs on each side of the fault's start to compare operations.
OPERATION_MIN_SPANS = 3
OPERATION_FLOOR_MS = 1.0
OPERATION_RELATIVE = 0.25
MINUTE = timedelta(minutes=1)
# One call more than a service takes part in divides its slowed calls: one slowed call of one is
# weaker evidence than three of three, and a leaf sharing the culprit's one call ties with it.
CALL_SHARE_PRIOR = 1.0


@dataclass(frozen=True)
class GroupMove:
    """A span group's typical minute (the minutes' median durations) before the fault's start
    and after it."""

    before_ms: float
    after_ms: float
    support: int  # spans on the thinner side

    @property
    def added_ms(self) -> float:
        return self.after_ms - self.before_ms

    def z(self, added_ms: float | None = None) -> float:
        added = self.added_ms if added_ms is None else added_ms
        return added / max(OPERATION_RELATIVE * self.before_ms, OPERATION_FLOOR_MS)

    @property
    def weight(self) -> float:
        return min(1.0, math.sqrt(self.support / 10))


def group_move(group: SpanGroup, cut: Cut, *, own: bool = False) -> GroupMove | None:
    """Whole minutes before the fault's start against the minutes from it on, with no guard gap:
    traces are often kept for only a minute or two either side of an alert. The minutes'
    medians: a typical call, not the tail one slow call makes in a minute."""
    before = [b for b in group.histogram if b.ts + MINUTE <= cut.fault_start and b.count]
    after = [b for b in group.histogram if b.ts >= cut.fault_start and b.count]
    n0, n1 = sum(b.count for b in before), sum(b.count for b in after)
    if n0 < OPERATION_MIN_SPANS or n1 < OPERATION_MIN_SPANS:
        return None
    if own:
        # Own time, where the spans' parents were known: what the operation's own code took.
        if any(b.own_p50_ms is None for b in before + after):
            return None
        return GroupMove(
            before_ms=median([b.own_p50_ms or 0.0 for b in before]),
            after_ms=median([b.own_p50_ms or 0.0 for b in after]),
            support=min(n0, n1),
        )
    return GroupMove(
        before_ms=median([b.p50_ms or b.p95_ms or 0.0 for b in before]),
        after_ms=median([b.p50_ms or b.p95_ms or 0.0 for b in after]),
        support=min(n0, n1),
    )


def _operation_latency(spans: Sequence[SpanGroup], cut: Cut, suspects: dict[str, Suspect]) -> None:
    """Per operation: its typical minute after the fault's start against before it, weighed by
    how many spans back it. An operation (not the service's mix of fast and slow ones) is
    compared with itself, where the per-service reading above finds no baseline. Time the
    service spent waiting longer on its own calls is taken off first (CIRCA: a caller's latency
    that its callees explain is not its own)."""
    waited: dict[str, float] = defaultdict(float)  # service → most time a call of it added
    for group in spans:
        if group.peer_service and group.peer_service != group.service:
            move = group_move(group, cut)
            if move is not None:
                waited[group.service] = max(waited[group.service], move.added_ms)
    for group in spans:
        if group.peer_service:
            continue
        own_move = group_move(group, cut, own=True)
        move = own_move or group_move(group, cut)
        if move is not None:
            # Own time where parents are known; else the duration less the most a call of the
            # service added.
            own = move.added_ms if own_move else move.added_ms - waited.get(group.service, 0.0)
            suspects.setdefault(group.service, Suspect(group.service)).note(
                "span_latency", move.weight * strength_of(move.z(own)), group.artifact_id
            )


# An operation that took this long at least before the fault can be cut short measurably; one
# that now takes this share of its time or less was.
CUT_SHORT_FLOOR_MS = 5.0
CUT_SHORT_SHARE = 0.25


def _operations_cut_short(
    spans: Sequence[SpanGroup], cut: Cut, suspects: dict[str, Suspect]
) -> None:
    """An operation whose typical call became many times shorter no longer does what it did:
    it returns or throws before the work and the calls it used to make (a wrong early return,
    an exception). Read on the service's own operations (not its client spans), as a ratio so a
    call four times shorter says as much as one four times longer (in the latency reading's
    spreads of a quarter of the baseline), weighed by the spans that back it. A caller that
    gives up after a failing call is cut short too; the callee cut short as well is deeper on
    the graph and stays ahead of it. A client span (`client_spans`) is not the service's own
    code: a call that became shorter is its callee answering sooner."""
    waits = client_spans(spans)
    for group in spans:
        if group.peer_service or group.artifact_id in waits:
            continue
        move = group_move(group, cut)
        if move is None or move.before_ms < CUT_SHORT_FLOOR_MS:
            continue
        if move.after_ms > CUT_SHORT_SHARE * move.before_ms:
            continue
        factor = move.before_ms / max(move.after_ms, OPERATION_FLOOR_MS / 10)
        z = (factor - 1) / OPERATION_RELATIVE
        suspects.setdefault(group.service, Suspect(group.service)).note(
            "span_cut_short", move.weight * strength_of(z), group.artifact_id
        )


# Requests cut short at one service (`core.call_graph.cut_short_ends`): read where at least this
# many traces began from the fault's start on and at least this share of them were cut short
# there — most of the requests now stop at that service — and at most half that share before.
CUT_SHORT_MIN_TRACES = 20
CUT_SHORT_MAJORITY = 0.5


def _requests_cut_short(spans: Sequence[SpanGroup], cut: Cut, suspects: dict[str, Suspect]) -> None:
    """Most requests now stop right after a call to one service, far shorter than the requests
    of their entry operation that used to go on past it: the handlers give up on that service's
    answer (an exception, a value they cannot use) and return. The service is the deepest point
    of the cut requests, its span completed (a call that reached no span is not counted), so
    its own code answered them: a code fault's evidence, like calls that vanished. Read on the
    share of all traces that began after the fault's start, against the share before where
    there were traces before (a service some requests end at in any minute, a cart emptied,
    stays below the majority)."""
    traces = [0, 0]
    ended: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    refs: dict[str, str] = {}
    for group in spans:
        if group.peer_service:
            continue
        for bucket in group.histogram:
            side = (
                0
                if bucket.ts + MINUTE <= cut.fault_start
                else 1
                if bucket.ts >= cut.fault_start
                else -1
            )
            if side < 0:
                continue
            traces[side] += bucket.traces or 0
            if bucket.cut_short:
                ended[group.service][side] += bucket.cut_short
                refs.setdefault(group.service, group.artifact_id)
    if traces[1] < CUT_SHORT_MIN_TRACES:
        return
    for service, (k0, k1) in ended.items():
        share = k1 / traces[1]
        before = k0 / traces[0] if traces[0] else 0.0
        if share < CUT_SHORT_MAJORITY or before > share / 2:
            continue
        suspects.setdefault(service, Suspect(service)).note(
            "requests_cut_short", min(1.0, (share - before) / CUT_SHORT_MAJORITY), refs[service]
        )


def _call_waits(spans: Sequence[SpanGroup], cut: Cut, suspects: dict[str, Suspect]) -> None:
    """Calls whose callers wait longer while the callee serves as fast as before: the time is
    lost between them (the network, a proxy, a queue). A service at one end of every such call
    it takes part in is where the path is slow: its score is the sum over its slowed calls over
    one more than the calls it takes part in, so a service sharing one slow call with the
    culprit among many calm ones stays behind it."""
    served: dict[str, float] = defaultdict(float)  # service → most time its own ops added
    for group in spans:
        if not group.peer_service:
            move = group_move(group, cut)
            if move is not None and move.weight >= 0.5:
                served[group.service] = max(served[group.service], move.added_ms)
    waits: dict[str, list[float]] = defaultdict(list)
    refs: dict[str, list[str]] = defaultdict(list)
    for group in spans:
        callee = group.peer_service
        if not callee or callee == group.service:
            continue
        move = group_move(group, cut)
        if move is None:
            continue
        lost = move.added_ms - max(0.0, served.get(callee, 0.0))
        strength = move.weight * strength_of(move.z(lost))
        for service in (group.service, callee):
            waits[service].append(strength)
            if strength > 0:
                refs[service].append(group.artifact_id)
    for service, strengths in waits.items():
        share = sum(strengths) / (len(strengths) + CALL_SHARE_PRIOR)
        if share > 0 and refs[service]:
            suspects.setdefault(service, Suspect(service)).note(
                "edge_latency", share, refs[service][0]
            )


# Calls an edge needs on a side for its time outside the callee to be read there, and the
# least time that counts as one spread of it (a few milliseconds of serialisation and the
# mesh's proxies are every call's).
GAP_MIN_CALLS = 5
GAP_FLOOR_MS = 5.0
# Spreads a gap must grow by to be read: the mesh's own jitter moves a few milliseconds.
GAP_MIN_Z = 3.0


def _outside_sides(group: SpanGroup, cut: Cut) -> tuple[float | None, float, int] | None:
    """An edge group's typical time outside the callee (the minutes' medians of the per-call
    gap) before the fault's start, where it has the calls, and from it on; and the calls after."""
    before = [
        b
        for b in group.histogram
        if b.ts + MINUTE <= cut.fault_start and b.count and b.own_p50_ms is not None
    ]
    after = [
        b
        for b in group.histogram
        if b.ts >= cut.fault_start and b.count and b.own_p50_ms is not None
    ]
    calls = sum(b.count for b in after)
    if calls < GAP_MIN_CALLS:
        return None
    was = _typical_call(before) if sum(b.count for b in before) >= GAP_MIN_CALLS else None
    return was, _typical_call(after), calls


def _typical_call(buckets: Sequence[SpanBucket]) -> float:
    """The minutes' medians weighed by their calls: a minute of one slow call is one call."""
    ordered = sorted(buckets, key=lambda b: b.own_p50_ms or 0.0)
    half, seen = sum(b.count for b in ordered) / 2, 0
    for bucket in ordered:
        seen += bucket.count
        if seen >= half:
            return bucket.own_p50_ms or 0.0
    return 0.0


def _call_gaps(
    spans: Sequence[SpanGroup],
    cut: Cut,
    suspects: dict[str, Suspect],
    starved: frozenset[str] = frozenset(),
) -> None:
    """The time a call spends outside its callee's own span — the caller's wait less what the
    callee took, call by call — is the path between them: the network, the proxies, the
    callee's accept queue. It is a few milliseconds on every edge of a healthy mesh, and grows
    on the edges of a slow network (a delayed pod's every call) or of a callee too starved to
    pick its requests up (its span starts late). Read per edge against the edge's own calls
    before the fault where the traces reach back, else against the other edges' calls in the
    same minutes (traces are often kept only from an alert on), in spreads of the reference
    itself (a call twice as long outside the callee is one spread), weighed by the calls that
    back it. Each slowed edge counts at the end its other edges agree with
    (`edges.edge_attribution`), as the edge metrics do; whether it is the network or the callee's
    CPU is for that service's own signals to say (a hot CPU names saturation first)."""
    sides: dict[tuple[str, str], tuple[float | None, float, int, str]] = {}
    for group in spans:
        callee = group.peer_service
        if not callee or callee == group.service:
            continue
        found = _outside_sides(group, cut)
        if found is not None:
            sides[(group.service, callee)] = (*found, group.artifact_id)
    moves: dict[tuple[str, str], float] = {}
    for edge, (was, now, _, _) in sides.items():
        others = [other[1] for key, other in sides.items() if key != edge]
        reference = was if was is not None else median(others) if others else None
        if reference is None:
            continue
        moves[edge] = (now - reference) / max(reference, GAP_FLOOR_MS)
    shares = edge_attribution(moves)
    for edge, z in moves.items():
        if z < GAP_MIN_Z:
            continue
        calls, ref = sides[edge][2], sides[edge][3]
        strength = min(1.0, math.sqrt(calls / 10)) * strength_of(z)
        kept_by_caller, kept_by_callee = shares.get(edge, (1.0, 1.0))
        if edge[0] in starved:
            # A caller starved of CPU reads its replies late whatever the path: the time is its.
            kept_by_caller, kept_by_callee = 1.0, 0.0
        suspects.setdefault(edge[1], Suspect(edge[1])).note(
            "edge_latency", kept_by_callee * strength, ref
        )
        suspects.setdefault(edge[0], Suspect(edge[0])).note(
            "edge_latency", kept_by_caller * strength, ref
        )
