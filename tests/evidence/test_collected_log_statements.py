"""Collected lines are placed in the spans that logged them exactly as lines sent with the incident.

The same incident (`tests.collectors.traced_incident`) is replayed through the real collectors,
as each backend answers it, and sent as ``evidenceLite``: the log statements and the code path
the engine reads as stopped must be the same, whichever backend held the lines and whichever
held the spans.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from chronosops.analysis.code_paths import vanished_paths
from chronosops.analysis.engine import analyze
from chronosops.analysis.models import AnalysisInput, IncidentContext, RankedHypothesis
from chronosops.collectors import Collector, CollectorQuery, CollectorSpec, registry
from chronosops.core.artifacts import Artifact, LogStatement, LogTemplate, SpanGroup
from chronosops.core.clock import FrozenClock
from chronosops.core.ingest_request import EvidenceLite
from chronosops.evidence import CollectionPolicy, CollectorRunner
from chronosops.evidence.lite import artifacts_from_lite
from tests.collectors import traced_incident as incident
from tests.collectors.replay import Replay, respond

QUERY = CollectorQuery(window=incident.WINDOW, onset=incident.ONSET, service=incident.SERVICE)
ENTRIES = "POST /v2/entries:list"
TRACES = f"GET /v1/projects/{incident.PROJECT}/traces"
LOKI = "GET /loki/api/v1/query_range"
NERDGRAPH = "POST /graphql"
DATADOG_LOGS = "POST /api/v2/logs/events/search"


def _collector(
    name: str, backend: str, routes: dict[str, Any], endpoint: str | None, **options: Any
) -> Collector:
    credentials = {
        "google-cloud": {"access_token": SecretStr("ya29.static-token")},
        "newrelic": {"api_key": SecretStr("NRAK-TESTKEY0123456789ABCDEFGHIJ")},
        "datadog": {"api_key": SecretStr("dd-api-0123"), "app_key": SecretStr("dd-app-4567")},
        "loki": {},
    }[backend]
    return registry.build(
        CollectorSpec(
            name=name,
            backend=backend,
            endpoint=endpoint,
            options=options,
            credentials=credentials,
        ),
        http=Replay(routes).client(),
        clock=FrozenClock(incident.ONSET),
    )


def google_cloud(*, logs: dict[str, Any] | None, traces: dict[str, Any] | None) -> Collector:
    routes = {k: v for k, v in ((ENTRIES, logs), (TRACES, traces)) if v is not None}
    return _collector(
        "gcp",
        "google-cloud",
        routes,
        None,
        project_id=incident.PROJECT,
        metrics={},
        # Every level: the statements a fault stops reaching are the ordinary ones.
        logs_filter="resource.labels.service_name=$services" if logs else None,
        trace_filter="service.name:$service" if traces else None,
    )


def loki(body: dict[str, Any]) -> Collector:
    return _collector("loki", "loki", {LOKI: body}, "http://loki.internal:3100", line_filter="")


LOGS_NRQL = (
    "SELECT timestamp, message, level, service.name, trace.id, span.id FROM Log "
    "WHERE service.name IN ($services) $since LIMIT 5000"
)
SPANS_NRQL = (
    "SELECT timestamp, name, duration.ms, service.name, error, otel.status_code, trace.id, id "
    "FROM Span WHERE service.name IN ($services) $since LIMIT 5000"
)


def newrelic(*, logs: dict[str, Any] | None, spans: dict[str, Any] | None) -> Collector:
    def by_event_type(request: httpx.Request) -> httpx.Response:
        nrql = Replay.body(request)["variables"]["nrql"]
        answer = logs if "FROM Log" in nrql else spans
        assert answer is not None, nrql
        return respond(answer)

    return _collector(
        "newrelic",
        "newrelic",
        {NERDGRAPH: by_event_type},
        None,
        account_id=1234567,
        metrics_nrql=None,
        deployments_nrql=None,
        # Every level, as for the other backends.
        logs_nrql=LOGS_NRQL if logs else None,
        spans_nrql=SPANS_NRQL if spans else None,
    )


def datadog(body: dict[str, Any]) -> Collector:
    return _collector(
        "datadog",
        "datadog",
        {DATADOG_LOGS: body},
        "https://api.datadoghq.eu",
        metrics={},
        events=False,
        service_dependencies=False,
        logs_query="service:$service",
    )


async def collected(*collectors: Collector) -> list[Artifact]:
    result = await CollectorRunner(list(collectors), CollectionPolicy()).run(QUERY)
    return result.artifacts


def sent(ids: Literal["fields", "text"]) -> list[Artifact]:
    spans, lines = incident.observations()
    lite = EvidenceLite.model_validate(incident.evidence_lite(spans, lines, ids=ids))
    return artifacts_from_lite(lite, default_service=incident.SERVICE)


def statements(artifacts: Sequence[Artifact]) -> list[tuple[Any, ...]]:
    """What a statement says, without the id and source that name where it came from."""
    return sorted(
        (
            s.service,
            s.operation,
            s.statement,
            tuple(sorted(s.levels.items())),
            s.spans,
            tuple((p.ts, p.value) for p in s.histogram),
        )
        for s in artifacts
        if isinstance(s, LogStatement)
    )


def reading(artifacts: Sequence[Artifact]) -> list[tuple[Any, ...]]:
    """The code paths the engine reads as stopped, without the artifact ids they cite."""
    return [
        (p.service, p.operation, p.statement, p.logged_before, p.calls_before, p.calls_after)
        for p in vanished_paths(artifacts, incident.ONSET)
    ]


def diagnosis(artifacts: Sequence[Artifact]) -> RankedHypothesis:
    """The engine's first hypothesis on the bundle."""
    context = IncidentContext(
        source_type="CUSTOM",
        title="orders failing",
        service=incident.SERVICE,
        onset=incident.ONSET,
        window_start=incident.WINDOW.start,
        window_end=incident.WINDOW.end,
    )
    return analyze(AnalysisInput(context=context, artifacts=list(artifacts))).hypotheses[0]


