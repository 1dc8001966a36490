"""Reasoners: whatever turns an `AnalysisInput` into an `AnalysisResult`.

The built-in reasoner is the default and needs nothing but the evidence. Others (an LLM) sit
behind the same protocol and are checked against the built-in result.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from chronosops.analysis import ENGINE, AnalysisInput, analyze
from chronosops.reasoning.schemas import Reasoning

# Below this many artifacts the engine answers in well under a millisecond and a thread hop
# would cost more than it saves; above it, keep the event loop free for other requests.
_THREAD_THRESHOLD = 200


class Reasoner(Protocol):
    name: str

    async def reason(self, request: AnalysisInput) -> Reasoning:
        """Rank hypotheses for the evidence in ``request``, with the model calls made if any."""
        ...


class BuiltinReasoner:
    name = ENGINE

    async def reason(self, request: AnalysisInput) -> Reasoning:
        if len(request.artifacts) < _THREAD_THRESHOLD:
            return Reasoning(result=analyze(request))
        return Reasoning(result=await asyncio.to_thread(analyze, request))
