"""Gathering an incident's evidence: the caller's evidenceLite, a demo scenario, the backends.

One place decides where evidence comes from, so every door (ingest, analyze, reanalysis)
gets the same rules:

- ``evidenceLite`` in the request is always used;
- so is every alert that joined the incident (alert grouping): the alert itself (its title,
  service, environment, labels and annotations) as an ``alert`` event, and its evidenceLite;
  the services those alerts name are looked up for recorded changes too;
- without it (or with ``forceCollect``, or when it holds only ``topology`` events, which say
  where to look rather than what happened), a ``SCENARIO`` incident whose ``sourceRef`` names a
  scenario gets that scenario's synthetic telemetry, and nothing from real backends (a demo
  incident must not be mixed with production data);
- any other incident gets what the configured collectors find in its window — for its service
  and that service's callers and callees (the configured topology, the topology sent with the
  incident, the backends' own service graphs) — and the changes
  ChronosOps recorded (``POST /v1/changes``) for its service and that service's dependencies.

Everything found is merged into one list of artifacts (ids are unique: the first source to
claim an id keeps it), and every source leaves a `CollectionNote` saying what it did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from chronosops.changes import SOURCE as CHANGES_SOURCE
from chronosops.changes import ChangeService
from chronosops.collectors import CollectorQuery
from chronosops.core.artifacts import Artifact, LogTemplate, MetricSeries, SpanGroup
from chronosops.core.evidence_kinds import CHANGE_READ_KINDS, ReadKind, read_kind_of, read_kinds
from chronosops.core.ingest_request import ChangeOrEvent, EvidenceLite, IngestIncidentRequest
from chronosops.core.timestamps import format_instant
from chronosops.core.topology import TOPOLOGY_EVENT, ServiceGraph, edges_from_events
from chronosops.core.windows import TimeWindow
from chronosops.evidence import BundleDraft, CollectionNote, EvidenceService, TemplateCheck
from chronosops.incidents import IncidentRead
from chronosops.scenarios import GenerationOptions, generate, options_from_fields, scenario_id_of
from chronosops.storage import Database

SCENARIO_SOURCE_TYPE = "SCENARIO"
# How the recorded changes' note names a change feed that never reported.
_FEED_NAMES: dict[ReadKind, str] = {
    "deploys": "deploy or rollback",
    "config": "config, feature-flag or infrastructure",
}
DEPENDENCY_HOPS = 2
# Up to this many evidenceLite log lines are mined on the event loop (measured: tens of
# microseconds a line, less than the hop to a worker thread and back); more go to a thread.
INLINE_MINING_LINES = 50


def _log_lines(request: IngestIncidentRequest) -> int:
    lite = request.evidence_lite
    return len(lite.logs or []) if lite is not None else 0


@dataclass
class Gathered:
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[CollectionNote] = field(default_factory=list)

    def add(self, artifacts: Sequence[Artifact], *notes: CollectionNote) -> None:
        """Merge ``artifacts``; an id already present keeps its first artifact."""
        seen = {artifact.artifact_id for artifact in self.artifacts}
        fresh: list[Artifact] = []
        for artifact in artifacts:
            if artifact.artifact_id not in seen:
                fresh.append(artifact)
                seen.add(artifact.artifact_id)
        self.artifacts.extend(fresh)
        dropped = len(artifacts) - len(fresh)
        if dropped:
            self.notes.append(
                CollectionNote(
                    source="merge",
                    status="ok",
                    detail=f"{dropped} artifact(s) whose id an earlier source already used were left out",
                )
            )
        self.notes.extend(notes)


def sent_topology(request: IngestIncidentRequest) -> list[tuple[str, str]]:
    """The call edges sent with the incident: its evidenceLite's ``topology`` events."""
    events = request.evidence_lite.events if request.evidence_lite else None
    return edges_from_events((event.type, event.metadata) for event in events or [])


JOINED_ALERTS_SOURCE = "joinedAlerts"
# How many joined alerts an analysis takes as evidence (the first to join): a storm of 1,000
# alerts of one group says little more than its first hundred, and the bundle stays readable.
JOINED_EVIDENCE_MAX = 100
ALERT_EVENT = "alert"


