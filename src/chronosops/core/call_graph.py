"""Spans → span groups with the call graph they hold: one implementation for every producer.

Spans sent with an incident (evidenceLite) and spans a collector reads from a trace backend go
through `call_groups`, so the same spans give the same groups whichever way they came: the
server-side groups per service and operation (with each span's own time), and the caller→callee
edge groups (operation ``→peer``: what the caller waited per call, and the call's time outside
the callee's own span). A producer hands over `RawSpan` values with whatever of
``span_id``/``parent_span_id``/``kind``/``peer_service`` its backend writes; where a trace names
no parents at all, they are inferred from time enclosure (`enclosing_parents`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from statistics import median

from chronosops.core.aggregation import RawSpan, span_groups
from chronosops.core.artifacts import SpanGroup

# Clocks of one host round a span's start to the millisecond (and two hosts disagree by about
# as much): a child may seem to start or end this much outside its parent.
ENCLOSURE_SLACK_MS = 0.5


_KINDS = ("server", "client", "internal", "producer", "consumer")


def span_kind(value: object) -> str | None:
    """A span kind as any backend spells it, in OpenTelemetry's lower-case words: ``client``,
    ``SPAN_KIND_CLIENT`` (OTLP), ``RPC_CLIENT`` (Cloud Trace v1). None when it says nothing
    (``unspecified``) or is not a kind."""
    if not isinstance(value, str):
        return None
    word = value.strip().lower().rsplit("_", 1)[-1]
    return word if word in _KINDS else None


def _keys(spans: Sequence[RawSpan]) -> list[str]:
    # A span without an id can still be enclosed or enclose (by time), never be named a parent:
    # it gets a key no backend id can spell.
    return [span.span_id or f"#{index}" for index, span in enumerate(spans)]


def enclosing_parents(spans: Sequence[RawSpan]) -> dict[str, RawSpan]:
    """Span key → its parent, inferred where no span of a trace names one: the innermost span of
    the same trace that started no later and ended no earlier (a call runs inside its caller's
    span). Traces whose spans carry ``parent_span_id`` are left to it; spans without a duration
    or a trace id enclose nothing. Linear after sorting: a stack of the open spans per trace."""
    by_trace: dict[str, list[tuple[str, RawSpan]]] = defaultdict(list)
    for key, span in zip(_keys(spans), spans, strict=True):
        if span.trace_id:
            by_trace[span.trace_id].append((key, span))
    found: dict[str, RawSpan] = {}
    for members in by_trace.values():
        if len(members) < 2 or any(m.parent_span_id for _, m in members):
            continue
        timed = [
            (m.ts.timestamp() * 1000, float(m.duration_ms or 0.0), key, m)
            for key, m in members
            if m.duration_ms is not None
        ]
        # Earlier first; of two starting together, the longer one is the caller.
        timed.sort(key=lambda item: (item[0], -item[1], item[2]))
        open_spans: list[tuple[float, str, RawSpan]] = []  # (end, key, span), innermost last
        for start, duration, key, span in timed:
            end = start + duration
            while open_spans and open_spans[-1][0] < end - ENCLOSURE_SLACK_MS:
                open_spans.pop()
            if open_spans:
                found[key] = open_spans[-1][2]
            open_spans.append((end, key, span))
    return found


def call_groups(
    spans: Sequence[RawSpan],
    *,
    id_prefix: str,
    source: str,
    onset: datetime | None = None,
    synthetic: bool = False,
) -> list[SpanGroup]:
    """Spans per service and operation (server side), with per-minute counts, failures and p95,
    then the caller→callee edge groups; split at ``onset`` into baseline and incident.

    Where spans say who called whom (``parent_span_id`` across services, or a client span's
    ``peer_service``), the calls become caller→callee edge groups: what the caller saw of its
    callee. Where a trace names no parents at all, each span's parent is inferred as the
    innermost span of the trace that encloses it in time (`enclosing_parents`).
    """
    keys = _keys(spans)
    by_id = dict(zip(keys, spans, strict=True))
    inferred = enclosing_parents(spans)
    key_of = {id(span): key for key, span in zip(keys, spans, strict=True)}

    def parent_key(key: str, span: RawSpan) -> str | None:
        if span.parent_span_id:
            return span.parent_span_id
        return key_of[id(inferred[key])] if key in inferred else None

    roots, cut = cut_short_ends(spans, keys, parent_key)
    # Per span, the services its children run in: a span whose children all run in one other
    # service is a call to it (a client span, whatever its kind says).
    children: dict[str, set[str]] = defaultdict(set)
    waited: dict[str, float] = defaultdict(float)  # span key → its children's time
    for key, span in zip(keys, spans, strict=True):
        parent_id = parent_key(key, span)
        if parent_id:
            children[parent_id].add(span.service)
            waited[parent_id] += float(span.duration_ms or 0.0)
    # A client span's call site (its service and operation) → the services its callees' spans
    # ran in: a call at the same site whose callee left no span (lost on the way, refused) went
    # to the same service.
    sites: dict[tuple[str, str], set[str]] = defaultdict(set)
    for key, span in zip(keys, spans, strict=True):
        if _is_client(span) and key in children:
            sites[(span.service, span.operation)] |= children[key] - {span.service}
    server: list[RawSpan] = []
    calls: list[RawSpan] = []
    for key, span in zip(keys, spans, strict=True):
        if _is_client(span):
            if children.get(key, set()) - {span.service}:
                # Its callee's spans are in the traces: the callee's span under it is the call
                # (counted once, whether or not the client names its peer).
                continue
            callee = span.peer_service
            if not callee:
                reached = sites.get((span.service, span.operation), set())
                callee = next(iter(reached)) if len(reached) == 1 else None
            if callee and callee != span.service:
                calls.append(_edge(span, caller=span.service, callee=callee))
                continue
            if key in children:
                continue
            # A call to what no span of these traces runs in and no peer names (a database, a
            # cache): its only record, kept among its service's operations. What it took is
            # the call's, not code of the service's own (no own time).
            server.append(_marked(_plain(span, own_ms=None), key, roots, cut))
            continue
        own = None
        known = bool(span.parent_span_id) or key in inferred or key in waited
        calls_out = children.get(key, set()) - {span.service}
        if span.duration_ms is not None and known and not (calls_out and len(children[key]) == 1):
            # Its duration less its children's: the time it spent in its own code (children
            # running in parallel can add up to more than it took: none, then). A span wrapping
            # calls to one other service only is a client span: what it adds is time between
            # the two (the network), read from the call's edge group instead.
            own = max(0.0, float(span.duration_ms) - waited.get(key, 0.0))
        server.append(_marked(_plain(span, own_ms=own), key, roots, cut))
        parent = by_id.get(span.parent_span_id) if span.parent_span_id else inferred.get(key)
        if parent is not None and parent.service != span.service:
            parent_id = key_of[id(parent)]
            # The callee's server span under the caller's span: the call. Where the caller's
            # span wraps calls to this callee and nothing else (a client span), its duration is
            # how long the caller waited, network included; otherwise the callee's own.
            waited_for = (
                parent.duration_ms
                if children[parent_id] == {span.service} and parent.duration_ms is not None
                else None
            )
            # The call's time outside the callee's own span (the caller's wait less what the
            # callee took): the network, proxies and queues between the two ends, per call.
            outside = (
                max(0.0, waited_for - float(span.duration_ms))
                if waited_for is not None and span.duration_ms is not None
                else None
            )
            edge = _edge(
                span,
                caller=parent.service,
                callee=span.service,
                duration_ms=waited_for,
                own_ms=outside,
            )
            if waited_for is not None and parent.is_error and not span.is_error:
                # What the caller saw of the call: its client span failed (a timeout the
                # callee never knew of) though the callee's own span did not.
                edge = replace(edge, is_error=True)
            calls.append(edge)
    groups = span_groups(
        server, id_prefix=id_prefix, source=source, onset=onset, synthetic=synthetic
    )
    groups += span_groups(
        calls, id_prefix=id_prefix, source=source, onset=onset, synthetic=synthetic
    )
    return groups


# A request is cut short at a service when its last call ended there and it holds at most this
# share of the spans of the requests of the same entry operation that went on past that service
# (their median, from at least CUT_SHORT_MIN_REFERENCE of them in the evidence).
CUT_SHORT_SPAN_SHARE = 0.25
CUT_SHORT_MIN_REFERENCE = 5


def cut_short_ends(
    spans: Sequence[RawSpan],
    keys: Sequence[str],
    parent_key: Callable[[str, RawSpan], str | None],
) -> tuple[set[str], set[str]]:
    """Span keys of each trace's root (traces with one root in the evidence), and of the spans
    where a request was cut short: the trace's *last call* — followed from the root down
    through the child that ended last — ended in a completed span of another service than the
    entry's (not a call that reached no span), and the request holds at most
    `CUT_SHORT_SPAN_SHARE` of the spans of the requests of the same entry operation that
    reached that service and went on to other calls after it. A handler that gives up on a
    callee's answer (an exception, a value it cannot use) returns an error at once: its request
    stops right after the call, far shorter than the requests the same answer used to let go
    on, and the callee is the deepest point of it."""
    by_trace: dict[str, list[tuple[str, RawSpan]]] = defaultdict(list)
    for key, span in zip(keys, spans, strict=True):
        if span.trace_id:
            by_trace[span.trace_id].append((key, span))
    roots: set[str] = set()
    candidates: list[tuple[tuple[str, str, str], int, str]] = []  # (entry, callee), size, key
    went_on: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for members in by_trace.values():
        present = {key for key, _ in members}
        kids: dict[str, list[tuple[str, RawSpan]]] = defaultdict(list)
        tops = []
        for key, span in members:
            parent = parent_key(key, span)
            if parent is not None and parent in present:
                kids[parent].append((key, span))
            else:
                tops.append((key, span))
        if len(tops) != 1:
            continue
        root_key, root = tops[0]
        roots.add(root_key)
        entry = (root.service, root.operation)
        end = {key: _start_ms(span) + float(span.duration_ms or 0.0) for key, span in members}
        first_end: dict[str, float] = {}
        for key, span in members:
            if span.service != root.service:
                first_end[span.service] = min(first_end.get(span.service, end[key]), end[key])
        latest = sorted(
            ((_start_ms(span), span.service) for key, span in members if key != root_key),
            reverse=True,
        )
        for service, ended in first_end.items():
            later = next((start for start, other in latest if other != service), None)
            if later is not None and later > ended:
                went_on[(*entry, service)].append(len(members))
        deepest_key, deepest = root_key, root
        while kids.get(deepest_key):
            deepest_key, deepest = max(
                kids[deepest_key], key=lambda item: (end[item[0]], _start_ms(item[1]), item[0])
            )
        if deepest.service != root.service and not _is_client(deepest):
            candidates.append(((*entry, deepest.service), len(members), deepest_key))
    cut: set[str] = set()
    for reach, size, key in candidates:
        reference = went_on.get(reach, [])
        if len(reference) >= CUT_SHORT_MIN_REFERENCE and size <= CUT_SHORT_SPAN_SHARE * median(
            reference
        ):
            cut.add(key)
    return roots, cut


def _start_ms(span: RawSpan) -> float:
    return span.ts.timestamp() * 1000


def _marked(span: RawSpan, key: str, roots: set[str], cut: set[str]) -> RawSpan:
    if key in roots or key in cut:
        return replace(span, is_root=key in roots, ends_cut_short=key in cut)
    return span


def _is_client(span: RawSpan) -> bool:
    return span.kind == "client" or (span.kind is None and bool(span.peer_service))


def _plain(span: RawSpan, *, own_ms: float | None) -> RawSpan:
    # What a group counts of a server-side span: the graph fields have done their work.
    return RawSpan(
        ts=span.ts,
        service=span.service,
        operation=span.operation,
        duration_ms=span.duration_ms,
        is_error=span.is_error,
        trace_id=span.trace_id,
        own_ms=own_ms,
    )


def _edge(
    span: RawSpan,
    *,
    caller: str,
    callee: str,
    duration_ms: float | None = None,
    own_ms: float | None = None,
) -> RawSpan:
    return replace(
        _plain(span, own_ms=own_ms),
        service=caller,
        operation=f"→{callee}",
        peer_service=callee,
        duration_ms=span.duration_ms if duration_ms is None else duration_ms,
    )


__all__ = [
    "CUT_SHORT_MIN_REFERENCE",
    "CUT_SHORT_SPAN_SHARE",
    "ENCLOSURE_SLACK_MS",
    "call_groups",
    "cut_short_ends",
    "enclosing_parents",
    "span_kind",
]
