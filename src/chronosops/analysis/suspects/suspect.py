"""A suspect: a service, the kinds of evidence its own signals gave (each a strength 0–1) and
the score they add up to."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

# How much each kind of evidence says about the service it is on (relative weights).
KIND_WEIGHT: dict[str, float] = {
    "cpu": 1.0,
    "memory": 0.6,
    "latency": 0.8,
    "edge_latency": 0.9,
    "span_latency": 0.8,
    "error_ratio": 1.0,
    "errors": 0.8,
    "availability": 1.0,
    "saturation": 0.7,
    "restarts": 1.0,
    "gc": 0.5,
    "circuit_open": 0.7,
    "network": 0.25,
    "traffic": 0.2,
    "cache_hit": 0.6,
    "log_errors": 0.9,
    "log_vanished": 0.5,
    "log_new_errors": 1.0,
    "calls_vanished": 1.0,
    # A statement that followed another in the same spans stopped part-way through the window
    # while the other went on (`code_paths.stopped_paths`): like a call every request made that
    # stopped, the service's own code took another path.
    "statement_stopped": 1.0,
    # An operation's share of the service's spans fell far below its earlier incidents'
    # (`operation_mix`): its handler skips calls it used to make, like a statement that stopped.
    "operation_mix": 1.0,
    "span_cut_short": 0.9,
    # Most requests stop right after a call to the service, far shorter than before: their
    # handlers gave up on its answer (`spans._requests_cut_short`).
    "requests_cut_short": 1.0,
    "log_errors_persistent": 0.6,
    # Errors in force on both sides of the fault that its callers' error lines say are its
    # (`logs.persistent_errors`): weighed as errors that rose, which a caller's lines about it
    # prove are failures, not business errors its handler answered.
    "log_errors_named": 0.9,
}


@dataclass
class Suspect:
    service: str
    kinds: dict[str, float] = field(default_factory=dict)  # kind → strength 0–1
    # How much anomaly of its callers its own anomaly explains (CIRCA: a caller's latency and
    # errors follow from its callee's), summed over anomalous callers.
    explains: float = 0.0
    # The callers whose anomaly its own explains, one by one (engine 3.39): anomalous callers
    # (at least 0.3) no more than twice as anomalous as it is, with no trouble of their own it
    # cannot explain (`ranking.own_resources`). What a named answer's share of its family leaves
    # out (`engine.culprit_shares`).
    explained_callers: frozenset[str] = frozenset()
    # Its spans measure its own time and it did not get slower (see `load.read_against_load`).
    own_time_calm: bool = False
    # Its typical call (a median latency of its own) is as fast as before while its tail moved:
    # some of its requests take a slower path, not all of them queueing (see `load.median_calm`).
    median_calm: bool = False
    refs: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def note(self, kind: str, strength: float, ref: str) -> None:
        if strength <= 0:
            return
        if strength > self.kinds.get(kind, 0.0):
            self.kinds[kind] = strength
            self.refs[kind].insert(0, ref)
        elif ref not in self.refs[kind]:
            self.refs[kind].append(ref)

    @property
    def score(self) -> float:
        """The strongest kind, plus a little for every other one that agrees."""
        weighted = sorted(
            (KIND_WEIGHT.get(k, 0.5) * s for k, s in self.kinds.items()), reverse=True
        )
        if not weighted:
            return 0.0
        return weighted[0] + 0.25 * sum(weighted[1:3])

    def leading_kind(self) -> str | None:
        if not self.kinds:
            return None
        return max(self.kinds, key=lambda k: (KIND_WEIGHT.get(k, 0.5) * self.kinds[k], k))

    def citations(self, limit: int = 6) -> list[str]:
        found: list[str] = []
        for kind in sorted(self.kinds, key=lambda k: -self.kinds[k]):
            for ref in self.refs.get(kind, []):
                if ref not in found:
                    found.append(ref)
        return found[:limit]
