"""The ingest pipeline: store the incident with its analysis job, freeze its evidence, analyse it.

The incident and the job that will analyse it are written in one transaction, so a 2xx always
means both are durable: whatever happens to this process afterwards, a runner finds the job
(DESIGN.md §5). When the analysis can finish at once (evidence supplied, nothing to collect) the
request runs the job itself, holding it under this process's name; otherwise it answers at once
and a runner (in-process on SQLite, `chronosops worker` on PostgreSQL) does the work. Storing the
analysis and marking the job done are one transaction, guarded by the owner, so an incident is
analysed exactly once per job even when a runner presumed dead comes back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.analysis import AnalysisInput, IncidentContext
from chronosops.analysis.models import OperationHistory, SignalRuleInput, StatementHistory
from chronosops.audit import AuditLog, EntityType, EventType
from chronosops.auth import Principal
from chronosops.core.artifacts import Artifact
from chronosops.core.ingest_request import IngestIncidentRequest, IngestIncidentResponse
from chronosops.core.metrics import OperatorMetrics
from chronosops.core.timestamps import format_instant
from chronosops.core.windows import TimeWindow, incident_window
from chronosops.evidence import (
    BundleDraft,
    CollectionNote,
    EvidenceService,
    StaleTemplatesError,
    StoredBundle,
    TemplateCheck,
)
from chronosops.evidence.lite import SOURCE as LITE_SOURCE
from chronosops.incidents import (
    AlertGrouping,
    GroupRaceError,
    IncidentRead,
    IncidentService,
    Registration,
)
from chronosops.incidents.tables import Incident
from chronosops.investigation.collection import JOINED_EVIDENCE_MAX, EvidenceGatherer
from chronosops.investigation.notify import Notifier
from chronosops.investigation.postmortems import (
    audit_postmortem,
    postmortem_source,
    provisional_source,
)
from chronosops.jobs import JobRead, JobService
from chronosops.postmortem import PostmortemService, Prose
from chronosops.reasoning import AnalysisRead, Reasoning, ReasoningService
from chronosops.silences import IncidentFacts, SilenceRead, SilenceService
from chronosops.storage import Database

log = structlog.get_logger(__name__)

ANALYZED_MESSAGE = "Incident ingested and analyzed successfully"
QUEUED_MESSAGE = (
    "Incident stored; its evidence is collected and analysed in the background: "
    "GET /v1/incidents/{id} shows where the work stands"
)
ANALYZE_JOB = "analyze"
REANALYZE_JOB = "reanalyze"
# An alert that loses a race for its group joins the winner on the next attempt; a third
# attempt covers the winner being resolved in between (the alert then opens anew).
GROUP_RACE_ATTEMPTS = 3
# A job seals on the event loop the evidence of a request with at most this many evidenceLite
# items (metric points, log lines, spans, events), as a synchronous ingest does: below it, the
# hop to a thread and back costs more than the sealing. Larger bundles go to a thread, where
# the other requests of the process keep being answered meanwhile.
SEAL_ON_LOOP_ITEMS = 50


def evidence_items(request: IngestIncidentRequest) -> int:
    lite = request.evidence_lite
    if lite is None:
        return 0
    return sum(len(items or []) for items in (lite.metrics, lite.logs, lite.traces, lite.events))


# inline: analyse in this call whatever it takes (CLI, console); auto: in this call only when
# it can finish at once; background: always leave it to a runner (webhooks, Prefer: respond-async).
AnalysisMode = Literal["inline", "auto", "background"]


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _again_if_templates_changed(
    attempt: Callable[Concatenate[IngestPipeline, _P], Awaitable[_T]],
) -> Callable[Concatenate[IngestPipeline, _P], Awaitable[_T]]:
    """The ingest made once more (its templates read afresh) when the templates its lines
    were mined against from this process's copy changed before its transaction: that attempt
    rolled back, nothing of it was kept."""

    @wraps(attempt)
    async def again(pipeline: IngestPipeline, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await attempt(pipeline, *args, **kwargs)
        except StaleTemplatesError as stale:
            log.info("incident.templates_changed", services=stale.services)
            pipeline.evidence.template_copy.forget(stale.services)
            return await attempt(pipeline, *args, **kwargs)

    return again


class JobLostError(Exception):
    """Another runner took this job over (this one was presumed dead); its work is dropped."""


@dataclass(frozen=True)
class IngestOutcome:
    response: IngestIncidentResponse
    created: bool
    # For a repeat of an open incident: what it changed (a later end / resolvedAt), if anything.
    changes: Mapping[str, Any] = field(default_factory=dict)
    # The job that analyses the incident when that work was left to a runner.
    queued_job: str | None = None
    # The alert joined an open incident just now (grouping) rather than opening one.
    joined: bool = False


@dataclass(frozen=True)
class Opens:
    """The alert opens an incident of its own rather than joining one.

    ``unseen``: a read just before found no incident with its reference, so storing it need
    not read first (the unique key still decides if one was stored since)."""

    unseen: bool = False


@dataclass(frozen=True)
class Ahead:
    """What an ingest computed before its transaction: the evidence and the analysis."""

    incident: IncidentRead
    window: TimeWindow
    draft: BundleDraft
    request: AnalysisInput
    reasoning: Reasoning
    notes: list[CollectionNote] = field(default_factory=list)
    seconds: float = 0.0
    prose: Prose | None = None
    # The copy of the remembered templates its log lines were mined against, if any: the
    # transaction that stores it checks them first.
    check: TemplateCheck = field(default_factory=TemplateCheck)


@dataclass(frozen=True)
class AnalysisOutcome:
    bundle_id: str
    analysis: AnalysisRead


def facts_of(alert: IncidentRead | IngestIncidentRequest) -> IncidentFacts:
    """What a silence is matched against: a new incident, or an alert that joins one."""
    metadata = alert.metadata
    return IncidentFacts(
        source_type=alert.source_type,
        service=metadata.service if metadata else None,
        environment=metadata.environment if metadata else None,
        tags=metadata.tags if metadata else None,
    )


def window_of(incident: IncidentRead) -> TimeWindow:
    return incident_window(
        start=incident.timeline.start,
        end=incident.timeline.end,
        minutes_before=incident.collection_context.window_minutes_before,
        minutes_after=incident.collection_context.window_minutes_after,
    )


def context_of(incident: IncidentRead, window: TimeWindow) -> IncidentContext:
    return IncidentContext(
        source_type=incident.source_type,
        title=incident.title,
        service=incident.metadata.service,
        region=incident.metadata.region,
        environment=incident.metadata.environment,
        onset=incident.timeline.start,
        window_start=window.start,
        window_end=window.end,
    )


@dataclass(frozen=True)
class StoredEvidence:
    """An incident's stored request and the requests of the alerts that joined it."""

    request: IngestIncidentRequest
    joined: Sequence[IngestIncidentRequest]


