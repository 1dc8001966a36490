"""The pure analysis engine: signals from evidence, scored against the hypothesis catalog."""

from chronosops.analysis.catalog import BY_ID, CATALOG, UNKNOWN, Hypothesis
from chronosops.analysis.completeness import completeness
from chronosops.analysis.engine import ENGINE, ENGINE_VERSION, analyze
from chronosops.analysis.models import (
    AnalysisInput,
    AnalysisResult,
    Completeness,
    Explainability,
    IncidentContext,
    MissingEvidence,
    OpinionHypothesis,
    RankedHypothesis,
    RecommendedAction,
    SecondOpinion,
    Signal,
)
from chronosops.analysis.statistics import quantile
from chronosops.analysis.templates import log_template

__all__ = [
    "BY_ID",
    "CATALOG",
    "ENGINE",
    "ENGINE_VERSION",
    "UNKNOWN",
    "AnalysisInput",
    "AnalysisResult",
    "Completeness",
    "Explainability",
    "Hypothesis",
    "IncidentContext",
    "MissingEvidence",
    "OpinionHypothesis",
    "RankedHypothesis",
    "RecommendedAction",
    "SecondOpinion",
    "Signal",
    "analyze",
    "completeness",
    "log_template",
    "quantile",
]
