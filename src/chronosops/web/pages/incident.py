"""One incident at a glance: what happened, the evidence, the diagnosis, and its history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import TypeAdapter, ValidationError

from chronosops.core.artifacts import (
    Artifact,
    ChangeEvent,
    LogTemplate,
    MetricSeries,
    OtherEvent,
    ProviderStatus,
    SpanGroup,
)
from chronosops.core.windows import TimeWindow, incident_window
from chronosops.evidence import BundleRead
from chronosops.incidents import IncidentRead
from chronosops.investigation import reanalyze_or_queue
from chronosops.reasoning import AnalysisNotFoundError, AnalysisRead, PromptTraceNotFoundError
from chronosops.web.deps import ServicesDep, remember_incident
from chronosops.web.pages.charts import Chart, metric_chart
from chronosops.web.pages.rendering import anchor, render
from chronosops.web.pages.session import (
    AdminPage,
    AnalystAction,
    CheckedForm,
    PageRoute,
    ViewerPage,
)

log = structlog.get_logger("chronosops.console")

# The alerts the page lists; an incident of a large group lists the rest under the API.
ALERTS_SHOWN = 200

router = APIRouter(route_class=PageRoute)

ARTIFACT = TypeAdapter[Artifact](Artifact)
MAX_CHARTS = 24


@dataclass(frozen=True)
class CitedArtifact:
    artifact_id: str
    anchor: str | None
    title: str


@dataclass(frozen=True)
class Evidence:
    bundle: BundleRead
    window: TimeWindow
    charts: list[tuple[MetricSeries, Chart]]
    more_metrics: list[MetricSeries]
    logs: list[LogTemplate]
    spans: list[SpanGroup]
    changes: list[ChangeEvent]
    events: list[OtherEvent]
    provider_statuses: list[ProviderStatus]
    unreadable: list[dict[str, Any]]
    titles: dict[str, str]

    def cite(self, refs: Iterable[str]) -> list[CitedArtifact]:
        return [
            CitedArtifact(
                artifact_id=ref,
                anchor=anchor(ref) if ref in self.titles else None,
                title=self.titles.get(ref, ref),
            )
            for ref in refs
        ]


def _window_of(incident: IncidentRead) -> TimeWindow:
    return incident_window(
        start=incident.timeline.start,
        end=incident.timeline.end,
        minutes_before=incident.collection_context.window_minutes_before,
        minutes_after=incident.collection_context.window_minutes_after,
    )


def _cited(analysis: AnalysisRead | None) -> dict[str, int]:
    """How often the analysis cites each artifact: the most cited evidence is shown first."""
    counts: dict[str, int] = {}
    if analysis is None:
        return counts
    result = analysis.result
    for item in [*result.get("hypotheses", []), *result.get("signals", [])]:
        for ref in item.get("evidenceRefs", []):
            counts[ref] = counts.get(ref, 0) + 1
    return counts


def evidence_view(
    incident: IncidentRead,
    bundle: BundleRead,
    *,
    window: TimeWindow,
    analysis: AnalysisRead | None,
) -> Evidence:
    metrics: list[MetricSeries] = []
    logs: list[LogTemplate] = []
    spans: list[SpanGroup] = []
    changes: list[ChangeEvent] = []
    events: list[OtherEvent] = []
    provider_statuses: list[ProviderStatus] = []
    unreadable: list[dict[str, Any]] = []
    titles: dict[str, str] = {}
    for raw in bundle.artifacts:
        try:
            artifact = ARTIFACT.validate_python(raw)
        except ValidationError:
            # Redaction can turn a typed value into "[REDACTED]"; show such an artifact raw.
            unreadable.append(raw)
            continue
        titles[artifact.artifact_id] = artifact.title
        if isinstance(artifact, MetricSeries):
            metrics.append(artifact)
        elif isinstance(artifact, LogTemplate):
            logs.append(artifact)
        elif isinstance(artifact, SpanGroup):
            spans.append(artifact)
        elif isinstance(artifact, ChangeEvent):
            changes.append(artifact)
        elif isinstance(artifact, ProviderStatus):
            provider_statuses.append(artifact)
        elif isinstance(artifact, OtherEvent):
            events.append(artifact)
        # Log statements (per operation) back the analysis's code-path reasons; they are cited
        # by title, and the templates above already show the lines themselves.
    cited = _cited(analysis)
    metrics.sort(key=lambda m: (-cited.get(m.artifact_id, 0), m.name, m.artifact_id))
    logs.sort(key=lambda t: (-cited.get(t.artifact_id, 0), -t.error_count, -t.count))
    spans.sort(key=lambda s: (-s.error_count, -(s.p95_ms or 0.0), s.service, s.operation))
    changes.sort(key=lambda c: c.timestamp)
    events.sort(key=lambda e: e.timestamp)
    end = incident.timeline.resolved_at or incident.timeline.end
    charts = [
        (
            series,
            metric_chart(
                series,
                window=window,
                incident_start=incident.timeline.start,
                incident_end=end,
                changes=changes,
            ),
        )
        for series in metrics[:MAX_CHARTS]
    ]
    return Evidence(
        bundle=bundle,
        window=window,
        charts=charts,
        more_metrics=metrics[MAX_CHARTS:],
        logs=logs,
        spans=spans,
        changes=changes,
        events=events,
        provider_statuses=provider_statuses,
        unreadable=unreadable,
        titles=titles,
    )


@router.get("/incidents/{incident_id}", summary="Incident detail")
async def incident_detail(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: ViewerPage,
    analysis_id: Annotated[str | None, Query(alias="analysis", max_length=64)] = None,
) -> Response:
    remember_incident(request, incident_id)
    admin = user.is_admin
    async with services.database.unit_of_work(write=False) as session:
        detail = await services.details.get(session, incident_id, with_source_payload=admin)
        analysis = detail.latest_analysis
        if analysis_id and (analysis is None or analysis.analysis_id != analysis_id):
            analysis = await services.reasoning.get(session, analysis_id)
            if analysis.incident_id != incident_id:
                raise AnalysisNotFoundError(analysis_id)
        bundle_id = (analysis.bundle_id if analysis else None) or detail.incident.latest_bundle_id
        bundle = (
            await services.evidence.get(session, bundle_id, redact=not admin) if bundle_id else None
        )
        verification = await services.audit.verify_incident(session, incident_id)
        audit_events = await services.audit.events_for_incident(session, incident_id)
        traces = await services.reasoning.traces_for_incident(session, incident_id)
        postmortems = await services.postmortems.for_incident(session, incident_id)
        investigations = await services.investigations.for_incident(session, incident_id)
        story = await services.timelines.build(session, incident_id)
        deliveries = await services.notifications.for_incident(session, incident_id)
        grouping = services.pipeline.grouping
        alerts = (
            await grouping.of_incident(session, incident_id, limit=ALERTS_SHOWN) if grouping else []
        )
        alert_count = await grouping.count(session, incident_id) if grouping else 0
    incident = detail.incident
    link = next((b for b in detail.bundles if b.bundle_id == bundle_id), None)
    window = (
        TimeWindow(start=link.window_start, end=link.window_end) if link else _window_of(incident)
    )
    evidence = evidence_view(incident, bundle, window=window, analysis=analysis) if bundle else None
    context = {
        "incident": incident,
        "detail": detail,
        "analysis": analysis,
        "result": analysis.result if analysis else None,
        "is_latest": analysis is not None and analysis.analysis_id == incident.latest_analysis_id,
        "evidence": evidence,
        "window": window,
        "verification": verification,
        "audit_events": audit_events,
        "traces": traces,
        "postmortems": postmortems,
        "investigations": investigations,
        "refresh_seconds": 3,
        "story": story.entries,
        "deliveries": deliveries,
        "alerts": alerts,
        "alert_count": alert_count,
        "notice": _notice(request),
    }
    return render(request, "incident/detail.html", context, user=user)


def _notice(request: Request) -> str | None:
    return {
        "created": "Incident ingested.",
        "duplicate": "This report matched an incident that was already open; nothing new was stored.",
        "acknowledged": "Acknowledged: you are on it.",
        "resolved": "Resolved.",
        "reopened": "Reopened: the incident is triggered again.",
        "assigned": "Assignee changed.",
        "noted": "Note added.",
        "reanalyzed": "Re-analysed from the stored evidence: the diagnosis below is the new analysis.",
        "reanalysis-queued": "Re-analysis queued: it runs after the incident's pending work "
        "(or once its evidence is collected); this page shows the new diagnosis when it is done.",
        "scenario": "Scenario analysed. Its evidence is synthetic; compare the diagnosis with the "
        "scenario's known root cause.",
    }.get(request.query_params.get("done", ""))


@router.get(
    "/incidents/{incident_id}/prompt-traces/{trace_id}", summary="One language-model call (admins)"
)
async def prompt_trace(
    incident_id: str, trace_id: str, request: Request, services: ServicesDep, user: AdminPage
) -> Response:
    remember_incident(request, incident_id)
    async with services.database.unit_of_work(write=False) as session:
        incident = await services.incidents.get(session, incident_id)
        trace = await services.reasoning.trace(session, trace_id)
    if trace.incident_id != incident_id:
        raise PromptTraceNotFoundError(trace_id)
    return render(
        request, "incident/prompt_trace.html", {"incident": incident, "trace": trace}, user=user
    )


@router.post("/incidents/{incident_id}/reanalyze", summary="Re-analyse an incident")
async def reanalyze(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: AnalystAction,
    _form: CheckedForm,
) -> Response:
    remember_incident(request, incident_id)
    done = await reanalyze_or_queue(
        services.pipeline, incident_id, principal=user.principal, asked_async=False
    )
    if done.outcome is None:
        assert done.job is not None
        log.info("console.reanalysis_queued", incident_id=incident_id, job_id=done.job.id)
        return RedirectResponse(
            f"/incidents/{incident_id}?done=reanalysis-queued#diagnosis", status_code=303
        )
    log.info(
        "console.reanalyzed", incident_id=incident_id, analysis_id=done.outcome.analysis.analysis_id
    )
    return RedirectResponse(f"/incidents/{incident_id}?done=reanalyzed#diagnosis", status_code=303)
