"""Who calls whom: a service call graph, and the neighbourhood of a service within it.

The graph is assembled from whatever says so — the collectors file's ``[topology]``, the
``topology`` events of an incident's evidenceLite, a backend's own service-graph data — and
read in both directions: a service's callers may show its failure as a symptom, its callees
may be the cause. Edges are plain names; nothing here knows where they came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TOPOLOGY_EVENT = "topology"
CALLER_KEYS = ("service", "serviceName", "service_name", "caller", "client", "source")
CALLEE_KEYS = (
    "peerService",
    "peer_service",
    "peer.service",
    "callee",
    "server",
    "destination",
    "dependsOn",
)
NAME_MAX = 200


@dataclass(frozen=True)
class Neighbour:
    """A service near the one in trouble: how many hops away, and whether it is reached by
    following calls (``callee``), calls against their direction (``caller``), or both."""

    service: str
    hops: int
    relation: str  # "self", "callee", "caller" or "both"


@dataclass(frozen=True)
class ServiceGraph:
    """Directed edges caller → callee."""

    edges: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @classmethod
    def of(cls, edges: Iterable[tuple[str, str]]) -> ServiceGraph:
        return cls(frozenset((a, b) for a, b in edges if a and b and a != b))

    @classmethod
    def from_mapping(cls, dependencies: Mapping[str, Sequence[str]]) -> ServiceGraph:
        """``{service: [what it depends on]}``, the collectors file's ``[topology]``."""
        return cls.of(
            (caller, callee) for caller, callees in dependencies.items() for callee in callees
        )

    def merged(self, *others: ServiceGraph | Iterable[tuple[str, str]]) -> ServiceGraph:
        edges = set(self.edges)
        for other in others:
            edges.update(
                other.edges if isinstance(other, ServiceGraph) else ServiceGraph.of(other).edges
            )
        return ServiceGraph(frozenset(edges))

    def callees(self, service: str) -> list[str]:
        return sorted(b for a, b in self.edges if a == service)

    def callers(self, service: str) -> list[str]:
        return sorted(a for a, b in self.edges if b == service)

    def __bool__(self) -> bool:
        return bool(self.edges)


def neighbourhood(
    graph: ServiceGraph, service: str, *, hops: int, limit: int | None = None
) -> list[Neighbour]:
    """``service`` first, then the services within ``hops`` calls of it in either direction,
    nearest first (callees before callers at the same distance: a cause lies downstream more
    often than up), at most ``limit`` besides ``service``.

    Callees are followed along calls and callers against them, never turning round: the
    caller of a callee is a sibling, not a neighbour, and would pull in half the mesh.
    """
    found: dict[str, Neighbour] = {service: Neighbour(service, 0, "self")}
    for relation, step in (("callee", graph.callees), ("caller", graph.callers)):
        frontier = [service]
        for distance in range(1, hops + 1):
            following: list[str] = []
            for name in frontier:
                for other in step(name):
                    known = found.get(other)
                    if known is None:
                        found[other] = Neighbour(other, distance, relation)
                        following.append(other)
                    elif known.relation not in ("self", relation) and known.hops == distance:
                        found[other] = Neighbour(other, distance, "both")
            frontier = following
    ordered = sorted(
        found.values(),
        key=lambda n: (n.hops, 0 if n.relation in ("self", "callee", "both") else 1, n.service),
    )
    if limit is not None:
        ordered = ordered[: limit + 1]
    return ordered


def _name(metadata: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip() and len(value.strip()) <= NAME_MAX:
            return value.strip()
    return None


def edges_from_events(
    events: Iterable[tuple[str, Mapping[str, Any] | None]],
) -> list[tuple[str, str]]:
    """Call edges from ``topology`` events, given as ``(type, metadata)``: ``metadata.service``
    calls ``metadata.peerService``. Other events, and topology events missing either end,
    are passed over: a call graph is a hint, never a reason to refuse an incident."""
    edges: list[tuple[str, str]] = []
    for event_type, metadata in events:
        if event_type.strip().lower() != TOPOLOGY_EVENT or not metadata:
            continue
        caller, callee = _name(metadata, CALLER_KEYS), _name(metadata, CALLEE_KEYS)
        if caller and callee and caller != callee:
            edges.append((caller, callee))
    return edges


# Who a change's target is called by, as a change event may name them (a rotated database
# credential lists the applications that use it).
CONSUMER_KEYS = ("consumers", "callers", "clients", "usedBy", "used_by", "dependents")
# The peers a change's target calls, as a change event may name them (narrower than
# CALLEE_KEYS: on a change, "server" or "destination" name where it was rolled out).
CHANGE_PEER_KEYS = (
    "peerService",
    "peer_service",
    "peer.service",
    "callee",
    "dependsOn",
    "depends_on",
)


def _names(metadata: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    """Every service name under ``keys``: a string, or a list of strings."""
    found: list[str] = []
    for key in keys:
        value = metadata.get(key)
        for item in value if isinstance(value, list) else [value]:
            name = item.strip() if isinstance(item, str) else ""
            if name and len(name) <= NAME_MAX and name not in found:
                found.append(name)
    return found


def edges_from_change(
    service: str | None, metadata: Mapping[str, Any] | None
) -> list[tuple[str, str]]:
    """Call edges a change event names about its target ``service``: the peers it calls
    (``peerService``, ``dependsOn``… — a credential or endpoint for that peer changed) and
    the services that call it (``consumers``, ``callers``, ``usedBy``… — a database whose
    password was rotated). A change without a target, or naming nothing, adds no edge."""
    if not service or not metadata:
        return []
    edges = [(service, peer) for peer in _names(metadata, CHANGE_PEER_KEYS) if peer != service]
    edges += [(caller, service) for caller in _names(metadata, CONSUMER_KEYS) if caller != service]
    return edges
