"""The call graph and the neighbourhood of a service in it."""

from __future__ import annotations

from typing import Any

from chronosops.core.topology import Neighbour, ServiceGraph, edges_from_events, neighbourhood

# gateway → checkout → payments → bank; checkout → stock; search → stock (a sibling's caller)
GRAPH = ServiceGraph.from_mapping(
    {
        "gateway": ["checkout"],
        "checkout": ["payments", "stock"],
        "payments": ["bank"],
        "search": ["stock"],
    }
)


def test_the_neighbourhood_is_the_service_then_callees_and_callers_nearest_first() -> None:
    assert neighbourhood(GRAPH, "checkout", hops=2) == [
        Neighbour("checkout", 0, "self"),
        Neighbour("payments", 1, "callee"),
        Neighbour("stock", 1, "callee"),
        Neighbour("gateway", 1, "caller"),
        Neighbour("bank", 2, "callee"),
    ]


def test_a_callee_s_other_callers_are_siblings_not_neighbours() -> None:
    assert "search" not in {n.service for n in neighbourhood(GRAPH, "checkout", hops=4)}


def test_hops_and_limit_bound_it() -> None:
    assert [n.service for n in neighbourhood(GRAPH, "checkout", hops=0)] == ["checkout"]
    assert [n.service for n in neighbourhood(GRAPH, "checkout", hops=1, limit=2)] == [
        "checkout",
        "payments",
        "stock",
    ]
    assert [n.service for n in neighbourhood(GRAPH, "unknown", hops=3)] == ["unknown"]


def test_a_service_that_calls_and_is_called_by_the_same_one_is_both() -> None:
    graph = ServiceGraph.of([("a", "b"), ("b", "a")])
    assert neighbourhood(graph, "a", hops=1) == [
        Neighbour("a", 0, "self"),
        Neighbour("b", 1, "both"),
    ]


def test_graphs_merge_and_ignore_self_calls_and_empty_names() -> None:
    merged = ServiceGraph.of([("a", "a"), ("", "b")]).merged([("a", "b")], GRAPH)
    assert ("a", "b") in merged.edges
    assert len(merged.edges) == len(GRAPH.edges) + 1
    assert not ServiceGraph()


def test_topology_events_give_edges_and_anything_else_is_passed_over() -> None:
    events: list[tuple[str, Any]] = [
        ("topology", {"service": "web", "peerService": "orders"}),
        ("Topology", {"service": " orders ", "peerService": "stock"}),
        ("topology", {"service": "web"}),
        ("topology", {"service": "web", "peerService": 7}),
        ("topology", None),
        ("deploy", {"service": "web", "peerService": "orders"}),
    ]
    assert edges_from_events(events) == [("web", "orders"), ("orders", "stock")]
