from __future__ import annotations

from chronosops.core.errors import NotFoundError


class AnalysisNotFoundError(NotFoundError):
    code = "analysis-not-found"

    def __init__(self, analysis_id: str) -> None:
        super().__init__(f"Analysis not found: {analysis_id}")


class PromptTraceNotFoundError(NotFoundError):
    code = "prompt-trace-not-found"

    def __init__(self, trace_id: str) -> None:
        super().__init__(f"Prompt trace not found: {trace_id}")