def with_alert_event(request: IngestIncidentRequest) -> IngestIncidentRequest:
    """A joined alert's request with the alert itself added to its evidenceLite as an event,
    so what the alert says (not only what it carries) is evidence of the incident."""
    metadata = request.metadata
    custom = (metadata.custom_fields if metadata else None) or {}
    facts = {
        "sourceType": request.source_type,
        "sourceRef": request.source_ref,
        "severity": request.severity,
        "service": metadata.service if metadata else None,
        "environment": metadata.environment if metadata else None,
        "region": metadata.region if metadata else None,
        "labels": metadata.tags if metadata else None,
        "annotations": custom.get("annotations"),
        "description": request.description,
    }
    event = ChangeOrEvent.model_validate(
        {
            "type": ALERT_EVENT,
            "description": request.title,
            "timestamp": format_instant(request.timeline.start),
            "metadata": {key: value for key, value in facts.items() if value},
        }
    )
    lite = request.evidence_lite or EvidenceLite()
    events = [*(lite.events or []), event]
    return request.model_copy(update={"evidence_lite": lite.model_copy(update={"events": events})})


def observed_in(request: IngestIncidentRequest) -> bool:
    """Whether the request carries observations, not only a call graph: ``topology`` events
    say where to look, so an alert that sends nothing else is still collected for."""
    lite = request.evidence_lite
    if lite is None or lite.is_empty:
        return False
    if lite.metrics or lite.logs or lite.traces:
        return True
    return any(event.type.strip().lower() != TOPOLOGY_EVENT for event in lite.events or [])


def scenario_options(incident: IncidentRead | IngestIncidentRequest) -> GenerationOptions:
    """The generation options a SCENARIO incident (or request) carries in customFields."""
    if isinstance(incident, IncidentRead):
        start, end = incident.timeline.start, incident.timeline.end
        custom = incident.metadata.custom_fields or {}
        before = incident.collection_context.window_minutes_before
        after = incident.collection_context.window_minutes_after
    else:
        start, end = incident.timeline.start, incident.timeline.end
        custom = (incident.metadata.custom_fields if incident.metadata else None) or {}
        before = incident.collection.window_minutes_before
        after = incident.collection.window_minutes_after
    # Without an end the incident window closes ``after`` minutes past the start; so must the
    # telemetry, so the generator is told the incident ended where it began.
    return options_from_fields(
        custom.get("scenario"),
        start=start,
        end=end or start,
        minutes_before=before,
        minutes_after=after,
    )