class IngestPipeline:
    def __init__(
        self,
        *,
        database: Database,
        incidents: IncidentService,
        evidence: EvidenceService,
        gatherer: EvidenceGatherer,
        reasoning: ReasoningService,
        audit: AuditLog,
        jobs: JobService,
        analyze_on_ingest: bool,
        postmortems: PostmortemService,
        signal_rules: list[SignalRuleInput] | None = None,
        silences: SilenceService | None = None,
        metrics: OperatorMetrics | None = None,
        notifier: Notifier | None = None,
        grouping: AlertGrouping | None = None,
        regroup_delay: timedelta = timedelta(seconds=30),
    ) -> None:
        self.grouping = grouping
        # How long an incident's re-analysis waits after an alert joins it, so that a storm
        # of joining alerts coalesces into one re-analysis instead of one each.
        self.regroup_delay = regroup_delay
        self.jobs = jobs
        self.database = database
        self.incidents = incidents
        self.evidence = evidence
        self.gatherer = gatherer
        self.reasoning = reasoning
        self.audit = audit
        self.analyze_on_ingest = analyze_on_ingest
        self.postmortems = postmortems
        self.signal_rules = list(signal_rules or [])
        self.silences = silences
        self.metrics = metrics or OperatorMetrics()
        self.notifier = notifier

    async def ingest(
        self,
        request: IngestIncidentRequest,
        *,
        principal: Principal,
        mode: AnalysisMode = "inline",
    ) -> IngestOutcome:
        """Open an incident for the alert, or join it to the open incident of its group."""
        if self.grouping is None:
            return await self._ingest_alone(request, principal=principal, mode=mode)
        self.gatherer.check(request)
        for _ in range(GROUP_RACE_ATTEMPTS):
            try:
                if self.grouping.may_join(request):
                    joined = await self._join(request, self.grouping, principal=principal)
                    if isinstance(joined, IngestOutcome):
                        return joined
                    outcome = await self._ingest_alone(
                        request, principal=principal, mode=mode, unseen=joined.unseen
                    )
                else:
                    # No group or window can take the alert: only a repeat of an alert that
                    # joined an incident (when it could) would not open one, and the ingest's
                    # own transaction asks that, instead of a check of its own before it.
                    outcome = await self._ingest_alone(
                        request, principal=principal, mode=mode, grouping=self.grouping
                    )
                    if outcome.response.alert == "joined":
                        return outcome
            except GroupRaceError:
                # A concurrent delivery of the group stored its incident first (the lookup
                # above ran before it committed): everything here was rolled back, and asked
                # again the alert joins that incident.
                log.info("incident.group_race", source_ref=request.source_ref)
                continue
            # Here the alert is its incident's own reference: `_ingest_alone` answered so.
            return outcome
        raise RuntimeError(
            f"could not open or join the group of {request.source_type}/{request.source_ref} "
            f"after {GROUP_RACE_ATTEMPTS} attempts"
        )

    async def _join(
        self, request: IngestIncidentRequest, grouping: AlertGrouping, *, principal: Principal
    ) -> IngestOutcome | Opens:
        """Join the alert to the open incident of its group; `Opens` when it opens its own.

        A repeat of an alert that joined is answered as that incident's duplicate, so
        idempotency stays per (sourceType, sourceRef) whether an alert opened or joined.
        """
        if not self.database.is_sqlite:
            check = await self._may_join(request, grouping)
            if isinstance(check, Opens):
                return check
        async with self.database.unit_of_work() as session:
            state = await grouping.reference_state(session, request.source_type, request.source_ref)
            if state.own is not None and state.own != "resolved":
                return Opens()
            if state.joined is not None:
                return await self._repeat_answer(session, state.joined)
            target = await grouping.target(session, request)
            if target is None:
                return Opens()
            incident = await self.incidents.get(session, target.incident_id)
            silence = await self._matching_silence(session, facts_of(request))
            await grouping.add(
                session,
                incident.id,
                request,
                role="joined",
                reason=target.reason,
                silence_id=silence.id if silence else None,
            )
            await self.audit.record(
                session,
                event_type=EventType.INCIDENT_ALERT_JOINED,
                entity_type=EntityType.INCIDENT,
                entity_id=incident.id,
                entity_ref=f"{request.source_type}:{request.source_ref}",
                incident_id=incident.id,
                actor=principal.subject,
                payload={
                    "incidentId": incident.id,
                    "sourceType": request.source_type,
                    "sourceRef": request.source_ref,
                    "title": request.title,
                    "joinedBy": target.reason,
                    "silenceId": silence.id if silence else None,
                },
            )
            rerun = None
            if self.analyze_on_ingest and incident.silence_id is None and silence is None:
                rerun = await self._schedule_reanalysis(session, incident.id, principal=principal)
        self.metrics.ingested(incident.source_type, "joined")
        log.info("incident.alert_joined", incident_id=incident.id, by=target.reason)
        reason = (
            "same groupKey"
            if target.reason == "groupKey"
            else ("same service and environment within the window")
        )
        message = f"Joined open incident {incident.id} ({reason})"
        if silence is not None:
            message += (
                f"; silenced by silence {silence.id} ({silence.comment}): stored and shown, "
                "not analysed"
            )
        if rerun is not None:
            message += f"; its analysis runs again (job {rerun.id}, {rerun.state})"
        return _joined_answer(
            incident, message, queued_job=rerun.id if rerun is not None else None, joined=True
        )

    async def _may_join(
        self, request: IngestIncidentRequest, grouping: AlertGrouping
    ) -> Opens | None:
        """`Opens` when the alert cannot join an incident, read without a transaction
        (PostgreSQL); None when it could.

        Most alerts open their own incident: for those this costs one or two reads and no
        ``BEGIN``/``COMMIT``. When one could join, the transaction that joins it reads again
        (under READ COMMITTED it would see nothing more stable than these reads anyway).
        """
        async with self.database.reads() as session:
            state = await grouping.reference_state(session, request.source_type, request.source_ref)
            if state.own is not None and state.own != "resolved":
                return Opens()
            if state.joined is not None:
                return None
            if await grouping.target(session, request) is not None:
                return None
            return Opens(unseen=state.own is None)

    async def _repeat_answer(self, session: AsyncSession, incident_id: str) -> IngestOutcome:
        """The answer to a repeat of an alert that joined the open incident ``incident_id``."""
        incident = await self.incidents.get(session, incident_id)
        self.metrics.ingested(incident.source_type, "duplicate")
        return _joined_answer(
            incident,
            f"Repeat of an alert that joined incident {incident.id} "
            "(same sourceType and sourceRef); nothing changed",
        )

    async def _schedule_reanalysis(
        self, session: AsyncSession, incident_id: str, *, principal: Principal
    ) -> JobRead:
        """Analyse the incident again a little later, once for every alert that joins by then.

        A queued analysis has not gathered its evidence yet, so it already covers the new
        alert: it is reused (coalesced). Otherwise one is queued `regroup_delay` from now.
        """
        pending = await self.jobs.latest_row(session, incident_id, kind=ANALYZE_JOB)
        if pending is not None and pending.state == "queued":
            return JobRead.model_validate(pending, from_attributes=True)
        return await self.jobs.enqueue(
            session,
            kind=ANALYZE_JOB,
            incident_id=incident_id,
            payload={"reason": "alert-joined"},
            by=principal.subject,
            delay=self.regroup_delay,
        )

    @_again_if_templates_changed
    async def _ingest_alone(
        self,
        request: IngestIncidentRequest,
        *,
        principal: Principal,
        mode: AnalysisMode = "inline",
        unseen: bool = False,
        grouping: AlertGrouping | None = None,
    ) -> IngestOutcome:
        """Open the alert's incident, or match its open one (same sourceType and sourceRef).

        ``grouping``: first answer a repeat of an alert that joined an open incident, as
        `_join` does, in this transaction (for an alert that no group or window can take).
        Every other answer is to the incident's own reference, so it says ``alert: opened``
        as it is built (a `model_copy` to set it afterwards cost ~2% of a `respond-async`
        ingest's CPU, docs/benchmarks.md, twenty-seventh pass).
        """
        # A request whose evidence could never be gathered is refused before anything is stored.
        self.gatherer.check(request)
        inline = mode == "inline" or (
            mode == "auto" and not self.gatherer.needs_collection(request)
        )
        # When nothing waits on a backend, the evidence and the analysis are computed first,
        # outside any transaction, and stored with the incident in one short transaction.
        ahead = (
            await self._analyse_ahead(request)
            if inline and self.analyze_on_ingest and not self.gatherer.needs_collection(request)
            else None
        )
        job: JobRead | None = None
        rerun: JobRead | None = None
        stored: AnalysisRead | None = None
        silenced: str | None = None
        # The bundle stored with the incident's insert, in its round trip (PostgreSQL).
        stored_ahead: StoredBundle | None = None
        async with self.database.unit_of_work() as session:
            fresh = False
            if self.silences is not None:
                # A new incident asks whether a silence holds it back: on PostgreSQL the
                # question goes out with the transaction's first read, not alone after the
                # insert (a silence made meanwhile races the ingest either way).
                await self.silences.ask_ahead(session)
            if ahead is not None and ahead.check.used:
                # The templates the evidence was mined against, read again with the same send.
                await self.evidence.ask_templates_ahead(session, ahead.check.used)
            registration: Registration | None = None
            if grouping is not None:
                # Both questions in one statement: its own latest incident, and an open one
                # it joined (which answers only when it has no open incident of its own).
                # On PostgreSQL the insert of its first occurrence goes with them, taking
                # place only where the reference has neither (one round trip fewer).
                both = None
                if not self.database.is_sqlite:
                    first, values = self.incidents.first_occurrence(
                        request,
                        by=principal.subject,
                        incident_id=ahead.incident.id if ahead else None,
                    )
                    # With an analysis ahead, its bundle is stored and linked in the same
                    # send, where the insert took place (one round trip fewer).
                    then = (
                        self.evidence.store_if_opened(
                            ahead.draft,
                            incident_id=ahead.incident.id,
                            window=ahead.window,
                            by=principal.subject,
                        )
                        if ahead is not None
                        else []
                    )
                    both = await grouping.reference_state_opening(session, request, values, then)
                if both is not None and both[1]:
                    registration = self.incidents.opened(first)
                    if ahead is not None:
                        stored_ahead = self.evidence.stored_if_opened(ahead.draft, both[2])
                else:
                    state = (
                        both[0]
                        if both is not None
                        else await grouping.reference_state(
                            session, request.source_type, request.source_ref
                        )
                    )
                    if (state.own is None or state.own == "resolved") and state.joined is not None:
                        return await self._repeat_answer(session, state.joined)
                    # No incident of this reference yet: register need not look for one
                    # again — unless the insert sent with the state found its slot taken.
                    fresh = state.own is None and both is None
            if registration is None:
                registration = await self.incidents.register(
                    session,
                    request,
                    by=principal.subject,
                    incident_id=ahead.incident.id if ahead else None,
                    unseen=unseen or fresh,
                )
            # The incident as stored: for a new one, its read model is built only if something
            # below needs it (`Registration.incident`).
            row = registration.row
            # A new incident's facts are its request's (its row was made from them).
            silence = (
                await self._matching_silence(session, facts_of(request))
                if registration.created
                else None
            )
            if registration.created and self.grouping is not None:
                await self.grouping.add(
                    session,
                    row.id,
                    request,
                    role="opened",
                    silence_id=silence.id if silence else None,
                )
            if registration.created and self.analyze_on_ingest and silence is None:
                job = await self.jobs.enqueue(
                    session,
                    kind=ANALYZE_JOB,
                    incident_id=row.id,
                    payload={},
                    by=principal.subject,
                    hold=inline and ahead is None,
                    done=ahead is not None,
                )
            elif (
                not registration.created
                and self.analyze_on_ingest
                and registration.incident.status != ("analyzed")
            ):
                # A client's retry of an incident whose analysis failed or never finished.
                rerun = await self.jobs.rerun_for_incident(
                    session, row.id, kind=ANALYZE_JOB, by=principal.subject
                )
            if registration.created:
                await self.audit.record(
                    session,
                    event_type=EventType.INCIDENT_CREATED,
                    entity_type=EntityType.INCIDENT,
                    entity_id=row.id,
                    entity_ref=f"{row.source_type}:{row.source_ref}",
                    incident_id=row.id,
                    actor=principal.subject,
                    first_of_incident=True,
                    payload={
                        "incidentId": row.id,
                        "sourceType": row.source_type,
                        "sourceRef": row.source_ref,
                        "occurrence": row.occurrence,
                        "title": row.title,
                        "severity": row.severity,
                    },
                )
                if silence is not None:
                    if stored_ahead is not None:
                        # Its analysis is held back, so is its bundle (stored with the insert).
                        await self.evidence.unstore(session, stored_ahead, incident_id=row.id)
                    silenced = await self._record_silence(
                        session, registration.incident, silence, principal=principal
                    )
                elif self.notifier is not None and self.notifier.has_rules:
                    await self.notifier.emit(
                        session, "incident.created", registration.incident, by=principal.subject
                    )
                if ahead is not None and job is not None:
                    if ahead.check.used and not await self.evidence.templates_unchanged(
                        session, ahead.check.used
                    ):
                        # Mined against templates another process changed since this one
                        # read them: roll back, and mine again against what is remembered now.
                        raise StaleTemplatesError(ahead.check.used)
                    stored = await self._store_analysis(
                        session,
                        registration.incident,
                        ahead.draft,
                        ahead.request,
                        ahead.reasoning,
                        window=ahead.window,
                        principal=principal,
                        prose=ahead.prose,
                        new_incident=True,
                        stored=stored_ahead,
                    )
            elif registration.changes:
                await self.audit.record(
                    session,
                    event_type=EventType.INCIDENT_UPDATED,
                    entity_type=EntityType.INCIDENT,
                    entity_id=row.id,
                    incident_id=row.id,
                    actor=principal.subject,
                    payload={"incidentId": row.id, "changes": registration.changes},
                )
        # The incident's id is passed to each line rather than bound once: a bound logger is
        # built even when its level is off.
        if not registration.created:
            incident = registration.incident
            self.metrics.ingested(incident.source_type, "duplicate")
            log.info(
                "incident.duplicate",
                incident_id=incident.id,
                changes=sorted(registration.changes),
            )
            changed = ", ".join(sorted(registration.changes))
            message = f"Duplicate of incident {incident.id} (same sourceType and sourceRef); " + (
                f"updated {changed}" if changed else "nothing changed"
            )
            if rerun is not None:
                message += f"; its analysis is {rerun.state} (job {rerun.id})"
            return IngestOutcome(
                response=IngestIncidentResponse(
                    incident_id=incident.id,
                    evidence_bundle_id=incident.latest_bundle_id,
                    analysis_id=incident.latest_analysis_id,
                    status=incident.status,
                    message=message,
                    alert="opened",
                ),
                created=False,
                changes=registration.changes,
            )
        log.info("incident.created", incident_id=row.id, source_type=row.source_type)
        if silenced is not None:
            self.metrics.ingested(row.source_type, "silenced")
            log.info("incident.silenced", incident_id=row.id)
            return IngestOutcome(
                IngestIncidentResponse(
                    incident_id=row.id, status="created", message=silenced, alert="opened"
                ),
                created=True,
            )
        if job is None:
            reason = (
                "Analysis on ingest is switched off (CHRONOSOPS_ANALYZE_ON_INGEST=false); "
                f"POST /v1/incidents/{row.id}/reanalyze to analyse it"
            )
            async with self.database.unit_of_work() as session:
                await self.incidents.set_status(session, row.id, "created", reason=reason)
            self.metrics.ingested(row.source_type, "deferred")
            return IngestOutcome(
                IngestIncidentResponse(
                    incident_id=row.id, status="created", message=reason, alert="opened"
                ),
                created=True,
            )
        if stored is not None and ahead is not None:
            # Counted only once stored: a duplicate's or a silenced incident's is thrown away.
            self._count_collection(ahead.notes)
            self.metrics.analysed(
                "inconclusive" if stored.inconclusive else "conclusive", ahead.seconds
            )
            self.metrics.ingested(row.source_type, "analyzed")
            return IngestOutcome(
                IngestIncidentResponse(
                    incident_id=row.id,
                    evidence_bundle_id=ahead.draft.bundle_id,
                    analysis_id=stored.analysis_id,
                    status="analyzed",
                    message=ANALYZED_MESSAGE,
                    alert="opened",
                ),
                created=True,
            )
        if not inline:
            self.metrics.ingested(row.source_type, "deferred")
            return IngestOutcome(
                IngestIncidentResponse(
                    incident_id=row.id,
                    status="created",
                    message=QUEUED_MESSAGE.format(id=row.id),
                    alert="opened",
                ),
                created=True,
                queued_job=job.id,
            )
        try:
            outcome = await self.run_analysis(
                job, registration.incident, request, principal=principal
            )
        except JobLostError:
            self.metrics.ingested(row.source_type, "deferred")
            return IngestOutcome(
                IngestIncidentResponse(
                    incident_id=row.id,
                    status="created",
                    message=QUEUED_MESSAGE.format(id=row.id),
                    alert="opened",
                ),
                created=True,
                queued_job=job.id,
            )
        except Exception as error:  # any failure after storing is recorded, not raised
            self.metrics.ingested(row.source_type, "analysis_failed")
            reason = f"{type(error).__name__}: {error}"
            log.exception("incident.analysis_failed", incident_id=row.id)
            return IngestOutcome(
                IngestIncidentResponse(
                    incident_id=row.id,
                    status="failed",
                    message=f"Incident stored, but evidence or analysis failed: {reason}",
                    alert="opened",
                ),
                created=True,
            )
        self.metrics.ingested(row.source_type, "analyzed")
        return IngestOutcome(
            IngestIncidentResponse(
                incident_id=row.id,
                evidence_bundle_id=outcome.bundle_id,
                analysis_id=outcome.analysis.analysis_id,
                status="analyzed",
                message=ANALYZED_MESSAGE,
                alert="opened",
            ),
            created=True,
        )

    async def _analyse_ahead(self, request: IngestIncidentRequest) -> Ahead | None:
        """Evidence and analysis for the incident ``request`` would open; None if that fails
        (the usual path then records the failure on the stored incident)."""
        started = time.perf_counter()
        try:
            incident = self.incidents.preview(request, incident_id=self.incidents.new_id())
            window = window_of(incident)
            check = TemplateCheck()
            gathered = await self.gatherer.gather(incident, request, window=window, check=check)
            draft = self.evidence.seal(gathered.artifacts, collection=gathered.notes)
            analysis_input, reasoning = await self._reason(incident, draft, window=window)
            prose = await self._prose(incident, draft, reasoning)
        except Exception:  # the failure is met again, and recorded, on the stored incident
            log.info("incident.analyse_ahead_failed", exc_info=True)
            return None
        return Ahead(
            incident,
            window,
            draft,
            analysis_input,
            reasoning,
            notes=list(gathered.notes),
            seconds=time.perf_counter() - started,
            prose=prose,
            check=check,
        )

    async def run_analysis(
        self,
        job: JobRead,
        incident: IncidentRead,
        request: IngestIncidentRequest | None,
        *,
        principal: Principal,
        stored: StoredEvidence | Exception | None = None,
    ) -> AnalysisOutcome:
        """Run an analyze job this process holds: gather, analyse, store with the job done.

        Without ``request`` the incident's stored request and joined alerts are its evidence:
        ``stored`` when the caller read them already (or the error reading them raised), else
        read here. A failure is recorded on the job (queued again after a backoff, or failed
        for good) and on the incident (``failed`` with the reason), then raised.
        `JobLostError` means another runner took the job over; nothing was stored by this one.
        """
        started = time.perf_counter()
        try:
            async with self._heartbeat(job.id):
                joined: Sequence[IngestIncidentRequest] = ()
                if request is None:
                    if isinstance(stored, Exception):
                        raise stored
                    if stored is None:
                        async with self.database.unit_of_work(write=False) as session:
                            stored = await self.stored_evidence(session, incident.id)
                    request, joined = stored.request, stored.joined
                outcome = await self._gather_and_analyse(
                    job, incident, request, joined, principal=principal
                )
                self.metrics.analysed(
                    "inconclusive" if outcome.analysis.inconclusive else "conclusive",
                    time.perf_counter() - started,
                )
                return outcome
        except JobLostError:
            log.warning("job.lost", job_id=job.id, incident_id=incident.id)
            raise
        except Exception as error:
            self.metrics.analysed("failed", time.perf_counter() - started)
            await self._job_failed(
                job, incident.id, f"{type(error).__name__}: {error}", principal=principal
            )
            raise

    async def _gather_and_analyse(
        self,
        job: JobRead,
        incident: IncidentRead,
        request: IngestIncidentRequest,
        joined: Sequence[IngestIncidentRequest],
        *,
        principal: Principal,
    ) -> AnalysisOutcome:
        """Gather and analyse the job's evidence, and store it with the job done.

        Its log lines are first mined against this process's copy of the remembered
        templates (PostgreSQL, as a synchronous ingest mines them: no read of their own, a
        round trip and ~0.8 ms of CPU a job, docs/benchmarks.md), which the storing
        transaction checks; if they changed meanwhile, nothing was kept, and the job mines
        again against a fresh read."""
        check: TemplateCheck | None = TemplateCheck()
        while True:
            gathered = await self.gatherer.gather(
                incident, request, window=window_of(incident), joined=joined, check=check
            )
            try:
                outcome = await self.analyze(
                    incident,
                    gathered.artifacts,
                    principal=principal,
                    collection=gathered.notes,
                    job_id=job.id,
                    small=evidence_items(request) <= SEAL_ON_LOOP_ITEMS,
                    check=check,
                )
            except StaleTemplatesError as stale:
                if check is None:
                    raise
                log.info("incident.templates_changed", services=stale.services)
                self.evidence.template_copy.forget(stale.services)
                # Read afresh this time: nothing to check, so no second stale copy.
                check = None
                continue
            self._count_collection(gathered.notes)
            return outcome

    async def stored_evidence(
        self, session: AsyncSession, incident_id: str, *, row: Incident | None = None
    ) -> StoredEvidence:
        """What an analyze job analyses: the incident's stored request and the joined alerts'
        (``row``: the incident's, when the caller read it already)."""
        return StoredEvidence(
            request=await self.incidents.stored_request(session, incident_id, row=row),
            joined=await self._joined_alerts(session, incident_id),
        )

    async def ask_evidence_ahead(self, session: AsyncSession, incident_id: str) -> None:
        """Ask the part of `stored_evidence` that is a read of its own (the joined alerts)
        now, to go out with the transaction's next statement that needs an answer."""
        if self.grouping is not None:
            await self.grouping.ask_joined_ahead(session, incident_id, limit=JOINED_EVIDENCE_MAX)

    async def _joined_alerts(
        self, session: AsyncSession, incident_id: str
    ) -> Sequence[IngestIncidentRequest]:
        """The requests of the alerts that joined the incident: part of its evidence."""
        if self.grouping is None:
            return ()
        return await self.grouping.joined_requests(session, incident_id, limit=JOINED_EVIDENCE_MAX)

    async def _previous_top(self, session: AsyncSession, incident: IncidentRead) -> str | None:
        """The top hypothesis of the incident's analysis before this one, if it had one."""
        if self.notifier is None or incident.latest_analysis_id is None:
            return None
        current = await self.incidents.get(session, incident.id)
        if current.latest_analysis_id is None:
            return None
        return (await self.reasoning.get(session, current.latest_analysis_id)).top_hypothesis_id

    def _count_collection(self, notes: list[CollectionNote]) -> None:
        for note in notes:
            self.metrics.collected(note.source, note.status)

    async def _matching_silence(
        self, session: AsyncSession, facts: IncidentFacts
    ) -> SilenceRead | None:
        """The active silence that holds this new incident (or alert) back, if any."""
        if self.silences is None:
            return None
        return await self.silences.matching(session, facts)

    async def _record_silence(
        self,
        session: AsyncSession,
        incident: IncidentRead,
        silence: SilenceRead,
        *,
        principal: Principal,
    ) -> str:
        """Mark the incident silenced and audit it; the reason names the silence.

        It is still stored and audited (no analysis job is enqueued), and reads as silenced
        everywhere it is shown.
        """
        reason = (
            f"Silenced by silence {silence.id} ({silence.comment}) until "
            f"{format_instant(silence.ends_at)}: stored and audited, not analysed; "
            f"POST /v1/incidents/{incident.id}/reanalyze to analyse it anyway"
        )
        await self.incidents.mark_silenced(session, incident.id, silence.id, reason=reason)
        await self.audit.record(
            session,
            event_type=EventType.INCIDENT_SILENCED,
            entity_type=EntityType.INCIDENT,
            entity_id=incident.id,
            incident_id=incident.id,
            actor=principal.subject,
            payload={
                "incidentId": incident.id,
                "silenceId": silence.id,
                "comment": silence.comment,
                "endsAt": format_instant(silence.ends_at),
            },
        )
        return reason

    @asynccontextmanager
    async def _heartbeat(self, job_id: str) -> AsyncIterator[None]:
        """Say this process is alive on the job while the block runs (a dead one stops saying it)."""
        interval = self.jobs.policy.stale_after.total_seconds() / 3

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval)
                with suppress(Exception):
                    async with self.database.unit_of_work() as session:
                        await self.jobs.heartbeat(session, job_id)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def analyze(
        self,
        incident: IncidentRead,
        artifacts: list[Artifact],
        *,
        principal: Principal,
        collection: list[CollectionNote] | None = None,
        job_id: str | None = None,
        small: bool = False,
        check: TemplateCheck | None = None,
    ) -> AnalysisOutcome:
        """Seal the artifacts into a bundle, reason over it, store both, mark the incident analysed.

        ``small``: the request's evidenceLite is small (`SEAL_ON_LOOP_ITEMS`); ``check``: the
        templates the artifacts' lines were mined against, checked where they are stored."""
        window = window_of(incident)
        notes = collection or []
        if small and all(note.source == LITE_SOURCE for note in notes):
            # Only a small evidenceLite of the request's own: a hop to a thread and back
            # costs more than sealing it.
            draft = self.evidence.seal(artifacts, collection=notes)
        else:
            # Collected or joined evidence can be large: canonicalising and hashing it is
            # CPU work, off the event loop.
            draft = await asyncio.to_thread(self.evidence.seal, artifacts, collection=notes)
        return await self.analyze_bundle(
            incident, draft, window=window, principal=principal, job_id=job_id, check=check
        )

    async def analyze_bundle(
        self,
        incident: IncidentRead,
        draft: BundleDraft,
        *,
        window: TimeWindow,
        principal: Principal,
        job_id: str | None = None,
        check: TemplateCheck | None = None,
    ) -> AnalysisOutcome:
        """Reason over the sealed bundle and store it all; with ``job_id``, in the transaction
        that marks that job done (`JobLostError` when another runner holds it now).

        ``check``: the templates the bundle's lines were mined against from this process's
        copy; `StaleTemplatesError` (nothing stored) when the transaction finds them changed.
        """
        request, reasoning = await self._reason(incident, draft, window=window)
        prose = await self._prose(incident, draft, reasoning)
        async with self.database.unit_of_work() as session:
            if job_id is not None and incident.latest_analysis_id is None:
                # The question below, sent with the job's finish (one round trip for both);
                # in this same transaction, so it counts as much there as after it.
                await self.incidents.ask_never_analysed_ahead(session, incident.id)
            if check is not None and check.used:
                # The templates mined against, read again with the job's finish.
                await self.evidence.ask_templates_ahead(session, check.used)
            # On PostgreSQL the bundle's insert and link go out with the job's finish too (a
            # round trip fewer): were the job lost, the rollback below undoes them.
            ahead = job_id is not None and await self.evidence.ask_store_ahead(
                session, draft, incident_id=incident.id, window=window, by=principal.subject
            )
            # First, so that a runner that lost its job stores nothing (the rollback undoes all).
            if job_id is not None and not await self.jobs.succeed(session, job_id):
                raise JobLostError(job_id)
            if (
                check is not None
                and check.used
                and not await self.evidence.templates_unchanged(session, check.used)
            ):
                # Another process changed them since this one read them: roll back, and mine
                # again against what is remembered now.
                raise StaleTemplatesError(check.used)
            stored = await self.evidence.stored_ahead(session, draft) if ahead else None
            # A first analysis (an accepted incident's job) has no earlier postmortem or
            # statements to look up or replace; asked again here, where it counts.
            first = incident.latest_analysis_id is None and await self.incidents.never_analysed(
                session, incident.id
            )
            analysis = await self._store_analysis(
                session,
                incident,
                draft,
                request,
                reasoning,
                window=window,
                principal=principal,
                prose=prose,
                first_analysis=first,
                stored=stored,
            )
        return AnalysisOutcome(bundle_id=draft.bundle_id, analysis=analysis)

    async def _reason(
        self, incident: IncidentRead, draft: BundleDraft, *, window: TimeWindow
    ) -> tuple[AnalysisInput, Reasoning]:
        history, operations, compared_with = await self._statement_history(incident, draft)
        request = AnalysisInput(
            context=context_of(incident, window),
            artifacts=list(draft.artifacts),
            statement_history=history,
            operation_history=operations,
            history_incidents=compared_with,
            signal_rules=self.signal_rules,
            collection_notes=[
                f"{note['source']}: {note['status']} — {note['detail']}"
                for note in draft.content.get("collection", [])
            ],
            coverage=draft.coverage,
        )
        return request, await self.reasoning.reason(request)

    async def _statement_history(
        self, incident: IncidentRead, draft: BundleDraft
    ) -> tuple[list[StatementHistory], list[OperationHistory], list[str]]:
        """The log statements of the bundle's services over their earlier incidents (engine
        3.13's missing code paths), their operations' mix (3.40) and those incidents: one read,
        and none when the bundle holds neither statements nor spans."""
        services = self.evidence.history_services(draft.artifacts)
        if not services:
            return [], [], []
        async with self.database.reads() as session:
            return await self.evidence.statement_history(
                session, services, incident_id=incident.id, onset=incident.timeline.start
            )

    async def _prose(
        self, incident: IncidentRead, draft: BundleDraft, reasoning: Reasoning
    ) -> Prose | None:
        """The postmortem prose a language model writes, when one is configured to: asked
        here, before the transaction that stores the analysis, never inside it."""
        if not self.postmortems.writes_prose:
            # The provisional source (the analysis dumped to JSON) is only for a model to read.
            return None
        return await self.postmortems.write_prose(
            provisional_source(
                incident, reasoning.result, draft, analysed_at=self.postmortems.clock.now()
            )
        )

    async def _store_analysis(
        self,
        session: AsyncSession,
        incident: IncidentRead,
        draft: BundleDraft,
        request: AnalysisInput,
        reasoning: Reasoning,
        *,
        window: TimeWindow,
        principal: Principal,
        prose: Prose | None = None,
        new_incident: bool = False,
        first_analysis: bool = False,
        stored: StoredBundle | None = None,
    ) -> AnalysisRead:
        """Bundle, analysis, the incident's status and their audit events, in the caller's
        transaction (audit last: appending holds the chain's lock until commit).

        ``new_incident``: opened in this transaction (it has no earlier postmortem);
        ``first_analysis``: stored earlier but never analysed (no earlier postmortem either);
        ``stored``: the bundle, stored and linked in this transaction already."""
        unanalysed = new_incident or first_analysis
        previous_top = await self._previous_top(session, incident)
        if stored is None:
            stored = await self.evidence.store(
                session, draft, incident_id=incident.id, window=window, by=principal.subject
            )
        analysis, traces = await self.reasoning.store(
            session,
            incident_id=incident.id,
            bundle_id=draft.bundle_id,
            request=request,
            reasoning=reasoning,
            by=principal.subject,
        )
        # What the service's next incidents read of this one (an incident analysed again
        # replaces what its earlier analysis kept).
        await self.evidence.remember_statements(
            session,
            draft.artifacts,
            incident_id=incident.id,
            onset=incident.timeline.start,
            replace=not unanalysed,
        )
        if prose is not None and prose.traces:
            traces += await self.reasoning.store_traces(
                session,
                analysis_id_=analysis.analysis_id,
                incident_id=incident.id,
                drafts=prose.traces,
            )
        postmortem = await self.postmortems.draft(
            session,
            postmortem_source(incident, analysis, draft, parsed=reasoning.result),
            by=principal.subject,
            prose=prose,
            new_incident=unanalysed,
        )
        await self.incidents.set_status(
            session,
            incident.id,
            "analyzed",
            bundle_id=draft.bundle_id,
            analysis_id=analysis.analysis_id,
            # The analysis just inserted holds the incident (its foreign key) until the
            # commit: on PostgreSQL the UPDATE need not wait for an answer of its own.
            held_here=True,
        )
        if self.notifier is not None:
            changed = previous_top is not None and previous_top != analysis.top_hypothesis_id
            await self.notifier.emit(
                session,
                "analysis.top_changed" if changed else "analysis.completed",
                incident,
                by=principal.subject,
                analysis=analysis,
            )
        # Audit last: appending takes the chain's lock until commit, so everything else in
        # this transaction happens before it, not while other ingests wait.
        if stored.inserted or stored.attached:
            await self.audit.record(
                session,
                event_type=(
                    EventType.EVIDENCE_BUNDLE_CREATED
                    if stored.inserted
                    else EventType.EVIDENCE_BUNDLE_ATTACHED
                ),
                entity_type=EntityType.EVIDENCE_BUNDLE,
                entity_id=draft.bundle_id,
                entity_ref=draft.digest,
                incident_id=incident.id,
                actor=principal.subject,
                payload={
                    "bundleId": draft.bundle_id,
                    "incidentId": incident.id,
                    "artifactCount": len(draft.artifacts),
                    "sources": draft.sources,
                    "synthetic": draft.synthetic,
                    "window": window.to_json(),
                },
            )
        await self.audit.record(
            session,
            event_type=EventType.ANALYSIS_CREATED,
            entity_type=EntityType.INCIDENT_ANALYSIS,
            entity_id=analysis.analysis_id,
            incident_id=incident.id,
            actor=principal.subject,
            payload={
                "analysisId": analysis.analysis_id,
                "incidentId": incident.id,
                "bundleId": draft.bundle_id,
                "reasoner": analysis.reasoner,
                "topHypothesisId": analysis.top_hypothesis_id,
                "overallConfidence": analysis.overall_confidence,
                "inconclusive": analysis.inconclusive,
                "completenessScore": analysis.completeness_score,
            },
        )
        for trace in traces:
            await self.audit.record(
                session,
                event_type=EventType.PROMPT_TRACE_CREATED,
                entity_type=EntityType.PROMPT_TRACE,
                entity_id=trace.trace_id,
                entity_ref=trace.prompt_hash,
                incident_id=incident.id,
                actor=principal.subject,
                payload={
                    "promptTraceId": trace.trace_id,
                    "analysisId": analysis.analysis_id,
                    "incidentId": incident.id,
                    "provider": trace.provider,
                    "model": trace.model,
                    "promptVersion": trace.prompt_version,
                    "attempt": trace.attempt,
                    "status": trace.status,
                    "promptHash": trace.prompt_hash,
                    "requestHash": trace.request_hash,
                    "responseHash": trace.response_hash,
                    "inputTokens": trace.input_tokens,
                    "outputTokens": trace.output_tokens,
                    "costUsd": trace.cost_usd,
                },
            )
        await audit_postmortem(session, self.audit, postmortem, actor=principal.subject)
        return analysis

    async def _job_failed(
        self, job: JobRead, incident_id: str, reason: str, *, principal: Principal
    ) -> None:
        try:
            async with self.database.unit_of_work() as session:
                after = await self.jobs.fail(session, job.id, reason)
                if after is None:
                    return
                note = (
                    f"; retrying after {after.run_after.isoformat()} "
                    f"(attempt {after.attempts} of {after.max_attempts})"
                    if after.state == "queued"
                    else ""
                )
                await self.incidents.set_status(
                    session, incident_id, "failed", reason=reason + note
                )
                await self.audit.record(
                    session,
                    event_type=EventType.INCIDENT_FAILED,
                    entity_type=EntityType.INCIDENT,
                    entity_id=incident_id,
                    incident_id=incident_id,
                    actor=principal.subject,
                    payload={
                        "incidentId": incident_id,
                        "reason": reason[:2000],
                        "jobId": job.id,
                        "attempt": after.attempts,
                        "final": after.state == "failed",
                    },
                )
        except Exception:
            log.exception("incident.mark_failed_failed", incident_id=incident_id)

    async def reanalyze(
        self, incident_id: str, *, principal: Principal, job_id: str | None = None
    ) -> AnalysisOutcome:
        """Run the reasoner again on the incident's stored evidence and keep a new analysis.

        Alerts that joined the incident since its bundle was sealed are evidence too, merged
        as the analysis an alert's joining schedules merges them: a new bundle when they add
        something, the same bundle when they do not."""
        async with self.database.unit_of_work(write=False) as session:
            incident = await self.incidents.get(session, incident_id)
            joined = await self._joined_alerts(session, incident_id)
            if incident.latest_bundle_id is not None:
                draft = await self.evidence.draft(session, incident.latest_bundle_id)
            else:
                # Never analysed (switched off, or failed before sealing): start from the request.
                request = await self.incidents.stored_request(session, incident_id)
        if incident.latest_bundle_id is None:
            gathered = await self.gatherer.gather(
                incident, request, window=window_of(incident), joined=joined
            )
            draft = self.evidence.seal(gathered.artifacts, collection=gathered.notes)
        elif joined:
            merged = await self.gatherer.with_joined(draft, joined)
            if merged is not None:
                draft = self.evidence.seal(merged.artifacts, collection=merged.notes)
        return await self.analyze_bundle(
            incident, draft, window=window_of(incident), principal=principal, job_id=job_id
        )

    async def queue_reanalysis(self, incident_id: str, *, principal: Principal) -> JobRead:
        """Leave a reanalysis to a runner (``Prefer: respond-async``)."""
        async with self.database.unit_of_work() as session:
            await self.incidents.get(session, incident_id)
            return await self.jobs.enqueue(
                session,
                kind=REANALYZE_JOB,
                incident_id=incident_id,
                payload={},
                by=principal.subject,
            )


def _joined_answer(
    incident: IncidentRead, message: str, *, queued_job: str | None = None, joined: bool = False
) -> IngestOutcome:
    """The answer to an alert that joined ``incident`` (now, or by an earlier delivery)."""
    return IngestOutcome(
        response=IngestIncidentResponse(
            incident_id=incident.id,
            evidence_bundle_id=incident.latest_bundle_id,
            analysis_id=incident.latest_analysis_id,
            status=incident.status,
            message=message,
            alert="joined",
        ),
        created=False,
        queued_job=queued_job,
        joined=joined,
    )
