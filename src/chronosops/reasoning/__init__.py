"""Reasoning: run a reasoner over a bundle and keep the analysis (request and result) for replay.

The built-in reasoner (the pure `analysis` engine) always decides the ranking. A language model
(Gemini, or any OpenAI-compatible server) can add a validated second opinion; every model call
is kept as a prompt trace.
"""

from chronosops.reasoning.errors import AnalysisNotFoundError, PromptTraceNotFoundError
from chronosops.reasoning.models import (
    GeminiClient,
    ModelCall,
    ModelCallError,
    ModelClient,
    ModelReply,
    OpenAICompatibleClient,
)
from chronosops.reasoning.reasoners import BuiltinReasoner, Reasoner
from chronosops.reasoning.schemas import (
    AnalysisRead,
    AnalysisSummary,
    PromptTraceDraft,
    PromptTraceRead,
    PromptTraceSummary,
    Reasoning,
)
from chronosops.reasoning.second_opinion import LanguageModelReasoner
from chronosops.reasoning.service import ReasoningService, prompt_hash

__all__ = [
    "AnalysisNotFoundError",
    "AnalysisRead",
    "AnalysisSummary",
    "BuiltinReasoner",
    "GeminiClient",
    "LanguageModelReasoner",
    "ModelCall",
    "ModelCallError",
    "ModelClient",
    "ModelReply",
    "OpenAICompatibleClient",
    "PromptTraceDraft",
    "PromptTraceNotFoundError",
    "PromptTraceRead",
    "PromptTraceSummary",
    "Reasoner",
    "Reasoning",
    "ReasoningService",
    "prompt_hash",
]
