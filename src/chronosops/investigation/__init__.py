"""Use cases that span domains: the ingest pipeline, reanalysis, the incident detail view."""

from chronosops.investigation.detail import IncidentDetail, IncidentDetails
from chronosops.investigation.ingest import (
    ANALYZED_MESSAGE,
    AnalysisOutcome,
    IngestOutcome,
    IngestPipeline,
    context_of,
    window_of,
)

__all__ = [
    "ANALYZED_MESSAGE",
    "AnalysisOutcome",
    "IncidentDetail",
    "IncidentDetails",
    "IngestOutcome",
    "IngestPipeline",
    "context_of",
    "window_of",
]
