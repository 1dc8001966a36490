"""Call edges read from their metrics: the call graph sent as topology, the caller's view of
its wait against the callee's, the gap between both ends of a call, slowed paths per direction
and which end of a slowed edge keeps it, and calls each request made that vanished."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from chronosops.analysis.signals import SOURCE_LABELS, SignalTable, peer_of, unit_floor
from chronosops.analysis.statistics import MAD_SCALE, mad, median
from chronosops.analysis.suspects.cut import MIN_BASELINE, Cut, strength_of
from chronosops.analysis.suspects.series import (
    MIN_WEAK_BASELINE,
    WEAK_SUPPORT,
    series_evidence,
)
from chronosops.analysis.suspects.suspect import Suspect
from chronosops.analysis.suspects.traffic import own_request_rate, support
from chronosops.core.artifacts import Artifact, MetricSeries, OtherEvent


def topology_of(artifacts: Sequence[Artifact]) -> set[tuple[str, str]]:
    """Caller→callee edges sent with the incident as ``topology`` events."""
    found: set[tuple[str, str]] = set()
    for item in artifacts:
        if not isinstance(item, OtherEvent) or item.event_type.strip().lower() != "topology":
            continue
        caller = item.metadata.get("service")
        callee = item.metadata.get("peerService") or item.metadata.get("peer_service")
        if isinstance(caller, str) and isinstance(callee, str) and caller and callee:
            found.add((caller, callee))
    return found


# An edge whose latency moved less than this many spreads is calm.
CALM_EDGE_Z = 1.0


def caller_waits(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut
) -> dict[tuple[str, str], float]:
    """(caller, callee) → the move (robust z) of the caller's own view of its wait on the
    callee (an edge metric labelled with the callee), on edges measured with a full baseline."""
    found: dict[tuple[str, str], float] = {}
    for item in series:
        peer = peer_of(item.labels)
        if not peer or item.service is None:
            continue
        evidence = series_evidence(item, table, cut)
        if evidence is None or evidence[0] != "latency" or evidence[2] < 1.0:
            continue
        edge = (item.service, peer)
        found[edge] = max(found.get(edge, -math.inf), evidence[1])
    return found


# How much better supported the calm at the callee's end must be than the calm at the caller's.
CALM_MARGIN = 1.0


def caller_side(
    waited: dict[tuple[str, str], float],
    calm: dict[str, set[str]],
    traffic: dict[str, float],
    caller: str,
    callee: str,
) -> bool:
    """Whether a slowed call edge is the caller's side of the path: another caller reaches the
    callee as fast as before, on more calls than the caller's other calls that kept their pace
    (if any). Both ends can look calm elsewhere — the callee to its other callers, the caller on
    its other calls — and a calm edge says as much as the calls it carries: an edge is as busy
    as its quieter end allows, so the better-supported calm wins (a handful of calls a minute
    whose median did not move is weak evidence that the callee is fine)."""

    def carried(source: str, target: str) -> float:
        return min(support(source, traffic), support(target, traffic))

    at_callee = max((carried(c, callee) for c in calm.get(callee, set()) - {caller}), default=0.0)
    if at_callee <= 0:
        return False
    at_caller = max(
        (
            carried(caller, target)
            for (source, target), z in waited.items()
            if source == caller and target != callee and z < CALM_EDGE_Z
        ),
        default=0.0,
    )
    return at_callee > CALM_MARGIN * at_caller


def calm_callers(waited: dict[tuple[str, str], float]) -> dict[str, set[str]]:
    """Callee → callers whose edge latency to it did not move (measured, well supported)."""
    found: dict[str, set[str]] = defaultdict(set)
    for (caller, callee), z in waited.items():
        if z < CALM_EDGE_Z:
            found[callee].add(caller)
    return found


# Spreads at which one edge's move stops adding to the combined evidence (strength_of is
# certain at 30): one wildly slow edge must not stand for all of a service's calls.
EDGE_Z_CAP = 30.0


def edge_gaps(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut
) -> dict[tuple[str, str], float]:
    """Per call edge measured from both ends (the caller's view labelled with the callee, the
    callee's labelled with the caller): the robust move of the time lost between them, minute
    by minute (MicroRank / ε-Diagnosis's client-against-server reading). The caller's wait less
    the callee's own time in the same minute cancels whatever both ends saw alike — the callee
    serving slower or faster, an earlier fault's tail in the baseline — and leaves the network,
    the proxies and the queues between them. Scaled by the gap's own spread, a fifth of the
    callee's level (a proxy's share of a slow call) or the kind's unit floor."""
    caller_views: dict[tuple[str, str], dict[datetime, float]] = {}
    callee_views: dict[tuple[str, str], tuple[dict[datetime, float], float]] = {}
    for item in series:
        if item.service is None or table.kind_of(item.name, item.labels) != "latency":
            continue
        callee = peer_of(item.labels)
        caller = next((item.labels[k] for k in SOURCE_LABELS if item.labels.get(k)), None)
        values = {p.ts: p.value for p in item.points if p.value > 0}
        if callee:
            caller_views[(item.service, callee)] = values
        elif caller:
            callee_views[(caller, item.service)] = (
                values,
                unit_floor(item.name, "latency", item.unit),
            )
    found: dict[tuple[str, str], float] = {}
    for edge, waited in caller_views.items():
        if edge not in callee_views or edge[0] == edge[1]:
            continue
        served, floor = callee_views[edge]
        minutes = sorted(set(waited) & set(served))
        before = [waited[t] - served[t] for t in minutes if t < cut.baseline_end]
        after = [waited[t] - served[t] for t in minutes if t >= cut.fault_start]
        if len(before) < MIN_BASELINE - 1 or len(after) < 2:
            continue
        level = median([served[t] for t in minutes if t < cut.baseline_end])
        scale = max(MAD_SCALE * mad(before), EDGE_GAP_RELATIVE * level, floor)
        found[edge] = (median(after) - median(before)) / scale
    return found


# A gap between the two ends' views of a call moves by this share of the callee's own time
# before it counts as one spread (the proxies' and the network's part of a call).
EDGE_GAP_RELATIVE = 0.2


def path_latency(
    edge_moves: dict[tuple[str, str], list[tuple[float, float, str, bool]]],
    gaps: dict[tuple[str, str], float],
    traffic: dict[str, float],
    suspects: dict[str, Suspect],
) -> dict[tuple[str, str], tuple[float, float]]:
    """A slow network at a service slows the calls through it in one direction at least — all
    the calls into it, or all the calls out of it — and no other call. Per service and per
    direction, the latency moves of its call edges (edge metrics labelled with a peer) are
    combined as independent evidence (Stouffer: the weighted sum of their z over the root of
    the summed squared weights, signed, so calm edges count against), and the service keeps its
    stronger direction. A callee whose every caller waits longer outscores a caller that waits
    longer on that one callee and as before on all the others; two callers agreeing count more
    than one. Where both ends measure a call, its move is the gap between them, minute by
    minute (`edge_gaps`); else the one view there is; an edge whose series never saw a call
    says nothing. Each slowed edge counts at the end its other edges agree with
    (`edge_attribution`); the shares are returned for the edge metrics' own readings."""
    per_edge: dict[tuple[str, str], tuple[float, float, str]] = {}
    for (caller, callee), views in edge_moves.items():
        if not caller or caller == callee:
            continue
        caller_view = [min(EDGE_Z_CAP, v[0]) for v in views if v[3]]
        callee_view = [min(EDGE_Z_CAP, v[0]) for v in views if not v[3]]
        if (caller, callee) in gaps:
            z = min(EDGE_Z_CAP, gaps[(caller, callee)])
        elif caller_view and callee_view:
            # Both ends measure the call: what the caller waited beyond what the callee took
            # to serve was lost between them.
            z = max(caller_view) - max(0.0, max(callee_view))
        else:
            z = max(caller_view or callee_view)
        z = max(-EDGE_Z_CAP, z)
        weight = min(v[1] for v in views) * support(callee, traffic)
        ref = max(views, key=lambda v: v[0])[2]
        per_edge[(caller, callee)] = (z, weight, ref)
    shares = edge_attribution({edge: move[0] for edge, move in per_edge.items()})
    ends: dict[tuple[str, bool], list[tuple[float, float, str]]] = defaultdict(list)
    for (caller, callee), (z, weight, ref) in per_edge.items():
        caller_share, callee_share = shares.get((caller, callee), (1.0, 1.0))
        ends[(caller, False)].append((z * caller_share, weight, ref))  # its calls out
        ends[(callee, True)].append((z * callee_share, weight, ref))  # the calls into it
    best: dict[str, tuple[float, str]] = {}
    for (service, _), moves in ends.items():
        total_weight = math.sqrt(sum(w * w for _, w, _ in moves))
        if total_weight <= 0:
            continue
        combined = sum(z * w for z, w, _ in moves) / total_weight
        ref = max(moves, key=lambda m: m[0] * m[1])[2]
        if combined > best.get(service, (0.0, ""))[0]:
            best[service] = (combined, ref)
    for service, (combined, ref) in best.items():
        suspects.setdefault(service, Suspect(service)).note(
            "edge_latency", strength_of(combined), ref
        )
    return shares


# What a slowed edge's other end must show of its own before it takes the edge from this end: a
# prior for "the other edges say nothing", as a share of full strength.
ATTRIBUTION_PRIOR = 0.1
# What an end with no other measured edge counts as: as likely slowed as not.
ATTRIBUTION_UNSEEN = 0.5


def edge_attribution(
    moves: dict[tuple[str, str], float],
) -> dict[tuple[str, str], tuple[float, float]]:
    """Per slowed call edge, how much of its move each end keeps (caller, callee), 0–1: the end
    whose other edges moved too is where the trouble is (explaining away, as ε-Diagnosis and
    MicroRank read the node common to the anomalous calls). A callee all of whose callers wait
    longer takes the edge from a caller whose other calls are calm, and the caller keeps little
    of it; with nothing to tell the ends apart, both keep all of it."""
    touching: dict[str, list[tuple[tuple[str, str], float]]] = defaultdict(list)
    for edge, z in moves.items():
        level = strength_of(max(0.0, z))
        touching[edge[0]].append((edge, level))
        touching[edge[1]].append((edge, level))

    def others(service: str, edge: tuple[str, str]) -> float:
        found = [level for other, level in touching[service] if other != edge]
        # Calm edges are evidence against an end; an end with no other edge has none either way.
        return sum(found) / len(found) if found else ATTRIBUTION_UNSEEN

    shares: dict[tuple[str, str], tuple[float, float]] = {}
    for edge, z in moves.items():
        if z <= 0:
            continue
        at_caller = others(edge[0], edge) + ATTRIBUTION_PRIOR
        at_callee = others(edge[1], edge) + ATTRIBUTION_PRIOR
        total = at_caller + at_callee
        shares[edge] = (min(1.0, 2 * at_caller / total), min(1.0, 2 * at_callee / total))
    return shares


# Calls to a callee count as part of every request of its caller when they ran at this share of
# the caller's own rate at least; they vanished when they fell to this share of their rate.
FANOUT_SHARE = 0.25
VANISHED_SHARE = 0.25
# A caller whose own requests kept at least this share of their rate kept being asked.
HELD_SHARE = 0.5


def _request_rates(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut
) -> dict[str, tuple[list[float], list[float], str]]:
    """Per service, its own request-rate series (not an edge's): baseline and fault values,
    from two baseline points on (`series.MIN_WEAK_BASELINE`). `calls_vanished` reads a level
    and counts against it, not a spread: two or three points give a level, as a window the
    previous incident cut short does to `series_evidence`, which reads them weighed down."""
    found: dict[str, tuple[list[float], list[float], str]] = {}
    for item in series:
        if item.service is None or not own_request_rate(item, table):
            continue
        if any(item.labels.get(k) for k in SOURCE_LABELS):
            continue
        before, after = cut.sides(item)
        if len(before) >= MIN_WEAK_BASELINE and len(after) >= 2 and item.service not in found:
            found[item.service] = (before, after, item.artifact_id)
    return found


def calls_vanished(
    series: Sequence[MetricSeries],
    table: SignalTable,
    cut: Cut,
    graph: set[tuple[str, str]],
    suspects: dict[str, Suspect],
) -> None:
    """A service that keeps being asked while the calls each of its requests used to make
    stopped runs another code path: an exception that ends the request before its later calls,
    a value its follow-up depends on coming back wrong. Read on callees the service alone calls
    (a callee another service calls too could have lost that one's calls), which were called
    in every baseline minute at a good share of the caller's own rate (a path every request
    takes, not a rare one the traffic mix may skip) and whose calls fell to a small share of
    that. The strength is the calls missing against the ones expected (a Poisson z), combined
    over the vanished callees (Stouffer); a callee that crashed would lose its calls as well,
    but would show it in its own signals, which rank it as they always did.

    A baseline of two or three points (a shorter look-back, or one an earlier incident cut
    short) still gives the level the calls are counted against, but fewer points say less about
    whether a callee was called in every minute: the reading is weighed down as `series_evidence`
    weighs such a baseline (`series.WEAK_SUPPORT`, engine 3.48). Before, it was not read at all
    under four points, and a code fault read from its vanished calls on a ten-minute baseline
    fell out of the ranking when five minutes were collected."""
    rates = _request_rates(series, table, cut)
    callers: dict[str, set[str]] = defaultdict(set)
    # Sorted: the graph is a set, and the evidence each suspect notes must come out in the same
    # order in every process (string hashing differs between runs).
    for caller, callee in sorted(graph):
        if caller != callee:
            callers[callee].add(caller)
    found: dict[str, list[tuple[float, str]]] = defaultdict(list)
    weights: dict[str, float] = {}
    for callee, by in callers.items():
        if len(by) != 1 or callee not in rates:
            continue
        caller = next(iter(by))
        if caller not in rates:
            continue
        asked_before, asked_after, _ = rates[caller]
        before, after, ref = rates[callee]
        level, asked = median(before), median(asked_before)
        if min(before) <= 0 or asked <= 0 or level < FANOUT_SHARE * asked:
            continue
        if median(asked_after) < HELD_SHARE * asked or median(after) > VANISHED_SHARE * level:
            continue
        expected = level * 60 * len(after)
        missing = expected - sum(after) * 60
        found[caller].append((missing / math.sqrt(expected), ref))
        short = min(len(before), len(asked_before)) < MIN_BASELINE
        weights[caller] = min(weights.get(caller, 1.0), WEAK_SUPPORT if short else 1.0)
    for service, moves in found.items():
        combined = sum(min(EDGE_Z_CAP, z) for z, _ in moves) / math.sqrt(len(moves))
        suspect = suspects.setdefault(service, Suspect(service))
        for _, ref in moves:
            suspect.note("calls_vanished", weights[service] * strength_of(combined), ref)
