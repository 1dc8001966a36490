"""Use cases that span domains: the ingest pipeline, reanalysis, the incident detail view."""

from chronosops.investigation.collection import EvidenceGatherer, Gathered
from chronosops.investigation.detail import IncidentDetail, IncidentDetails
from chronosops.investigation.ingest import (
    ANALYZED_MESSAGE,
    AnalysisOutcome,
    IngestOutcome,
    IngestPipeline,
    context_of,
    window_of,
)
from chronosops.investigation.scenarios import ScenarioRun, run_scenario

__all__ = [
    "ANALYZED_MESSAGE",
    "AnalysisOutcome",
    "EvidenceGatherer",
    "Gathered",
    "IncidentDetail",
    "IncidentDetails",
    "IngestOutcome",
    "IngestPipeline",
    "ScenarioRun",
    "context_of",
    "run_scenario",
    "window_of",
]
