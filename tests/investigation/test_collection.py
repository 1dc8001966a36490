"""Gathering through the pipeline: collectors feed incidents without evidence, never break them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, event, text

from chronosops.bootstrap import Services
from chronosops.changes import ChangeCreate
from chronosops.changes.repository import ChangeRepository
from chronosops.collectors import CollectorQuery, CollectorUnavailableError
from chronosops.core.aggregation import RawLogLine, log_templates, metric_series
from chronosops.core.artifacts import Artifact
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionPolicy, CollectorRunner
from chronosops.storage.database import sync_url
from tests.collectors.prometheus_server import (
    PrometheusServer,
    available,
    openmetrics,
    running_prometheus,
)
from tests.collectors.scripted import ScriptedCollector
from tests.fixtures.app import ClientFactory
from tests.fixtures.guide import example, request
from tests.fixtures.jobs import ingest_and_run

START = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def _pool_errors(query: CollectorQuery) -> list[Artifact]:
    lines = [
        RawLogLine(
            ts=query.onset,
            message=f"could not obtain a database connection within 5000ms (waiting {n})",
            level="ERROR",
            service=query.service,
        )
        for n in range(30)
    ]
    return list(log_templates(lines, id_prefix="log:logs", source="logs"))


def _latency(query: CollectorQuery) -> list[Artifact]:
    built = metric_series(
        id_prefix="metric:metrics",
        name="latency_p95_ms",
        points=[(query.window.start, 120.0), (query.onset, 900.0)],
        source="metrics",
        labels={"service": query.service or "?"},
    )
    assert built is not None
    return [built]


def _use(services: Services, *collectors: ScriptedCollector, **policy: Any) -> None:
    services.evidence.runner = CollectorRunner(list(collectors), CollectionPolicy(**policy))


async def _bundle(client: httpx.AsyncClient, headers: dict[str, str], bundle_id: str) -> Any:
    return (await client.get(f"/v1/evidence-bundles/{bundle_id}", headers=headers)).json()


async def _ingest_collected(
    client: httpx.AsyncClient, services: Services, body: Any, headers: dict[str, str]
) -> dict[str, Any]:
    """Ingest a request that needs collection: 202 at once, then the job's outcome."""
    response = await client.post("/v1/incidents/ingest", json=body, headers=headers)
    assert response.status_code == 202
    await services.runner.drain()
    incident = (await client.get(response.headers["Location"], headers=headers)).json()
    return {
        "status": incident["status"],
        "evidenceBundleId": incident["latestBundleId"],
        "analysisId": incident["latestAnalysisId"],
    }


