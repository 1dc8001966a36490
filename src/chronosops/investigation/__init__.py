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
    AnalysisOutcome,
    IngestOutcome,
    IngestPipeline,
    context_of,
    window_of,
)
from chronosops.investigation.scenarios import ScenarioRun, run_scenario
from chronosops.investigation.webhooks import (
    EventResult,
    Receipt,
    SourceIntake,
    delivery_id_headers,
)

__all__ = [
    "ANALYZED_MESSAGE",
    "AnalysisOutcome",
    "EventResult",
    "EvidenceGatherer",
    "Explanations",
    "ExportVerification",
    "Gathered",
    "IncidentDetail",
    "IncidentDetails",
    "IncidentExports",
    "IngestOutcome",
    "IngestPipeline",
    "Receipt",
    "ScenarioRun",
    "SourceIntake",
    "UnreadableExportError",
    "context_of",
    "delivery_id_headers",
    "export_zip",
    "read_export",
    "run_scenario",
    "verify_export",
    "window_of",
]
