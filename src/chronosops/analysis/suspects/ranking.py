"""The ranking: every reading noted per service, strongest first, then callee over caller."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from chronosops.analysis.code_paths import StoppedPath, stopped_paths
from chronosops.analysis.models import IncidentContext
from chronosops.analysis.operation_mix import FallenOperation
from chronosops.analysis.signals import (
    DEFAULT_TABLE,
    SOURCE_LABELS,
    SignalTable,
    peer_of,
    unit_floor,
)
from chronosops.analysis.suspects.cut import Cut, deviation, strength_of
from chronosops.analysis.suspects.edges import (
    caller_side,
    caller_waits,
    calls_vanished,
    calm_callers,
    edge_gaps,
    path_latency,
    topology_of,
)
from chronosops.analysis.suspects.load import median_calm, read_against_load
from chronosops.analysis.suspects.logs import log_evidence, new_error_templates, persistent_errors
from chronosops.analysis.suspects.series import directional, own_sides, series_evidence
from chronosops.analysis.suspects.spans import span_evidence
from chronosops.analysis.suspects.suspect import Suspect
from chronosops.analysis.suspects.traffic import support, traffic_of
from chronosops.core.artifacts import Artifact, LogTemplate, MetricSeries, SpanGroup


def rank_suspects(
    artifacts: Sequence[Artifact],
    context: IncidentContext,
    *,
    table: SignalTable = DEFAULT_TABLE,
    edges: set[tuple[str, str]] | None = None,
    stopped: Sequence[StoppedPath] | None = None,
    fallen: Sequence[FallenOperation] = (),
    starved: frozenset[str] = frozenset(),
) -> list[Suspect]:
    """Services by how much their own signals moved at the onset, strongest first. Metric
    series are read in their kind's unit (`units.normalise`, as `engine.analyze` hands them);
    ``stopped``: the statements that stopped part-way through, when the caller read them;
    ``fallen``: operations whose share of their service's spans fell against its earlier
    incidents (`operation_mix.fallen_operations`); ``starved``: the services starved of CPU
    (`localisation.starved_of_cpu`, as the edge rules read them), whose calls' time outside
    their callees is their own."""
    cut = Cut.around(context.onset)
    series = [a for a in artifacts if isinstance(a, MetricSeries)]
    spans = [a for a in artifacts if isinstance(a, SpanGroup)]
    traffic = traffic_of(series, spans, table, cut)
    suspects: dict[str, Suspect] = {}
    graph: set[tuple[str, str]] = set(edges or ()) | topology_of(artifacts)
    waited = caller_waits(series, table, cut)
    calm = calm_callers(waited)
    edge_moves: dict[tuple[str, str], list[tuple[float, float, str, bool]]] = defaultdict(list)
    # Edge latency read from a caller's view, noted once the edges' attribution is known.
    pending: list[tuple[str, str, float, float, float, str]] = []
    for item in series:
        found = series_evidence(item, table, cut)
        if found is None or item.service is None:
            continue
        kind, z, weight = found
        source = next((item.labels[k] for k in SOURCE_LABELS if item.labels.get(k)), None)
        if kind == "latency" and source and (source, item.service) in waited:
            # A callee cannot serve a call slower than its caller waits for it: where the
            # caller's view of the same edge moved less, the callee's own view is a percentile
            # over too few calls, not a slower service.
            z = min(z, waited[(source, item.service)])
        if kind == "latency":
            callee = peer_of(item.labels)
            caller = next((item.labels[k] for k in SOURCE_LABELS if item.labels.get(k)), None)
            if (callee or caller) and any(p.value for p in item.points):
                # Caller's view (labelled with the callee) or the callee's (with its caller).
                edge = (item.service, callee) if callee else (caller or "", item.service)
                edge_moves[edge].append((z, weight, item.artifact_id, bool(callee)))
        strength = weight * strength_of(directional(kind, z))
        peer = peer_of(item.labels)
        if kind in ("latency", "errors", "error_ratio"):
            # A near-idle service's percentiles swing on a handful of calls.
            strength *= support(peer or item.service, traffic)
            if kind == "latency" and not peer and "client" in item.name.lower():
                strength *= 0.5  # what it waits for on others: its callees' trouble as much
        if peer:
            graph.add((item.service, peer))
            # An edge metric: the callee's own trouble as much as the caller's.
            edge_kind = "edge_latency" if kind == "latency" else kind
            callee_share, caller_share = 1.0, 0.5
            if kind == "latency" and caller_side(waited, calm, traffic, item.service, peer):
                # Another caller reaches the callee as fast as before: the slow part is this
                # caller's side of the path (its pod's network), not the callee.
                callee_share, caller_share = 0.5, 1.0
            if kind == "latency":
                pending.append(
                    (item.service, peer, strength, caller_share, callee_share, item.artifact_id)
                )
                continue
            suspects.setdefault(peer, Suspect(peer)).note(
                edge_kind, callee_share * strength, item.artifact_id
            )
            suspects.setdefault(item.service, Suspect(item.service)).note(
                edge_kind, caller_share * strength, item.artifact_id
            )
            continue
        if source:
            graph.add((source, item.service))
            kind = "edge_latency" if kind == "latency" else kind
        suspects.setdefault(item.service, Suspect(item.service)).note(
            kind, strength, item.artifact_id
        )
    shares = path_latency(edge_moves, edge_gaps(series, table, cut), traffic, suspects)
    for caller, callee, strength, caller_share, callee_share, ref in pending:
        # Both ends of a slowed call keep the part of it their other calls agree with.
        kept_by_caller, kept_by_callee = shares.get((caller, callee), (1.0, 1.0))
        suspects.setdefault(callee, Suspect(callee)).note(
            "edge_latency", callee_share * kept_by_callee * strength, ref
        )
        suspects.setdefault(caller, Suspect(caller)).note(
            "edge_latency", caller_share * kept_by_caller * strength, ref
        )
    span_evidence(spans, cut, suspects, starved)
    for group in spans:
        if group.peer_service:
            graph.add((group.service, group.peer_service))
    calls_vanished(series, table, cut, graph, suspects)
    templates = [a for a in artifacts if isinstance(a, LogTemplate)]
    log_evidence(templates, cut, suspects)
    new_error_templates(templates, cut, suspects)
    persistent_errors(templates, cut, suspects)
    for path in stopped_paths(artifacts, context.onset) if stopped is None else stopped:
        suspects.setdefault(path.service, Suspect(path.service)).note(
            "statement_stopped", path.strength, path.refs[0]
        )
    for fallen_operation in own_mix_shifts(fallen, graph, suspects):
        suspects.setdefault(fallen_operation.service, Suspect(fallen_operation.service)).note(
            "operation_mix", fallen_operation.strength, fallen_operation.refs[0]
        )
    read_against_load(series, spans, table, cut, suspects)
    for service in median_calm(series, table, cut):
        if service in suspects:
            suspects[service].median_calm = True
    ranked = sorted(suspects.values(), key=lambda s: (-s.score, s.service))
    return _callee_first(ranked, graph, _failing(series, table, cut))


def own_mix_shifts(
    fallen: Sequence[FallenOperation],
    graph: set[tuple[str, str]],
    suspects: dict[str, Suspect],
) -> list[FallenOperation]:
    """The operation-mix shifts that are the service's own code path: not where a caller's mix
    shifted too (the requests it is sent changed: a caller whose handler now stops early, or
    asks for other things, hands every service below it another mix), nor where requests are
    cut short at a service it reaches (its handlers give up on that answer and skip their later
    calls, `spans._requests_cut_short`). Measured on the tuned Nezha OnlineBoutique cases: in a
    product-catalog exception the mix falls at the frontend, which calls the catalog whose
    requests end short, and at three services the frontend calls, and at neither adservice code
    fault's caller."""
    shifted = {f.service for f in fallen}
    callees: dict[str, set[str]] = defaultdict(set)
    for caller, callee in graph:
        if caller != callee:
            callees[caller].add(callee)
    cut_short = {
        service for service, suspect in suspects.items() if suspect.kinds.get("requests_cut_short")
    }
    kept: list[FallenOperation] = []
    for found in fallen:
        callers = {caller for caller, below in callees.items() if found.service in below}
        if callers & shifted:
            continue
        reached: set[str] = set()
        frontier = set(callees.get(found.service, ()))
        while frontier:
            service = frontier.pop()
            if service in reached or service == found.service:
                continue
            reached.add(service)
            frontier |= callees.get(service, set())
        if reached & cut_short:
            continue
        kept.append(found)
    return kept


