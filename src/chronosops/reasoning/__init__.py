"""Reasoning: run a reasoner over a bundle and keep the analysis (request and result) for replay."""

from chronosops.reasoning.errors import AnalysisNotFoundError
from chronosops.reasoning.reasoners import BuiltinReasoner, Reasoner
from chronosops.reasoning.schemas import AnalysisRead, AnalysisSummary
from chronosops.reasoning.service import ReasoningService

__all__ = [
    "AnalysisNotFoundError",
    "AnalysisRead",
    "AnalysisSummary",
    "BuiltinReasoner",
    "Reasoner",
    "ReasoningService",
]
