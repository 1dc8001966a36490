from __future__ import annotations

from chronosops.core.errors import NotFoundError


class AnalysisNotFoundError(NotFoundError):
    code = "analysis-not-found"

    def __init__(self, analysis_id: str) -> None:
        super().__init__(f"Analysis not found: {analysis_id}")
