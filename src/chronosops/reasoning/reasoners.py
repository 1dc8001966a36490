"""Reasoners: whatever turns an `AnalysisInput` into an `AnalysisResult`.

The built-in reasoner is the default and needs nothing but the evidence. Others (an LLM) sit
behind the same protocol and are checked against the built-in result.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from chronosops.analysis import ENGINE, AnalysisInput, AnalysisResult, analyze

# Below this many artifacts the engine answers in well under a millisecond and a thread hop
# would cost more than it saves; above it, keep the event loop free for other requests.
_THREAD_THRESHOLD = 200


class Reasoner(Protocol):
    name: str

    async def reason(self, request: AnalysisInput) -> AnalysisResult:
        """Rank hypotheses for the evidence in ``request``."""
        ...


class BuiltinReasoner:
    name = ENGINE

    async def reason(self, request: AnalysisInput) -> AnalysisResult:
        if len(request.artifacts) < _THREAD_THRESHOLD:
            return analyze(request)
        return await asyncio.to_thread(analyze, request)
