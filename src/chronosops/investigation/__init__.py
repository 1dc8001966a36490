"""Use cases that span domains: the ingest pipeline, reanalysis, the incident detail view,
and vendor deliveries from the native sources."""

from chronosops.investigation.collection import EvidenceGatherer, Gathered
from chronosops.investigation.detail import IncidentDetail, IncidentDetails
from chronosops.investigation.explanations import Explanations
from chronosops.investigation.exports import (
    ExportVerification,
    IncidentExports,
    UnreadableExportError,
    export_zip,
    read_export,
    verify_export,
)
from chronosops.investigation.ingest import (
    ANALYZED_MESSAGE,
    AnalysisMode,
    AnalysisOutcome,
    IngestOutcome,
    IngestPipeline,
    context_of,
    window_of,
)
from chronosops.investigation.jobs import JobBusyError, JobRunner, RunResult
from chronosops.investigation.lifecycle import IncidentLifecycle
from chronosops.investigation.loop import (
    Gate,
    InvestigateRequest,
    InvestigationNotFoundError,
    InvestigationRead,
    InvestigationRunningError,
    Investigations,
)
from chronosops.investigation.notify import NOTIFY_JOB, Notifier
from chronosops.investigation.once import Answer, Delivery, IdempotencyKey, Once
from chronosops.investigation.postmortem_prose import ModelProseWriter
from chronosops.investigation.reanalysis import Reanalysis, reanalyze_or_queue
from chronosops.investigation.scenarios import ScenarioRun, run_scenario
from chronosops.investigation.silencing import Silencing
from chronosops.investigation.timeline import IncidentTimelines, Timeline, TimelineEntry
from chronosops.investigation.webhooks import (
    EventResult,
    SourceIntake,
    delivery_id_headers,
)

__all__ = [
    "ANALYZED_MESSAGE",
    "NOTIFY_JOB",
    "AnalysisMode",
    "AnalysisOutcome",
    "Answer",
    "Delivery",
    "EventResult",
    "EvidenceGatherer",
    "Explanations",
    "ExportVerification",
    "Gate",
    "Gathered",
    "IdempotencyKey",
    "IncidentDetail",
    "IncidentDetails",
    "IncidentExports",
    "IncidentLifecycle",
    "IncidentTimelines",
    "IngestOutcome",
    "IngestPipeline",
    "InvestigateRequest",
    "InvestigationNotFoundError",
    "InvestigationRead",
    "InvestigationRunningError",
    "Investigations",
    "JobBusyError",
    "JobRunner",
    "ModelProseWriter",
    "Notifier",
    "Once",
    "Reanalysis",
    "RunResult",
    "ScenarioRun",
    "Silencing",
    "SourceIntake",
    "Timeline",
    "TimelineEntry",
    "UnreadableExportError",
    "context_of",
    "delivery_id_headers",
    "export_zip",
    "read_export",
    "reanalyze_or_queue",
    "run_scenario",
    "verify_export",
    "window_of",
]