SPANS, LINES = incident.observations()
STOPPED = (
    incident.SERVICE,
    incident.QUERY_ORDERS,
    "[queryorders][step #] found # orders, building",
)


async def _same_as_sent(
    collectors: Callable[[], Sequence[Collector]], ids: Literal["fields", "text"]
) -> None:
    got = await collected(*collectors())
    expected = sent(ids)
    assert statements(got) == statements(expected)
    assert len(statements(got)) == 3  # step 1, step 2, the error; order creation has no context
    assert reading(got) == reading(expected)
    assert [path[:3] for path in reading(got)] == [STOPPED]
    assert reading(got)[0][3:] == (33, 33, 27)


async def test_cloud_logging_lines_land_in_cloud_trace_spans_as_sent_lines_do() -> None:
    await _same_as_sent(
        lambda: [
            google_cloud(logs=incident.cloud_logging(LINES), traces=incident.cloud_trace(SPANS))
        ],
        "fields",
    )


async def test_new_relic_logs_in_context_land_in_its_spans_as_sent_lines_do() -> None:
    await _same_as_sent(
        lambda: [
            newrelic(logs=incident.newrelic_logs(LINES), spans=incident.newrelic_spans(SPANS))
        ],
        "fields",
    )


async def test_loki_structured_metadata_meets_new_relic_spans_across_collectors() -> None:
    await _same_as_sent(
        lambda: [
            loki(incident.loki(LINES, context="categorized")),
            newrelic(logs=None, spans=incident.newrelic_spans(SPANS)),
        ],
        "fields",
    )


async def test_loki_trace_labels_meet_cloud_trace_spans_across_collectors() -> None:
    await _same_as_sent(
        lambda: [
            loki(incident.loki(LINES, context="labels")),
            google_cloud(logs=None, traces=incident.cloud_trace(SPANS)),
        ],
        "fields",
    )


async def test_datadog_decimal_span_ids_meet_the_hex_ids_of_the_spans() -> None:
    await _same_as_sent(
        lambda: [
            datadog(incident.datadog_logs(LINES)),
            newrelic(logs=None, spans=incident.newrelic_spans(SPANS)),
        ],
        "fields",
    )


async def test_lines_naming_their_span_in_the_text_are_placed_as_sent_ones() -> None:
    await _same_as_sent(
        lambda: [
            loki(incident.loki(LINES, context="text")),
            google_cloud(logs=None, traces=incident.cloud_trace(SPANS)),
        ],
        "text",
    )


async def test_the_engine_names_the_stopped_code_path_from_collected_evidence_as_from_sent() -> (
    None
):
    got = diagnosis(
        await collected(
            google_cloud(logs=incident.cloud_logging(LINES), traces=incident.cloud_trace(SPANS))
        )
    )
    expected = diagnosis(sent("fields"))
    assert (got.id, got.culprit_service, got.confidence, got.rationale) == (
        expected.id,
        expected.culprit_service,
        expected.confidence,
        expected.rationale,
    )
    assert got.id == "DEPLOY_BUG"
    assert "stopped logging" in got.rationale
    assert got.evidence_refs[0].startswith("statement:gcp:ts-order-service:GET /api/v1/orders:")


async def test_records_without_ids_still_become_templates_and_place_nothing() -> None:
    result = await CollectorRunner(
        [
            google_cloud(
                logs=incident.cloud_logging(LINES, ids=False), traces=incident.cloud_trace(SPANS)
            )
        ],
        CollectionPolicy(),
    ).run(QUERY)
    assert statements(result.artifacts) == []
    assert reading(result.artifacts) == []
    templates = [a for a in result.artifacts if isinstance(a, LogTemplate)]
    assert sum(t.count for t in templates) == len(LINES)
    assert any(isinstance(a, SpanGroup) for a in result.artifacts)
    (note,) = result.notes
    assert "log_statement" not in note.detail
    # Still analysed, from the templates, without a code path to cite.
    assert "stopped logging" not in diagnosis(result.artifacts).rationale


async def test_lines_without_any_spans_place_nothing() -> None:
    assert statements(await collected(loki(incident.loki(LINES, context="categorized")))) == []


async def test_the_collector_whose_lines_were_placed_counts_its_statements() -> None:
    result = await CollectorRunner(
        [
            loki(incident.loki(LINES, context="categorized")),
            newrelic(logs=None, spans=incident.newrelic_spans(SPANS)),
        ],
        CollectionPolicy(item_caps={"log_statement": 2}),
    ).run(QUERY)
    placed = [a for a in result.artifacts if isinstance(a, LogStatement)]
    assert {a.source for a in placed} == {"loki"}
    assert all(a.artifact_id.startswith("statement:loki:") for a in placed)
    # The two logged by the most spans kept: step 1 (every call), then step 2.
    assert sorted(a.spans for a in placed) == [33, 60]
    notes = {n.source: n.detail for n in result.notes}
    assert "2 log_statement" in notes["loki"]
    assert "1 more log_statement left out (cap 2)" in notes["loki"]
    assert "log_statement" not in notes["newrelic"]