def _failing(series: Sequence[MetricSeries], table: SignalTable, cut: Cut) -> dict[str, float]:
    """Per service with a success-rate series: how far its failures (the complement) rose, on
    an error ratio's floor. A success rate read on its own level (a twentieth of it) hides 3%
    of requests failing at a 100% baseline; as the failure share it is a plain rise."""
    found: dict[str, float] = {}
    for service, _item, before, after in own_sides(series, table, cut, "availability"):
        # A share (`units.normalise` read a success rate in percent as a hundredth).
        floor = unit_floor("ratio", "error_ratio")
        z = deviation(
            [1.0 - v for v in before], [1.0 - v for v in after], floor=floor, relative=0.05
        )
        found[service] = max(found.get(service, 0.0), strength_of(z))
    return found


# Kinds a caller's callees cannot explain: its own resources and its own failures.
OWN_KINDS = (
    "cpu",
    "memory",
    "saturation",
    "restarts",
    "gc",
    "log_errors",
    "log_new_errors",
    "log_errors_persistent",
    "log_errors_named",
    "calls_vanished",
    "statement_stopped",
    "operation_mix",
    "span_cut_short",
    "requests_cut_short",
    # Its own success rate fell (engine 3.36): the requests it failed, as much its own as its
    # error lines. Latency adds up along a call (a caller's time holds its callees'), so a
    # callee about as slow explains a slow caller; failures do not add up that way. A callee
    # that is only slower, or busier on the wire, makes its caller fail only past a timeout,
    # and its own failures then show in its own signals. Read on the success rate's own scale
    # (a twentieth of its level), so only a plain drop holds a caller ahead.
    "availability",
)


