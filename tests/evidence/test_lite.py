"""evidenceLite becomes typed artifacts: series, templates, span groups, change events."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chronosops.core import aggregation
from chronosops.core.aggregation import ID_MAX, metric_series
from chronosops.core.artifacts import (
    ChangeEvent,
    LogStatement,
    LogTemplate,
    MetricSeries,
    OtherEvent,
    SpanGroup,
)
from chronosops.core.ingest_request import EvidenceLite
from chronosops.evidence import lite as evidence_lite
from chronosops.evidence.lite import artifacts_from_lite


def convert(**lite: object) -> list[object]:
    return list(artifacts_from_lite(EvidenceLite.model_validate(lite), default_service="checkout"))


def test_metrics_group_by_name_and_labels_with_summary_statistics() -> None:
    artifacts = convert(
        metrics=[
            {
                "name": "latency_ms",
                "value": 300,
                "timestamp": "2024-01-15T10:02:00Z",
                "labels": {"pod": "a"},
            },
            {
                "name": "latency_ms",
                "value": 100,
                "timestamp": "2024-01-15T10:00:00Z",
                "labels": {"pod": "a"},
            },
            {
                "name": "latency_ms",
                "value": 200,
                "timestamp": "2024-01-15T10:01:00Z",
                "labels": {"pod": "a"},
            },
            {
                "name": "latency_ms",
                "value": 999,
                "timestamp": "2024-01-15T10:01:00Z",
                "labels": {"pod": "b"},
            },
        ]
    )
    pod_a = next(a for a in artifacts if isinstance(a, MetricSeries) and a.labels == {"pod": "a"})
    assert len([a for a in artifacts if isinstance(a, MetricSeries)]) == 2
    assert [p.value for p in pod_a.points] == [100, 200, 300]  # time order, not arrival order
    assert (pod_a.stats.count, pod_a.stats.min, pod_a.stats.max, pod_a.stats.median) == (
        3,
        100,
        300,
        200,
    )
    assert (pod_a.stats.first, pod_a.stats.last) == (100, 300)
    assert pod_a.artifact_id == "metric:latency_ms{pod=a}"
    assert pod_a.service == "checkout"


def test_logs_cluster_into_templates_with_levels_examples_and_a_histogram() -> None:
    lines = [
        {"message": f"timeout calling payments after {ms} ms", "level": level, "timestamp": ts}
        for ms, level, ts in [
            (3000, "ERROR", "2024-01-15T10:00:05Z"),
            (3100, "error", "2024-01-15T10:00:50Z"),
            (2900, "WARN", "2024-01-15T10:01:10Z"),
        ]
    ] + [{"message": "request served", "level": "INFO", "timestamp": "2024-01-15T10:00:01Z"}]
    artifacts = convert(logs=lines)
    templates = {a.template: a for a in artifacts if isinstance(a, LogTemplate)}
    timeout = templates["timeout calling payments after <num> ms"]
    assert timeout.count == 3
    assert timeout.levels == {"ERROR": 2, "WARN": 1}
    assert timeout.error_count == 2
    assert timeout.examples[0].level == "ERROR"
    assert [(p.ts.minute, p.value) for p in timeout.histogram] == [(0, 2), (1, 1)]
    assert timeout.services == ["checkout"]


def test_spans_group_by_service_and_operation_with_percentiles() -> None:
    spans = [
        {
            "traceId": f"t{i}",
            "spanId": f"s{i}",
            "service": "api",
            "operation": "GET /cart",
            "duration": float(d),
            "timestamp": "2024-01-15T10:00:00Z",
        }
        for i, d in enumerate([10, 20, 30, 40, 1000])
    ]
    (group,) = [a for a in convert(traces=spans) if isinstance(a, SpanGroup)]
    assert (group.count, group.p50_ms, group.p95_ms, group.max_ms) == (5, 30, 1000, 1000)
    assert group.trace_ids[0] == "t4"  # the slowest trace first


def test_deploy_and_config_events_become_change_events_and_others_stay_events() -> None:
    artifacts = convert(
        events=[
            {
                "type": "deployment",
                "description": "ship it",
                "timestamp": "2024-01-15T09:55:00Z",
                "metadata": {
                    "service": "cart",
                    "versionFrom": "1.4",
                    "versionTo": "1.5",
                    "author": "ana",
                },
            },
            {
                "type": "feature_flag",
                "description": "new-pricing on",
                "timestamp": "2024-01-15T09:56:00Z",
            },
            {"type": "pager", "description": "paged on-call", "timestamp": "2024-01-15T10:01:00Z"},
        ]
    )
    changes = [a for a in artifacts if isinstance(a, ChangeEvent)]
    assert [(c.change_type, c.service, c.version_from, c.version_to) for c in changes] == [
        ("deploy", "cart", "1.4", "1.5"),
        ("feature_flag", "checkout", None, None),
    ]
    assert [a.event_type for a in artifacts if isinstance(a, OtherEvent)] == ["pager"]


def test_long_metric_ids_follow_the_one_rule_every_producer_uses() -> None:
    name = "http_server_requests_seconds_bucket_" + "x" * 200
    artifacts = convert(
        metrics=[{"name": name, "value": 1, "timestamp": "2024-01-15T10:00:00Z"}],
    )
    (series,) = [a for a in artifacts if isinstance(a, MetricSeries)]
    made = metric_series(
        id_prefix="metric", name=name, points=[(series.points[0].ts, 1.0)], source="x"
    )
    assert made is not None
    assert series.artifact_id == made.artifact_id
    assert len(series.artifact_id) <= ID_MAX


def test_a_points_unit_becomes_its_series_unit_and_another_unit_another_series() -> None:
    point = {"name": "cpu", "timestamp": "2024-01-15T10:00:00Z", "labels": {"pod": "a"}}
    artifacts = convert(
        metrics=[
            {**point, "value": 0.4, "unit": "%"},
            {**point, "value": 0.5, "timestamp": "2024-01-15T10:01:00Z", "unit": "%"},
            {**point, "value": 0.004, "unit": "1"},
            {**point, "value": 0.7},
        ]
    )
    by_unit = {a.unit: a for a in artifacts if isinstance(a, MetricSeries)}
    assert set(by_unit) == {"%", "1", None}
    assert [p.value for p in by_unit["%"].points] == [0.4, 0.5]
    assert len({a.artifact_id for a in by_unit.values()}) == 3
    # A series sent without a unit keeps the id it had before units could be sent.
    assert by_unit[None].artifact_id == "metric:cpu{pod=a}"
    assert by_unit["%"].artifact_id == "metric:cpu{pod=a} [%]"


def test_a_metric_unit_is_a_short_string() -> None:
    point = {"name": "cpu", "value": 1, "timestamp": "2024-01-15T10:00:00Z"}
    with pytest.raises(ValidationError, match="unit"):
        EvidenceLite.model_validate({"metrics": [{**point, "unit": "x" * 33}]})
    with pytest.raises(ValidationError, match="unit"):
        EvidenceLite.model_validate({"metrics": [{**point, "unit": 100}]})
    with pytest.raises(ValidationError, match="unit"):
        EvidenceLite.model_validate({"metrics": [{**point, "unit": None}]})


def test_the_statistics_and_id_rules_are_the_ones_every_producer_shares() -> None:
    # Copies drift (one had already lost the guard for long prefixes): there is one of each.
    assert evidence_lite.series_stats is aggregation.series_stats  # type: ignore[attr-defined]
    assert evidence_lite.bounded_id is aggregation.bounded_id  # type: ignore[attr-defined]


def test_spans_with_parents_across_services_become_caller_to_callee_groups() -> None:
    from chronosops.core.ingest_request import EvidenceLite
    from chronosops.evidence.lite import artifacts_from_lite

    def span(span_id: str, service: str, parent: str | None, **extra: object) -> dict[str, object]:
        return {
            "traceId": "t1",
            "spanId": span_id,
            "service": service,
            "operation": "GET /x",
            "duration": 12.0,
            "timestamp": "2024-03-01T12:00:00Z",
            **({"parentSpanId": parent} if parent else {}),
            **extra,
        }

    lite = EvidenceLite.model_validate(
        {
            "traces": [
                span("a", "frontend", None, kind="server"),
                span("b", "checkout", "a", kind="server", status="error"),
                span("c", "frontend", "a", kind="client", peerService="cart", error=True),
            ]
        }
    )
    groups = [a for a in artifacts_from_lite(lite, default_service=None) if a.kind == "span_group"]
    edges = {(g.service, g.peer_service): g for g in groups if g.peer_service}
    assert set(edges) == {("frontend", "checkout"), ("frontend", "cart")}
    assert edges[("frontend", "checkout")].error_count == 1
    assert edges[("frontend", "cart")].error_count == 1
    servers = {g.service for g in groups if not g.peer_service}
    assert servers == {"frontend", "checkout"}


def timed_span(
    span_id: str, service: str, start_ms: float, duration: float, *, trace: str = "t1"
) -> dict[str, object]:
    return {
        "traceId": trace,
        "spanId": span_id,
        "service": service,
        "operation": f"{service} op",
        "duration": duration,
        "timestamp": f"2024-03-01T12:00:00.{int(start_ms * 1000):06d}Z",
    }


def edge_groups(traces: list[dict[str, object]]) -> set[tuple[str, str | None]]:
    from chronosops.core.ingest_request import EvidenceLite
    from chronosops.evidence.lite import artifacts_from_lite

    lite = EvidenceLite.model_validate({"traces": traces})
    return {
        (a.service, a.peer_service)
        for a in artifacts_from_lite(lite, default_service=None)
        if isinstance(a, SpanGroup) and a.peer_service
    }


def test_spans_without_parents_take_the_innermost_span_enclosing_them_as_parent() -> None:
    # gateway [0, 100] ⊃ orders [5, 60] ⊃ stock [10, 30]; payments [65, 95] inside gateway only.
    traces = [
        timed_span("g", "gateway", 0, 100),
        timed_span("o", "orders", 5, 55),
        timed_span("s", "stock", 10, 20),
        timed_span("p", "payments", 65, 30),
        # Another trace at the same time encloses nothing of this one.
        timed_span("x", "search", 0, 200, trace="t2"),
    ]
    assert edge_groups(traces) == {
        ("gateway", "orders"),
        ("orders", "stock"),
        ("gateway", "payments"),
    }


def test_a_trace_that_names_its_parents_is_not_inferred_by_time() -> None:
    traces = [
        timed_span("g", "gateway", 0, 100),
        {**timed_span("o", "orders", 5, 55), "parentSpanId": "g"},
        {**timed_span("s", "stock", 10, 20), "parentSpanId": "g"},
    ]
    # stock lies inside orders in time, but the trace says gateway called it.
    assert edge_groups(traces) == {("gateway", "orders"), ("gateway", "stock")}


def _web_calls_to_email() -> list[SpanGroup]:
    from chronosops.core.ingest_request import EvidenceLite
    from chronosops.evidence.lite import artifacts_from_lite

    # web serves [0, 400]; its client span [10, 310] wraps email's server span [12, 14].
    traces = [
        timed_span("w", "web", 0, 400),
        {**timed_span("c", "web", 10, 300), "operation": "EmailService/Send"},
        timed_span("e", "email", 12, 2),
    ]
    lite = EvidenceLite.model_validate({"traces": traces})
    return [
        a
        for a in artifacts_from_lite(lite, default_service=None)
        if isinstance(a, SpanGroup) and a.peer_service == "email"
    ]


def test_a_call_through_a_client_span_lasts_as_long_as_the_caller_waited() -> None:
    # The call took 300 ms for web, 2 ms of them in email.
    assert [(c.service, c.p50_ms) for c in _web_calls_to_email()] == [("web", 300)]


def test_a_call_keeps_the_time_it_spent_outside_its_callee_as_its_own() -> None:
    # 298 ms of the call were spent between the two ends (the network, proxies, email's accept
    # queue).
    assert [c.histogram[0].own_p50_ms for c in _web_calls_to_email()] == [298]


def test_a_call_with_no_client_span_has_no_time_outside_its_callee() -> None:
    from chronosops.core.ingest_request import EvidenceLite
    from chronosops.evidence.lite import artifacts_from_lite

    # web's server span calls email directly and runs a step of its own beside it: nothing
    # measures the caller's wait on that one call.
    traces = [
        timed_span("w", "web", 0, 400),
        timed_span("e", "email", 12, 2),
        {**timed_span("q", "web", 100, 50), "operation": "render"},
    ]
    lite = EvidenceLite.model_validate({"traces": traces})
    calls = [
        a
        for a in artifacts_from_lite(lite, default_service=None)
        if isinstance(a, SpanGroup) and a.peer_service == "email"
    ]
    assert [c.histogram[0].own_p50_ms for c in calls] == [None]


def test_a_span_keeps_its_own_time_its_duration_less_its_childrens() -> None:
    from chronosops.core.ingest_request import EvidenceLite
    from chronosops.evidence.lite import artifacts_from_lite

    # web serves [0, 400] and calls email through its client span [10, 310]; web's own code
    # took 100 ms. The client span's extra time is the call's, not web's own code.
    traces = [
        timed_span("w", "web", 0, 400),
        {**timed_span("c", "web", 10, 300), "operation": "EmailService/Send"},
        timed_span("e", "email", 12, 2),
    ]
    lite = EvidenceLite.model_validate({"traces": traces})
    own = {
        a.operation: a.histogram[0].own_p50_ms
        for a in artifacts_from_lite(lite, default_service=None)
        if isinstance(a, SpanGroup) and not a.peer_service
    }
    assert own == {"web op": 100, "EmailService/Send": None, "email op": 2}


def _traced(log_context: dict[str, str], message: str) -> list[LogStatement]:
    lite = EvidenceLite.model_validate(
        {
            "traces": [
                {
                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "spanId": "685DBD6B727ADC63",
                    "service": "orders",
                    "operation": "GET /orders",
                    "duration": 41.5,
                    "timestamp": "2024-01-15T10:00:00Z",
                }
            ],
            "logs": [
                {
                    "timestamp": "2024-01-15T10:00:00.010Z",
                    "level": "INFO",
                    "service": "orders",
                    "message": message,
                    **log_context,
                }
            ],
        }
    )
    return [
        a for a in artifacts_from_lite(lite, default_service=None) if isinstance(a, LogStatement)
    ]


def test_a_log_line_names_its_span_in_span_id_or_in_its_text_alike() -> None:
    by_field = _traced(
        {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "685dbd6b727adc63"},
        "found 3 orders, building response",
    )
    by_text = _traced(
        {},
        "found 3 orders, building response TraceID: 4bf92f3577b34da6a3ce929d0e0e4736 "
        "SpanID: 685dbd6b727adc63",
    )
    assert [(s.operation, s.statement, s.spans) for s in by_field] == [
        ("GET /orders", "found # orders, building response", 1)
    ]
    assert by_field == by_text
    assert _traced({}, "found 3 orders, building response") == []


def test_a_log_line_refuses_trace_context_under_any_other_name() -> None:
    with pytest.raises(ValidationError):
        _traced({"span_id": "685dbd6b727adc63"}, "found 3 orders")