class EvidenceGatherer:
    def __init__(
        self,
        *,
        database: Database,
        evidence: EvidenceService,
        changes: ChangeService,
        scenarios_enabled: bool,
        topology: Mapping[str, Sequence[str]] | None = None,
        neighbour_hops: int = 2,
        max_neighbours: int = 10,
        changes_lookback: timedelta = timedelta(minutes=120),
        max_items: int = 50,
        max_changes: int = 100,
    ) -> None:
        self.database = database
        self.evidence = evidence
        self.changes = changes
        self.scenarios_enabled = scenarios_enabled
        self.topology = {k: list(v) for k, v in (topology or {}).items()}
        self.neighbour_hops = neighbour_hops
        self.max_neighbours = max_neighbours
        self.changes_lookback = changes_lookback
        self.max_items = max_items
        self.max_changes = max_changes

    @property
    def graph(self) -> ServiceGraph:
        """The collectors file's ``[topology]`` as a call graph."""
        return ServiceGraph.from_mapping(self.topology)

    def check(self, request: IngestIncidentRequest) -> None:
        """Refuse, before anything is stored, a request whose evidence could never be gathered."""
        if self.scenarios_enabled and self._names_scenario(request.source_type, request.source_ref):
            scenario_options(request)

    def needs_collection(self, request: IngestIncidentRequest) -> bool:
        """Whether gathering this request's evidence queries backends (and so may take seconds).

        Supplied evidence, a demo scenario's generated telemetry and the recorded changes are
        read at once; only the configured collectors wait on the network.
        """
        if request.has_evidence and not request.collection.force_collect:
            return False
        if self._names_scenario(request.source_type, request.source_ref):
            return False
        return self.evidence.collectors_configured

    @staticmethod
    def _names_scenario(source_type: str, source_ref: str) -> bool:
        return source_type == SCENARIO_SOURCE_TYPE and scenario_id_of(source_ref) is not None

    async def gather(
        self,
        incident: IncidentRead,
        request: IngestIncidentRequest,
        *,
        window: TimeWindow,
        joined: Sequence[IngestIncidentRequest] = (),
        check: TemplateCheck | None = None,
    ) -> Gathered:
        """The incident's evidence; ``joined`` are the requests of the alerts that joined it.

        ``check``: the caller's transaction checks the templates noted there before it keeps
        anything mined from them, so the request's lines may be mined against this process's
        copy of them (PostgreSQL; `CheckedCopy`)."""
        gathered = Gathered()
        # Kinds the sender read over the window and found empty (evidenceLite.readEmpty).
        declared = (
            read_kinds(request.evidence_lite.read_empty or []) if request.evidence_lite else []
        )
        said = f"; read and found empty by the sender: {', '.join(declared)}" if declared else ""
        if request.has_evidence:
            lite = await self._lite(request, check)
            gathered.add(
                lite,
                CollectionNote(
                    source="evidenceLite",
                    status="ok",
                    detail=f"{len(lite)} artifact(s) from the request's evidenceLite" + said,
                    items=len(lite),
                    read=tuple(declared),
                ),
            )
        elif declared:
            gathered.notes.append(
                CollectionNote(
                    source="evidenceLite",
                    status="empty",
                    detail="no evidence in the request's evidenceLite" + said,
                    read=tuple(declared),
                )
            )
        if joined:
            await self._joined(joined, gathered)
        if observed_in(request) and not incident.collection_context.force_collect:
            return gathered
        if self._names_scenario(incident.source_type, incident.source_ref):
            self._scenario(incident, gathered)
            return gathered
        graph = self.graph.merged(
            sent_topology(request), *(sent_topology(alert) for alert in joined)
        )
        await self._collect(incident, window, gathered, graph)
        named = {alert.metadata.service for alert in joined if alert.metadata}
        await self._changes(
            incident, window, gathered, graph, also={name for name in named if name}
        )
        return gathered

    async def with_joined(
        self, draft: BundleDraft, joined: Sequence[IngestIncidentRequest]
    ) -> Gathered | None:
        """A sealed bundle's evidence with the joined alerts' evidence added as `gather` adds
        it (for a reanalysis of stored evidence); None when the bundle already holds all of it,
        so the same evidence keeps the same bundle."""
        fresh = Gathered()
        if joined:
            await self._joined(joined, fresh)
        held = {artifact.artifact_id for artifact in draft.artifacts}
        # What the joined alerts declared read and found empty counts as their evidence does:
        # a bundle whose joined alerts' note lacks some of it (sealed before coverage existed)
        # is sealed again with it.
        said = {
            kind
            for note in draft.collection
            if note.source == JOINED_ALERTS_SOURCE
            for kind in note.read
        }
        if all(artifact.artifact_id in held for artifact in fresh.artifacts) and all(
            kind in said for note in fresh.notes for kind in note.read
        ):
            return None
        merged = Gathered(
            artifacts=list(draft.artifacts),
            # The joined alerts' note is written again, for all of them.
            notes=[note for note in draft.collection if note.source != JOINED_ALERTS_SOURCE],
        )
        # Artifacts the bundle already holds are not offered again: `Gathered.add` would note
        # them as left out, which reads as if some evidence had been dropped.
        merged.add([a for a in fresh.artifacts if a.artifact_id not in held], *fresh.notes)
        return merged

    async def _joined(self, joined: Sequence[IngestIncidentRequest], gathered: Gathered) -> None:
        """Each joined alert as an ``alert`` event, with its evidenceLite; the kinds the
        alerts' senders declared read and found empty (``evidenceLite.readEmpty``) are what
        the note read, as the incident's own request's are its ``evidenceLite`` note's."""
        artifacts: list[Artifact] = []
        for alert in joined:
            artifacts.extend(await self._lite(with_alert_event(alert)))
        declared = read_kinds(
            kind
            for alert in joined
            if alert.evidence_lite
            for kind in alert.evidence_lite.read_empty or []
        )
        gathered.add(
            artifacts,
            CollectionNote(
                source=JOINED_ALERTS_SOURCE,
                status="ok",
                detail=f"{len(artifacts)} artifact(s) from the {len(joined)} alert(s) that "
                "joined the incident (each alert, and its evidenceLite)"
                + (
                    f"; at most the first {len(joined)} joined alerts are evidence"
                    if len(joined) >= JOINED_EVIDENCE_MAX
                    else ""
                )
                + (
                    f"; read and found empty by their senders: {', '.join(declared)}"
                    if declared
                    else ""
                ),
                items=len(artifacts),
                read=tuple(declared),
            ),
        )

    async def _lite(
        self, request: IngestIncidentRequest, check: TemplateCheck | None = None
    ) -> list[Artifact]:
        """evidenceLite as artifacts, its log lines mined against the templates remembered for
        their services (so baselines and incidents share template ids), which then take in the
        new ones."""
        services = self.evidence.log_services(request)
        if not services:
            return self.evidence.artifacts_from_request(request)
        if _log_lines(request) <= INLINE_MINING_LINES and not self.database.is_sqlite:
            copies = self.evidence.template_copy
            copy = copies.known(services) if check is not None else None
            if check is not None and copy is not None:
                # Mined against the copy, which the caller's transaction checks; only when the
                # lines bring no new template (a write must start from a fresh read).
                artifacts = self.evidence.artifacts_from_request(request, known_templates=copy)
                if not self.evidence.new_templates(artifacts, known=copy):
                    check.mined_against(services, copy)
                    return artifacts
            # PostgreSQL: the read alone (one round trip, no transaction); a write only when
            # the lines brought a template not remembered yet.
            async with self.database.reads() as session:
                known = await self.evidence.known_templates(session, services)
            copies.keep(services, known)
            artifacts = self.evidence.artifacts_from_request(request, known_templates=known)
            if self.evidence.new_templates(artifacts, known=known):
                copies.forget(services)
                async with self.database.unit_of_work() as session:
                    now = await self.evidence.remember_templates(session, artifacts, known=known)
                copies.keep(services, now)
            return artifacts
        if _log_lines(request) <= INLINE_MINING_LINES:
            # SQLite: mined against this process's copy of the templates when nothing can have
            # changed them since, and done when the lines bring no new one (most ingests).
            memory = self.evidence.template_memory
            copy = memory.known(services, self.database.change_token())
            if copy is not None:
                artifacts = self.evidence.artifacts_from_request(request, known_templates=copy)
                if not self.evidence.new_templates(artifacts, known=copy):
                    return artifacts
            # A few lines mine in less time than a hop to a thread and back: read, mine and
            # remember in one short write.
            async with self.database.unit_of_work() as session:
                known = await self.evidence.known_templates(session, services)
                artifacts = self.evidence.artifacts_from_request(request, known_templates=known)
                now = await self.evidence.remember_templates(session, artifacts, known=known)
                # Read in the unit, which holds the file's write lock: no other process's
                # commit can come between the read above and this token.
                token, generation = self.database.change_token(), memory.generation
            memory.keep(now, token=token, generation=generation)
            return artifacts
        async with self.database.unit_of_work(write=False) as session:
            known = await self.evidence.known_templates(session, services)
        # Mining a large evidenceLite is CPU work: off the event loop.
        artifacts = await asyncio.to_thread(
            self.evidence.artifacts_from_request, request, known_templates=known
        )
        async with self.database.unit_of_work() as session:
            await self.evidence.remember_templates(session, artifacts)
        return artifacts

    def suspects(
        self,
        service: str | None,
        artifacts: Sequence[Artifact],
        graph: ServiceGraph | None = None,
    ) -> set[str] | None:
        """Whose changes matter: the service, what it depends on (two hops, from the
        collectors file's topology and the topology sent with the incident), and the services
        the collected evidence names.

        None when the incident names no service: then every change in the window counts.
        """
        if service is None:
            return None
        graph = graph if graph is not None else self.graph
        found = {service}
        frontier = [service]
        for _ in range(DEPENDENCY_HOPS):
            frontier = [dep for name in frontier for dep in graph.callees(name)]
            found.update(frontier)
        for artifact in artifacts:
            if isinstance(artifact, MetricSeries | SpanGroup) and artifact.service:
                found.add(artifact.service)
            elif isinstance(artifact, LogTemplate):
                found.update(artifact.services)
        return found

    async def _changes(
        self,
        incident: IncidentRead,
        window: TimeWindow,
        gathered: Gathered,
        graph: ServiceGraph,
        *,
        also: set[str] | None = None,
    ) -> None:
        services = self.suspects(incident.metadata.service, gathered.artifacts, graph)
        if services is not None and also:
            services |= also
        span = TimeWindow(start=window.start - self.changes_lookback, end=window.end)
        async with self.database.unit_of_work(write=False) as session:
            found = await self.changes.evidence(
                session,
                window=span,
                services=services,
                environment=incident.metadata.environment,
                limit=self.max_changes,
            )
            # Deploys and configuration are two feeds: each is read over the window when a
            # change of its kind was ever recorded (a CI/CD reporting only deploys has said
            # nothing of configuration).
            feeds = await self.changes.feeds(
                session, found={read_kind_of(change.change_type) for change in found}
            )
        scope = ", ".join(sorted(services)) if services is not None else "every service"
        when = f"{format_instant(span.start)} to {format_instant(span.end)}"
        detail = (
            f"{len(found)} change(s) for {scope}, {when}"
            if found
            else f"no recorded changes for {scope}, {when}"
        )
        unread = [kind for kind in CHANGE_READ_KINDS if kind not in feeds]
        if len(unread) == len(CHANGE_READ_KINDS):
            detail += "; none was ever recorded (POST /v1/changes), so no change feed is read"
        elif unread:
            detail += (
                f"; no {_FEED_NAMES[unread[0]]} change was ever recorded (POST /v1/changes), "
                f"so the {unread[0]} feed is not read"
            )
        gathered.add(
            found,
            CollectionNote(
                source=CHANGES_SOURCE,
                status="ok" if found else "empty",
                detail=detail,
                items=len(found),
                read=tuple(read_kinds(feeds)),
            ),
        )

    async def _collect(
        self, incident: IncidentRead, window: TimeWindow, gathered: Gathered, graph: ServiceGraph
    ) -> None:
        if not self.evidence.collectors_configured:
            gathered.notes.append(
                CollectionNote(
                    source="collectors",
                    status="skipped",
                    detail="no collectors are configured (CHRONOSOPS_COLLECTORS_FILE)",
                )
            )
            return
        metadata = incident.metadata
        # Log lines are mined against the service's remembered templates, which then take in
        # the new ones: the incident's templates keep the ids its baseline had.
        async with self.database.unit_of_work(write=False) as session:
            known = await self.evidence.known_templates(session, {metadata.service or ""})
        result = await self.evidence.collect(
            CollectorQuery(
                window=window,
                onset=incident.timeline.start,
                service=metadata.service,
                region=metadata.region,
                environment=metadata.environment,
                max_items=self.max_items,
                graph=graph,
                hops=self.neighbour_hops,
                max_neighbours=self.max_neighbours,
                known_templates=known,
            )
        )
        if any(isinstance(a, LogTemplate) for a in result.artifacts):
            async with self.database.unit_of_work() as session:
                await self.evidence.remember_templates(session, result.artifacts)
        gathered.add(result.artifacts, *result.notes)

    def _scenario(self, incident: IncidentRead, gathered: Gathered) -> None:
        scenario_id = scenario_id_of(incident.source_ref)
        assert scenario_id is not None
        source = f"scenario:{scenario_id}"
        if not self.scenarios_enabled:
            gathered.notes.append(
                CollectionNote(
                    source=source,
                    status="skipped",
                    detail="demo scenarios are switched off (CHRONOSOPS_SCENARIOS_ENABLED=false)",
                )
            )
            return
        options = scenario_options(incident)
        generated = generate(scenario_id, options)
        gathered.add(
            list(generated.artifacts),
            CollectionNote(
                source=source,
                status="ok",
                detail=(
                    f"synthetic evidence generated by demo scenario {scenario_id} "
                    f"(seed {options.seed}, variant {options.variant}); not observed in any "
                    "real system"
                ),
                items=len(generated.artifacts),
            ),
        )
        gathered.notes.append(
            CollectionNote(
                source="collectors",
                status="skipped",
                detail="a demo scenario incident: real backends are not queried",
            )
        )