def own_resources(suspect: Suspect) -> float:
    return max((suspect.kinds.get(kind, 0.0) for kind in OWN_KINDS), default=0.0)


def _callee_first(
    ranked: list[Suspect], graph: set[tuple[str, str]], failing: dict[str, float] | None = None
) -> list[Suspect]:
    """A caller whose callee is about as anomalous moves behind it (PetShop traversal), unless
    the caller shows trouble of its own the callee cannot explain (a hot CPU, its own errors).
    What a service explains counts its callers' anomaly and their failing requests (`_failing`)
    alike: a caller that fails requests because its callee broke is a symptom of the callee,
    however little its own signals rank it."""
    if not graph:
        return ranked
    failing = failing or {}
    score = {s.service: s.score for s in ranked}
    by_name = {s.service: s for s in ranked}
    for suspect in ranked:
        callers = {caller for caller, callee in graph if callee == suspect.service}
        symptom = {c: max(score.get(c, 0.0), failing.get(c, 0.0)) for c in callers}
        explained = [
            c for c in sorted(symptom) if symptom[c] >= 0.3 and suspect.score >= 0.5 * symptom[c]
        ]
        suspect.explains = sum(symptom[c] for c in explained)
        # The same callers, less those with trouble of their own it cannot explain (as a caller
        # steps aside for its callee below): their signals are its own, propagated.
        suspect.explained_callers = frozenset(
            c
            for c in explained
            if c not in by_name or own_resources(by_name[c]) < max(0.3, own_resources(suspect))
        )
    order = list(ranked)
    for _ in range(len(order)):
        moved = False
        for index, suspect in enumerate(order):
            callees = [c for caller, c in sorted(graph) if caller == suspect.service and c in score]
            deeper = [
                c
                for c in callees
                if score[c] >= 0.7 * suspect.score
                and score[c] >= 0.3
                and own_resources(suspect) < max(0.3, own_resources(by_name[c]))
            ]
            ahead = {s.service for s in order[:index]}
            if deeper and not all(c in ahead for c in deeper):
                target = max(order.index(next(s for s in order if s.service == c)) for c in deeper)
                order.insert(target, order.pop(index))
                moved = True
                break
        if not moved:
            break
    return order
