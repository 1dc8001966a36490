"""Re-analysing an incident: at once when its stored evidence is all it needs, else as a job.

``POST /v1/incidents/{id}/reanalyze`` keeps its synchronous answer (``201`` with the new
analysis) when the incident has a sealed bundle and no other work of it is pending: running the
reasoner over stored evidence finishes at once. It is left to a ``reanalyze`` job (``202``)
when the client sends ``Prefer: respond-async``, when the incident never got a bundle and its
evidence must be collected from backends (which may wait), or when an analysis, re-analysis or
investigation of the incident is running (one at a time per incident: the re-analysis runs
after it; a notification being sent does not count). An analysis
or re-analysis already queued and not started covers the request: it is reused. A job is
retried with backoff and, once failed, listed and retryable like every other.

Alerts that joined the incident after its bundle was sealed are part of the evidence: their
evidence is merged into the stored bundle the way the analysis an alert's joining schedules
merges it (`EvidenceGatherer.with_joined`), giving a new content-addressed bundle when it adds
something. The debounced analysis still queued for them is taken and done by this request.

An analysis queued for later does not make the caller wait for it when the stored evidence is
all it needs (a retry after a failure): the request claims it, as a runner would, and does its
work now.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.auth import Principal
from chronosops.incidents import IncidentRead
from chronosops.investigation.ingest import (
    ANALYZE_JOB,
    REANALYZE_JOB,
    AnalysisOutcome,
    IngestPipeline,
    JobLostError,
)
from chronosops.investigation.loop import INVESTIGATE_JOB
from chronosops.jobs import JobRead

# Jobs that analyse the incident: one queued and not started will analyse what is stored by
# the time it runs, so it covers a reanalysis asked for meanwhile.
ANALYSES = (ANALYZE_JOB, REANALYZE_JOB)


@dataclass(frozen=True)
class Reanalysis:
    incident: IncidentRead
    # The new analysis, when it ran in the call; else the job that will run it.
    outcome: AnalysisOutcome | None = None
    job: JobRead | None = None


async def reanalyze_or_queue(
    pipeline: IngestPipeline, incident_id: str, *, principal: Principal, asked_async: bool
) -> Reanalysis:
    async with pipeline.database.unit_of_work() as session:
        incident = await pipeline.incidents.get(session, incident_id)
        running = await pipeline.jobs.pending(
            session, incident_id, kinds=(*ANALYSES, INVESTIGATE_JOB), states=("running",)
        ) or await pipeline.jobs.pending(
            # An investigation is running from its start, before a runner takes its job: a
            # re-analysis done meanwhile would overlap the investigation's first iteration.
            session,
            incident_id,
            kinds=(INVESTIGATE_JOB,),
            states=("queued",),
        )
        queued = await pipeline.jobs.pending(
            session, incident_id, kinds=ANALYSES, states=("queued",)
        )
        if asked_async or running is not None:
            job = queued or await _enqueue(pipeline, session, incident_id, principal=principal)
            return Reanalysis(incident=incident, job=job)
        if incident.latest_bundle_id is None:
            request = await pipeline.incidents.stored_request(session, incident_id)
            if pipeline.gatherer.needs_collection(request):
                job = queued or await _enqueue(pipeline, session, incident_id, principal=principal)
                return Reanalysis(incident=incident, job=job)
        # A job queued for later is done here and now: a retry after a failure, or the analysis
        # an alert's joining scheduled (debounced) — the reanalysis takes in the joined alerts'
        # evidence as it would. Taken as a runner takes it, so no runner runs it too.
        held = await pipeline.jobs.claim(session, queued.id) if queued is not None else None
        if queued is not None and held is None:
            return Reanalysis(incident=incident, job=queued)
    try:
        outcome = await pipeline.reanalyze(
            incident_id, principal=principal, job_id=held.id if held is not None else None
        )
    except JobLostError:
        assert held is not None
        return Reanalysis(incident=incident, job=held)
    except BaseException as error:
        if held is not None:
            async with pipeline.database.unit_of_work() as session:
                await pipeline.jobs.fail(session, held.id, f"{type(error).__name__}: {error}")
        raise
    return Reanalysis(incident=incident, outcome=outcome)


async def _enqueue(
    pipeline: IngestPipeline, session: AsyncSession, incident_id: str, *, principal: Principal
) -> JobRead:
    return await pipeline.jobs.enqueue(
        session, kind=REANALYZE_JOB, incident_id=incident_id, payload={}, by=principal.subject
    )