async def test_an_incident_without_evidence_gets_what_the_collectors_find_in_its_window(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    logs = ScriptedCollector("logs", _pool_errors)
    metrics = ScriptedCollector("metrics", _latency)
    _use(services, logs, metrics)
    created = await _ingest_collected(client, services, request(), analyst)
    assert created["status"] == "analyzed"

    query = logs.queries[0]
    assert query.service == "payment-service"
    assert query.region == "us-east-1"
    assert query.environment == "production"
    assert query.onset == START
    assert (query.window.start.isoformat(), query.window.end.isoformat()) == (
        "2024-01-15T09:45:00+00:00",
        "2024-01-15T11:15:00+00:00",
    )
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    assert bundle["sources"] == ["logs", "metrics"]
    assert bundle["synthetic"] is False
    notes = {n["source"]: n["status"] for n in bundle["collection"]}
    assert notes == {"logs": "ok", "metrics": "ok", "changes": "empty"}
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    top = analysis["result"]["hypotheses"][0]
    assert top["id"] != "UNKNOWN"
    assert top["evidenceRefs"]
    assert set(top["evidenceRefs"]) <= {a["artifactId"] for a in bundle["artifacts"]}


async def test_a_failing_or_slow_collector_is_noted_and_the_ingest_still_succeeds(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    _use(
        services,
        ScriptedCollector("metrics", _latency),
        ScriptedCollector("slow", _latency, delay=5, timeout_seconds=0.2),
        ScriptedCollector("down", lambda q: CollectorUnavailableError("loki failed (HTTP 502)")),
    )
    created = await _ingest_collected(client, services, request(), analyst)
    assert created["status"] == "analyzed"
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    notes = {n["source"]: (n["status"], n["detail"]) for n in bundle["collection"]}
    assert notes["slow"] == ("timeout", "timeout after 0.2 s")
    assert notes["down"] == ("error", "collector-unavailable: loki failed (HTTP 502)")
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    completeness = analysis["result"]["completeness"]
    assert "slow: timeout — timeout after 0.2 s" in completeness["notes"]
    assert "down: error — collector-unavailable: loki failed (HTTP 502)" in completeness["notes"]


async def test_evidence_lite_skips_the_collectors_unless_collection_is_forced(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    metrics = ScriptedCollector("metrics", _latency)
    _use(services, metrics)
    with_lite = (
        await client.post(
            "/v1/incidents/ingest", json=example("example_2_with_evidence"), headers=analyst
        )
    ).json()
    assert metrics.queries == []
    assert (await _bundle(client, analyst, with_lite["evidenceBundleId"]))["sources"] == [
        "evidenceLite"
    ]

    forced_request = example("example_2_with_evidence")
    forced_request["sourceRef"] = "incident-2024-002-forced"
    forced_request["collectionContext"] = {"forceCollect": True}
    forced = await _ingest_collected(client, services, forced_request, analyst)
    assert len(metrics.queries) == 1
    bundle = await _bundle(client, analyst, forced["evidenceBundleId"])
    assert bundle["sources"] == ["evidenceLite", "metrics"]
    assert {n["source"] for n in bundle["collection"]} == {"evidenceLite", "metrics", "changes"}


async def test_without_collectors_the_bundle_says_none_are_configured(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = (await client.post("/v1/incidents/ingest", json=request(), headers=analyst)).json()
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    assert bundle["collection"] == [
        {
            "source": "changes",
            "status": "empty",
            "detail": (
                "no recorded changes for payment-service, "
                "2024-01-15T07:45:00.000Z to 2024-01-15T11:15:00.000Z; none was ever "
                "recorded (POST /v1/changes), so no change feed is read"
            ),
            "items": 0,
        },
        {
            "source": "collectors",
            "status": "skipped",
            "detail": "no collectors are configured (CHRONOSOPS_COLLECTORS_FILE)",
            "items": 0,
        },
    ]


@pytest.mark.parametrize(
    ("recorded", "read"),
    [
        (["deploy"], ["deploys"]),
        (["rollback"], ["deploys"]),
        (["config"], ["config"]),
        (["feature_flag"], ["config"]),
        (["infrastructure"], ["config"]),
        (["infrastructure", "rollback"], ["deploys", "config"]),
    ],
)
async def test_the_recorded_changes_read_each_kind_only_once_a_change_of_it_was_recorded(
    client: httpx.AsyncClient, analyst: dict[str, str], recorded: list[str], read: list[str]
) -> None:
    # Changes of another service, days before: none in the window, but the feeds report.
    for number, change_type in enumerate(recorded):
        body = _change(f"c{number}", "search-api", "2024-01-10T09:00:00Z", type=change_type)
        assert (await client.post("/v1/changes", json=body, headers=analyst)).status_code == 201
    created = (await client.post("/v1/incidents/ingest", json=request(), headers=analyst)).json()
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    note = next(n for n in bundle["collection"] if n["source"] == "changes")
    assert (note["status"], note["read"]) == ("empty", read)
    assert bundle["coverage"] == read
    unread = sorted({"deploys", "config"} - set(read))
    if not unread:
        assert "not read" not in note["detail"]
    else:
        assert note["detail"].endswith(f"so the {unread[0]} feed is not read")
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    assert analysis["result"]["completeness"]["readEmpty"] == [kind.upper() for kind in read]


async def test_a_change_found_in_the_window_reads_its_kind_and_not_the_other(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    body = _change("own-deploy", "payment-service", "2024-01-15T09:55:00Z")
    assert (await client.post("/v1/changes", json=body, headers=analyst)).status_code == 201
    created = (await client.post("/v1/incidents/ingest", json=request(), headers=analyst)).json()
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    note = next(n for n in bundle["collection"] if n["source"] == "changes")
    assert (note["status"], note["items"], note["read"]) == ("ok", 1, ["deploys"])
    assert note["detail"].endswith("so the config feed is not read")
    assert bundle["coverage"] == ["deploys"]


async def test_a_change_feed_seen_reporting_is_not_asked_about_again(
    services: Services, analyst: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = services.changes
    asked: list[list[str]] = []
    kinds_recorded = ChangeRepository.kinds_recorded

    async def counted(self: ChangeRepository, kinds: Any) -> Any:
        asked.append(list(kinds))
        return await kinds_recorded(self, kinds)

    monkeypatch.setattr(ChangeRepository, "kinds_recorded", counted)
    database = services.database
    sent: list[str] = []

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def _sent(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "EXISTS" in statement:
            sent.append(statement)

    async with database.unit_of_work(write=False) as session:
        assert await changes.feeds(session) == set()
    async with database.unit_of_work() as session:
        await changes.record(
            session,
            ChangeCreate.model_validate(_change("d", "search-api", "2024-01-10T09:00:00Z")),
            by=None,
        )
    for _ in range(2):
        async with database.unit_of_work(write=False) as session:
            assert await changes.feeds(session) == {"deploys"}
    # Changes are never deleted: deploys, once seen, are not asked about again; config is.
    assert asked == [["deploys", "config"], ["deploys", "config"], ["config"]]
    async with database.unit_of_work(write=False) as session:
        assert await changes.feeds(session, found={"config"}) == {"deploys", "config"}
        assert await changes.feeds(session) == {"deploys", "config"}
    assert len(asked) == 3
    # The types are in the SQL itself: PostgreSQL plans each probe for them through the
    # change_type index, never a generic plan for bound values that scans the table.
    assert len(sent) == 3
    assert "IN ('deploy', 'rollback')" in sent[0]
    assert "IN ('config', 'feature_flag', 'infrastructure')" in sent[-1]
    event.remove(database.engine.sync_engine, "before_cursor_execute", _sent)


async def test_reanalysing_an_incident_that_never_got_evidence_collects_it_then(
    client_with: Any, analyst: dict[str, str]
) -> None:
    client, services = await client_with(analyze_on_ingest=False)
    metrics = ScriptedCollector("metrics", _latency)
    _use(services, metrics)
    created = (await client.post("/v1/incidents/ingest", json=request(), headers=analyst)).json()
    assert created["status"] == "created"
    assert metrics.queries == []
    again = await client.post(f"/v1/incidents/{created['incidentId']}/reanalyze", headers=analyst)
    # Collecting may wait on backends, so the reanalysis is a job.
    assert again.status_code == 202
    assert again.headers["Location"] == f"/v1/incidents/{created['incidentId']}"
    assert metrics.queries == []
    await services.runner.drain()
    incident = (await client.get(again.headers["Location"], headers=analyst)).json()
    assert incident["status"] == "analyzed"
    bundle = await _bundle(client, analyst, incident["latestBundleId"])
    assert bundle["sources"] == ["metrics"]


TOPOLOGY_ONLY = """
[topology]
checkout-api = ["postgres", "payments-api"]
payments-api = ["stripe-api"]
stripe-api = ["card-network"]
"""


def _change(change_id: str, service: str, at: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "changeId": change_id,
        "type": "deploy",
        "service": service,
        "environment": "production",
        "summary": f"release {change_id}",
        "versionTo": "2.0.0",
        "timestamp": at,
    }
    body.update(fields)
    return body


async def test_the_changes_of_the_service_and_its_dependencies_become_evidence(
    client_with: Any, analyst: dict[str, str], tmp_path: Any
) -> None:
    topology = tmp_path / "collectors.toml"
    topology.write_text(TOPOLOGY_ONLY)
    client, _ = await client_with(collectors_file=str(topology))
    recorded = [
        _change("own-deploy", "checkout-api", "2024-01-15T09:55:00Z"),
        _change("db-config", "postgres", "2024-01-15T09:30:00Z", type="config", versionTo=None),
        _change("two-hops", "stripe-api", "2024-01-15T09:40:00Z"),
        _change("three-hops", "card-network", "2024-01-15T09:41:00Z"),
        _change("no-env", "payments-api", "2024-01-15T09:50:00Z", environment=None),
        _change("unrelated", "search-api", "2024-01-15T09:58:00Z"),
        _change("staging", "checkout-api", "2024-01-15T09:57:00Z", environment="staging"),
        _change("too-old", "checkout-api", "2024-01-15T07:40:00Z"),
        _change("after-window", "checkout-api", "2024-01-15T10:20:00Z"),
    ]
    for body in recorded:
        body = {k: v for k, v in body.items() if v is not None}
        assert (await client.post("/v1/changes", json=body, headers=analyst)).status_code == 201
    incident = request(
        sourceRef="checkout-slow",
        timeline={"start": "2024-01-15T10:00:00Z"},
        metadata={"service": "checkout-api", "environment": "production"},
    )
    created = (await client.post("/v1/incidents/ingest", json=incident, headers=analyst)).json()
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    found = {a["metadata"]["changeId"] for a in bundle["artifacts"] if a["kind"] == "change_event"}
    # The window is 09:45–10:15, and changes count from two hours before it (07:45).
    assert found == {"own-deploy", "db-config", "two-hops", "no-env"}
    notes = {n["source"]: n for n in bundle["collection"]}
    assert notes["changes"]["status"] == "ok"
    assert notes["changes"]["items"] == 4
    assert "checkout-api, payments-api, postgres, stripe-api" in notes["changes"]["detail"]
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    deploys = [s for s in analysis["result"]["signals"] if s["kind"] == "recent_deploy"]
    assert deploys
    assert deploys[0]["service"] == "checkout-api"


async def test_an_incident_without_a_service_considers_every_change_in_its_window(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    for body in (
        _change("a", "search-api", "2024-01-15T09:58:00Z"),
        _change("b", "checkout-api", "2024-01-15T09:00:00Z"),
    ):
        await client.post("/v1/changes", json=body, headers=analyst)
    incident = request(sourceRef="no-service", timeline={"start": "2024-01-15T10:00:00Z"})
    incident["metadata"] = {"environment": "production"}
    created = (await client.post("/v1/incidents/ingest", json=incident, headers=analyst)).json()
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    found = {a["service"] for a in bundle["artifacts"] if a["kind"] == "change_event"}
    assert found == {"search-api", "checkout-api"}
    note = next(n for n in bundle["collection"] if n["source"] == "changes")
    assert "every service" in note["detail"]


def test_suspects_follow_the_topology_two_hops_and_the_collected_evidence(
    services: Services,
) -> None:
    gatherer = services.pipeline.gatherer
    gatherer.topology = {"a": ["b"], "b": ["c"], "c": ["d"]}
    spans = _latency(
        CollectorQuery(
            window=TimeWindow(START, START), onset=START, service="metrics-named-service"
        )
    )
    assert gatherer.suspects("a", spans) == {"a", "b", "c", "metrics-named-service"}
    assert gatherer.suspects(None, spans) is None


def _topology_event(caller: str, callee: str) -> dict[str, Any]:
    return {
        "type": "topology",
        "description": f"{caller} calls {callee}",
        "timestamp": "2024-01-15T10:00:00Z",
        "metadata": {"service": caller, "peerService": callee},
    }


async def test_collectors_get_the_call_graph_configured_and_sent_with_the_incident(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    metrics = ScriptedCollector("metrics", _latency)
    _use(services, metrics)
    services.pipeline.gatherer.topology = {"payment-service": ["ledger"]}
    body = request(
        sourceRef="topology-sent",
        evidenceLite={"events": [_topology_event("checkout-api", "payment-service")]},
    )
    created = (await client.post("/v1/incidents/ingest", json=body, headers=analyst)).json()
    # Topology events say where to look, not what happened: collection still runs.
    (query,) = metrics.queries
    assert query.graph.edges == {("payment-service", "ledger"), ("checkout-api", "payment-service")}
    assert (query.hops, query.max_neighbours) == (2, 10)
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    notes = {n["source"]: n["status"] for n in bundle["collection"]}
    assert notes["metrics"] == "ok"
    assert notes["evidenceLite"] == "ok"


async def test_topology_events_beside_observations_do_not_start_collection(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    metrics = ScriptedCollector("metrics", _latency)
    _use(services, metrics)
    body = request(
        sourceRef="topology-and-a-deploy",
        evidenceLite={
            "events": [
                _topology_event("checkout-api", "payment-service"),
                {
                    "type": "deploy",
                    "description": "payment-service 1.4.2",
                    "timestamp": "2024-01-15T09:55:00Z",
                    "metadata": {"service": "payment-service"},
                },
            ]
        },
    )
    await client.post("/v1/incidents/ingest", json=body, headers=analyst)
    assert metrics.queries == []


async def test_the_hops_setting_reaches_the_collectors(
    client_with: Any, analyst: dict[str, str]
) -> None:
    client, built = await client_with(collectors_neighbour_hops=0, collectors_max_neighbours=3)
    metrics = ScriptedCollector("metrics", _latency)
    _use(built, metrics)
    await ingest_and_run(client, built, request(sourceRef="no-hops"), analyst)
    (query,) = metrics.queries
    assert (query.hops, query.max_neighbours) == (0, 3)


def _with_logs(source_ref: str, *nodes: str) -> dict[str, Any]:
    body = example("example_2_with_evidence")
    body["sourceRef"] = source_ref
    body["evidenceLite"]["logs"] = [
        {
            "message": f"cache node {node} unreachable, retrying",
            "level": "ERROR",
            "timestamp": "2024-01-15T11:00:05Z",
            "service": "database-service",
        }
        for node in nodes
    ]
    return body


async def test_a_later_incident_of_the_service_shares_the_template_ids_mined_before(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    first = (
        await client.post(
            "/v1/incidents/ingest",
            json=_with_logs("baseline", "alpha", "beta", "gamma", "delta"),
            headers=analyst,
        )
    ).json()
    # On its own, one line of a new node would be a template of its own ("cache node omega …").
    second = (
        await client.post(
            "/v1/incidents/ingest", json=_with_logs("incident", "omega"), headers=analyst
        )
    ).json()
    templates = []
    for created in (first, second):
        bundle = await _bundle(client, analyst, created["evidenceBundleId"])
        (template,) = [a for a in bundle["artifacts"] if a["kind"] == "log_template"]
        templates.append(template)
    assert templates[0]["template"] == "cache node <*> unreachable, retrying"
    assert templates[1]["template"] == templates[0]["template"]
    assert templates[1]["artifactId"] == templates[0]["artifactId"]


async def test_templates_another_process_changed_are_read_again_not_taken_from_memory(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    await client.post(
        "/v1/incidents/ingest",
        json=_with_logs("baseline", "alpha", "beta", "gamma", "delta"),
        headers=analyst,
    )
    # Another process forgets the service's templates (through a connection of its own).
    other = create_engine(sync_url(services.database.url))
    with other.begin() as connection:
        connection.execute(
            text("UPDATE log_template_state SET templates = :none WHERE service = :service"),
            {"none": "[]", "service": "database-service"},
        )
    other.dispose()
    created = (
        await client.post(
            "/v1/incidents/ingest", json=_with_logs("incident", "omega"), headers=analyst
        )
    ).json()
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    (template,) = [a for a in bundle["artifacts"] if a["kind"] == "log_template"]
    # Mined against nothing remembered, the line is its own template, not the widened one.
    assert template["template"] == "cache node omega unreachable, retrying"


async def test_lines_whose_templates_are_remembered_need_no_write_of_their_own(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    await client.post("/v1/incidents/ingest", json=_with_logs("first", "alpha"), headers=analyst)
    before = services.database.group_commits()
    second = await client.post(
        "/v1/incidents/ingest", json=_with_logs("second", "alpha"), headers=analyst
    )
    assert second.json()["status"] == "analyzed"
    _, units = (a - b for a, b in zip(services.database.group_commits(), before, strict=True))
    if services.database.writer_engine is not None:
        # SQLite's group-commit writer: the ingest's own unit only, no templates unit before it.
        assert units == 1


def _node_errors(nodes: list[str]) -> Any:
    def produce(query: CollectorQuery) -> list[Artifact]:
        lines = [
            RawLogLine(
                ts=query.onset,
                message=f"cache node {node} unreachable, retrying",
                level="ERROR",
                service=query.service,
            )
            for node in nodes
        ]
        return list(
            log_templates(lines, id_prefix="log:logs", source="logs", known=query.known_templates)
        )

    return produce


async def test_collected_logs_share_template_ids_with_the_service_s_earlier_incidents(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    nodes = ["alpha", "beta", "gamma", "delta"]
    logs = ScriptedCollector("logs", _node_errors(nodes))
    _use(services, logs)
    first = await ingest_and_run(client, services, request(), analyst)
    nodes[:] = ["omega"]
    second = await ingest_and_run(client, services, request(sourceRef="later-incident"), analyst)
    assert logs.queries[0].known_templates == {}
    assert logs.queries[1].known_templates == {
        "payment-service": ["cache node <*> unreachable, retrying"]
    }
    ids = []
    for created in (first, second):
        bundle = await _bundle(client, analyst, created["evidenceBundleId"])
        ids.append([a["artifactId"] for a in bundle["artifacts"] if a["kind"] == "log_template"])
    assert ids[0] == ids[1]
    assert len(ids[0]) == 1


async def test_an_alert_that_only_says_what_it_read_empty_is_collected_for_and_keeps_its_word(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str]
) -> None:
    _use(services, ScriptedCollector("metrics", _latency))
    body = request(evidenceLite={"readEmpty": ["deploys", "config"]})
    created = await _ingest_collected(client, services, body, analyst)
    assert created["status"] == "analyzed"
    bundle = await _bundle(client, analyst, created["evidenceBundleId"])
    notes = {n["source"]: n for n in bundle["collection"]}
    assert (notes["evidenceLite"]["status"], notes["evidenceLite"]["read"]) == (
        "empty",
        ["deploys", "config"],
    )
    assert notes["metrics"]["status"] == "ok"
    # A scripted collector says nothing of what it read; the sender's word is the coverage.
    assert bundle["coverage"] == ["deploys", "config"]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with running_prometheus(
        tmp_path_factory.mktemp("prometheus-coverage"), data_set=openmetrics()
    ) as server:
        yield server


@pytest.mark.slow
@pytest.mark.skipif(not available(), reason="needs /usr/bin/prometheus and promtool")
async def test_a_change_feed_read_and_found_empty_is_sealed_and_states_the_diagnosis_more_surely(
    prometheus: PrometheusServer,
    client_with: ClientFactory,
    analyst: dict[str, str],
    tmp_path: Path,
) -> None:
    # A real Prometheus (payment-service slow and failing from 10:00) read for an alert that
    # sent no evidence; the changes ChronosOps records are read for its window too.
    config = tmp_path / "collectors.toml"
    config.write_text(
        f'[[collectors]]\nname = "prometheus-prod"\nbackend = "prometheus"\n'
        f'endpoint = "{prometheus.url}"\n\n[collectors.options]\n'
        'labels = { environment = "env" }\n'
    )
    client, services = await client_with(collectors_file=str(config))

    # No change was ever recorded: no feed reports here, so an empty window says nothing.
    unread = await _ingest_collected(client, services, request(sourceRef="unread"), analyst)
    # A deploy feed reports (days before, another service): now an empty window is read for
    # deploys, and for deploys only: that feed says nothing of configuration.
    for change_type, summary in (("deploy", "search ranking tweak"), ("feature_flag", "new cart")):
        recorded = await client.post(
            "/v1/changes",
            json={
                "type": change_type,
                "service": "search-api",
                "environment": "production",
                "summary": summary,
                "timestamp": "2024-01-10T09:00:00Z",
            },
            headers=analyst,
        )
        assert recorded.status_code == 201, recorded.text
        if change_type == "deploy":
            deploys = await _ingest_collected(
                client, services, request(sourceRef="deploys-read"), analyst
            )
    # A flag feed reports too: now both kinds of change are read.
    read = await _ingest_collected(client, services, request(sourceRef="read-empty"), analyst)

    bundles = {
        way: await _bundle(client, analyst, found["evidenceBundleId"])
        for way, found in (("unread", unread), ("deploys", deploys), ("read", read))
    }
    notes = {way: {n["source"]: n for n in b["collection"]} for way, b in bundles.items()}
    assert notes["unread"]["prometheus-prod"]["read"] == ["metrics"]
    assert "read" not in notes["unread"]["changes"]
    assert bundles["unread"]["coverage"] == ["metrics"]
    assert notes["deploys"]["changes"]["read"] == ["deploys"]
    assert notes["deploys"]["changes"]["detail"].endswith(
        "; no config, feature-flag or infrastructure change was ever recorded "
        "(POST /v1/changes), so the config feed is not read"
    )
    assert bundles["deploys"]["coverage"] == ["metrics", "deploys"]
    assert (notes["read"]["changes"]["status"], notes["read"]["changes"]["read"]) == (
        "empty",
        ["deploys", "config"],
    )
    assert bundles["read"]["coverage"] == ["metrics", "deploys", "config"]
    # The same series came back both times; only what was read differs.
    assert bundles["read"]["artifacts"] == bundles["unread"]["artifacts"]
    assert {a["kind"] for a in bundles["read"]["artifacts"]} == {"metric_series"}

    analyses = {
        way: (await client.get(f"/v1/analyses/{found['analysisId']}", headers=analyst)).json()[
            "result"
        ]
        for way, found in (("unread", unread), ("read", read))
    }
    ranked = {
        way: [(h["id"], h["culpritService"]) for h in result["hypotheses"]]
        for way, result in analyses.items()
    }
    assert ranked["read"] == ranked["unread"]
    assert analyses["read"]["suspects"] == analyses["unread"]["suspects"]
    assert ranked["read"][0] != ("UNKNOWN", None)
    assert analyses["read"]["completeness"]["readEmpty"] == ["DEPLOYS", "CONFIG"]
    deploys_only = (
        await client.get(f"/v1/analyses/{deploys['analysisId']}", headers=analyst)
    ).json()["result"]
    assert deploys_only["completeness"]["readEmpty"] == ["DEPLOYS"]
    assert analyses["read"]["completeness"]["score"] == analyses["unread"]["completeness"]["score"]
    assert analyses["read"]["overallConfidence"] > analyses["unread"]["overallConfidence"]
