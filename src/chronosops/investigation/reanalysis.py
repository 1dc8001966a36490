"""Re-analysing an incident: at once when its stored evidence is all it needs, else as a job.

``POST /v1/incidents/{id}/reanalyze`` keeps its synchronous answer (``201`` with the new
analysis) when the incident has a sealed bundle and no other work of it is pending: running the
reasoner over stored evidence finishes at once. It is left to a ``reanalyze`` job (``202``)
when the client sends ``Prefer: respond-async``, when the incident never got a bundle (its
evidence must be collected first, which may wait on backends), or when a job of the incident
is queued or running (one piece of work at a time per incident: the re-analysis runs after
it). A job is retried with backoff and, once failed, listed and retryable like every other.
An analysis or re-analysis already queued and not started covers the request: it is reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from chronosops.auth import Principal
from chronosops.incidents import IncidentRead
from chronosops.investigation.ingest import (
    ANALYZE_JOB,
    REANALYZE_JOB,
    AnalysisOutcome,
    IngestPipeline,
)
from chronosops.jobs import JobRead


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
        pending = await pipeline.jobs.pending(session, incident_id)
        if asked_async or incident.latest_bundle_id is None or pending is not None:
            for kind in (REANALYZE_JOB, ANALYZE_JOB):
                # Not started yet, so it will analyse what is stored by then: it covers this.
                queued = await pipeline.jobs.pending(session, incident_id, kind=kind)
                if queued is not None and queued.state == "queued":
                    return Reanalysis(incident=incident, job=queued)
            job = await pipeline.jobs.enqueue(
                session,
                kind=REANALYZE_JOB,
                incident_id=incident_id,
                payload={},
                by=principal.subject,
            )
            return Reanalysis(incident=incident, job=job)
    outcome = await pipeline.reanalyze(incident_id, principal=principal)
    return Reanalysis(incident=incident, outcome=outcome)
