"""Joined traces: sampled requests followed through the call graph, as a tracer records them.

The default span form draws every span on its own (a trace of one span, no parent), so no
incident holds a trace that crosses two services. In the *joined* form (`conventions.FORM_SHARES`)
a sample of the requests entering the system each minute is followed from its entry operation
down the scenario's call path: a server span at each service it reaches, a client span at the
caller for each call (``parent_span_id`` set, OpenTelemetry kinds), durations nested (a server
span is its own time plus the client spans it waits on, one after another; a client span its
callee's server span plus the network both ways). The fault sits where the simulation puts it:

- a call fails with the share its frame says; where the callee's own span failed, the client
  span fails with it, and the caller passes the failure on to its own caller with the call's
  ``propagation`` (fallbacks absorb the rest), so a failing callee's error climbs the trace;
- a call lost before it arrives (a partition, a handshake, a lookup) has a failing client span
  and no callee span; a callee slower than the call's timeout leaves its caller's client span
  failed at the timeout while its own span runs on (servlet containers do not cancel);
- a slow callee's time is in its own span and so in every span that waits on it;
- a service's own failures (the share of its operation's errors its callees do not explain)
  fail its server span: a throttled request at once, a request that found no database
  connection after the pool's wait, both without calling anything.

Sampling is by trace, at the root: about `SPANS_PER_MINUTE` traces per entry operation and
minute at baseline traffic, and further draws kept only where a span of the trace failed (tail
sampling keeps the traces people open), each capped per minute as the span form caps spans.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chronosops.core.aggregation import RawSpan
from chronosops.scenarios.model import Call, ServiceNode, Topology
from chronosops.scenarios.simulation import BASE_SIGMA, CallFrame, OpFrame, Run, exceed

APP_KINDS = ("edge", "api", "worker")
SPANS_PER_MINUTE = 6.0  # sampled traces per entry operation and minute at baseline
MAX_OK_TRACES = 14
MAX_ERROR_TRACES = 10
# Tail sampling: this many more draws per head-sampled one, kept only when a span failed.
TAIL_DRAWS = 3
# One way between two pods of a cluster, ms.
NETWORK_MS = (0.2, 1.0)
THROTTLED_MS = (1.0, 3.0)
POOL_WAIT_MS = 5000.0
# A call lost before its callee sees it: the modes in which no callee span exists.
LOST_MODES = ("unreachable", "tls", "dns", "refused")

# A client span's (operation, peer.service) for a call to a service's operation.
ClientName = Callable[[ServiceNode, str], tuple[str, "str | None"]]


@dataclass
class _Built:
    spans: list[RawSpan] = field(default_factory=list)
    duration_ms: float = 0.0
    failed: bool = False


class JoinedTraces:
    def __init__(
        self, topology: Topology, run: Run, rng: random.Random, client_name: ClientName
    ) -> None:
        self.topology = topology
        self.run = run
        self.rng = rng
        self.client_name = client_name
        self.calls: dict[tuple[str, str], tuple[Call, ...]] = {
            (node.key, op.name): op.calls for node in topology.services for op in node.operations
        }
        # Per server span id: the services whose calls from it failed, and whether it failed
        # of its own (not passed on): which of its service's lines it wrote (`lines_of`).
        self.failed_calls: dict[str, set[str]] = {}
        self.own_failures: set[str] = set()
        self._spans: list[RawSpan] | None = None

    @property
    def server_spans(self) -> list[RawSpan]:
        return [span for span in self.spans() if span.kind == "server"]

    def own_share(self, key: str, frame: OpFrame) -> float:
        """The share of an operation's calls that fail of its own (`_own_failure`)."""
        return _own_failure(frame, self.calls[(key, frame.name)])

    def spans(self) -> list[RawSpan]:
        """Every span of the sampled traces (drawn once)."""
        if self._spans is not None:
            return self._spans
        found: list[RawSpan] = []
        first = self.run.frames[0]
        roots = [n for n in self.topology.services if n.kind in APP_KINDS and n.rps > 0]
        for node in roots:
            for op in node.operations:
                base = max(first[node.key].ops[op.name].rps, 1e-3)
                sampling = min(1.0, SPANS_PER_MINUTE / (base * 60.0))
                for index in range(len(self.run.minutes)):
                    found += self._minute(node, op.name, index, sampling)
        self._spans = found
        return found

    def _minute(self, node: ServiceNode, op: str, index: int, sampling: float) -> list[RawSpan]:
        rps = self.run.frames[index][node.key].ops[op].rps
        head = _round(rps * 60 * sampling, self.rng)
        tail = _round(rps * 60 * min(1.0, sampling * TAIL_DRAWS), self.rng)
        kept: list[RawSpan] = []
        ok = failed = 0
        for n in range(head + tail):
            if failed >= MAX_ERROR_TRACES and (n >= head or ok >= MAX_OK_TRACES):
                break
            start = self.run.minutes[index] + timedelta(seconds=self.rng.uniform(0, 59.9))
            trace = _Trace(f"{self.rng.getrandbits(128):032x}", self.rng)
            built = self._server(node, op, index, start, None, trace)
            if built.failed and failed < MAX_ERROR_TRACES:
                failed += 1
            elif not built.failed and n < head and ok < MAX_OK_TRACES:
                ok += 1
            else:
                continue  # a tail draw that did not fail, or past a cap: not kept
            kept += built.spans
        return kept

    def _server(
        self,
        node: ServiceNode,
        op: str,
        index: int,
        start: datetime,
        parent: str | None,
        trace: _Trace,
    ) -> _Built:
        frame = self.run.frames[index][node.key].ops[op]
        rng = self.rng
        span_id = trace.span_id()
        built = _Built()
        specs = self.calls[(node.key, op)]
        own_fails = rng.random() < _own_failure(frame, specs)
        own_median = max(
            0.5,
            frame.p50_ms
            - sum(
                _per_request(call, frame) * call.p50_ms * math.exp(call.sigma**2 / 2)
                for call in frame.calls
            ),
        )
        own_ms = own_median * math.exp(rng.gauss(0.0, BASE_SIGMA))
        if own_fails and frame.mode in ("throttled", "pool"):
            # Refused before any work: at once by a limiter, after the wait by a pool.
            built.duration_ms = (
                rng.uniform(*THROTTLED_MS)
                if frame.mode == "throttled"
                else POOL_WAIT_MS * rng.uniform(1.0, 1.01)
            )
            built.failed = True
            self.own_failures.add(span_id)
            built.spans.append(self._span(node, op, start, built, span_id, parent, trace, "server"))
            return built
        before = own_ms * rng.uniform(0.2, 0.6)
        cursor = start + _ms(before)
        waited = 0.0
        passed_on = False
        for call, spec in zip(frame.calls, specs, strict=True):
            if self.topology.node(call.target).kind == "dns":
                continue  # a lookup: no span (as in the span form); its failures are the call's
            for _ in range(_round(_per_request(call, frame), rng)):
                client = self._client(node, call, index, cursor, span_id, trace, built)
                waited += client.duration_ms
                cursor += _ms(client.duration_ms)
                if client.failed:
                    self.failed_calls.setdefault(span_id, set()).add(call.target)
                    if rng.random() < spec.propagation:
                        passed_on = True
        built.duration_ms = own_ms + waited
        built.failed = own_fails or passed_on
        if own_fails:
            self.own_failures.add(span_id)
        built.spans.append(self._span(node, op, start, built, span_id, parent, trace, "server"))
        return built

    def _client(
        self,
        node: ServiceNode,
        call: CallFrame,
        index: int,
        start: datetime,
        parent: str,
        trace: _Trace,
        into: _Built,
    ) -> _Built:
        rng = self.rng
        target = self.topology.node(call.target)
        span_id = trace.span_id()
        client = _Built()
        callee = self.run.frames[index][target.key].ops.get(call.operation)
        if target.kind in APP_KINDS and callee is not None:
            timeouts = exceed(callee.p50_ms, callee.sigma, call.timeout_ms) * (
                1 - callee.error_ratio
            )
            reached = min(1.0, callee.error_ratio + timeouts)
            lost = (
                max(0.0, (call.error_ratio - reached) / max(1e-9, 1.0 - reached))
                if call.mode in LOST_MODES
                else 0.0
            )
            if rng.random() < lost:
                client.duration_ms = self._failed_call_ms(call)
                client.failed = True
            else:
                there, back = rng.uniform(*NETWORK_MS), rng.uniform(*NETWORK_MS)
                inner = self._server(
                    target, call.operation, index, start + _ms(there), span_id, trace
                )
                into.spans += inner.spans
                client.duration_ms = there + inner.duration_ms + back
                client.failed = inner.failed
                if client.duration_ms > call.timeout_ms:
                    client.duration_ms = call.timeout_ms * rng.uniform(1.0, 1.02)
                    client.failed = True
        else:
            # A database, a cache or a third party: no span of its own, only the caller's.
            client.failed = rng.random() < call.error_ratio
            client.duration_ms = min(
                call.p50_ms * math.exp(rng.gauss(0.0, call.sigma)), call.timeout_ms
            )
            if client.failed:
                client.duration_ms = self._failed_call_ms(call, client.duration_ms)
        operation, peer = self.client_name(target, call.operation)
        into.spans.append(
            self._span(node, operation, start, client, span_id, parent, trace, "client", peer)
        )
        return client

    def _failed_call_ms(self, call: CallFrame, drawn: float | None = None) -> float:
        rng = self.rng
        if call.mode in ("timeout", "unreachable"):
            return call.timeout_ms * rng.uniform(1.0, 1.02)
        if call.mode in ("refused", "tls", "dns", "throttled", "unauthorized"):
            return rng.uniform(1.0, 12.0)
        if call.mode == "pool":
            return POOL_WAIT_MS * rng.uniform(1.0, 1.01)
        return drawn if drawn is not None else call.p50_ms

    @staticmethod
    def _span(
        node: ServiceNode,
        op: str,
        start: datetime,
        built: _Built,
        span_id: str,
        parent: str | None,
        trace: _Trace,
        kind: str,
        peer: str | None = None,
    ) -> RawSpan:
        return RawSpan(
            ts=start,
            service=node.name,
            operation=op,
            duration_ms=round(built.duration_ms, 2),
            is_error=built.failed,
            trace_id=trace.trace_id,
            peer_service=peer,
            span_id=span_id,
            parent_span_id=parent,
            kind=kind,
        )


@dataclass
class _Trace:
    trace_id: str
    rng: random.Random

    def span_id(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"


def _round(value: float, rng: random.Random) -> int:
    whole = math.floor(value)
    return whole + (1 if rng.random() < value - whole else 0)


def _ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


def _per_request(call: CallFrame, frame: OpFrame) -> float:
    # Calls per request of the operation (a cache-aside read only on a miss).
    return call.rps / frame.rps if frame.rps > 0 else 0.0


def _own_failure(frame: OpFrame, specs: tuple[Call, ...]) -> float:
    """The share of the operation's requests it fails itself: its error ratio less what its
    failing calls, passed on, explain (`simulation.Simulation._operation` composes them so)."""
    passed = 1.0
    for call, spec in zip(frame.calls, specs, strict=True):
        passed *= 1.0 - min(1.0, _per_request(call, frame) * call.error_ratio * spec.propagation)
    if passed <= 0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - (1.0 - frame.error_ratio) / passed))


__all__ = ["JoinedTraces"]
