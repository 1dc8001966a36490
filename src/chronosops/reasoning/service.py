from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.analysis import AnalysisInput, AnalysisResult
from chronosops.core.canonical import content_hash, sha256_hex
from chronosops.core.clock import Clock
from chronosops.core.ids import IdFactory, analysis_id
from chronosops.reasoning.errors import AnalysisNotFoundError, PromptTraceNotFoundError
from chronosops.reasoning.reasoners import Reasoner
from chronosops.reasoning.repository import AnalysisRepository
from chronosops.reasoning.schemas import (
    AnalysisRead,
    AnalysisSummary,
    PromptTraceDraft,
    PromptTraceRead,
    PromptTraceSummary,
    Reasoning,
)
from chronosops.reasoning.tables import Analysis, PromptTrace


def _summary_fields(row: Analysis) -> dict[str, Any]:
    return {
        "analysis_id": row.id,
        "incident_id": row.incident_id,
        "bundle_id": row.bundle_id,
        "reasoner": row.reasoner,
        "engine_version": row.engine_version,
        "overall_confidence": row.overall_confidence,
        "inconclusive": row.inconclusive,
        "top_hypothesis_id": row.top_hypothesis_id,
        "culprit_service": row.culprit_service,
        "primary_signal": row.primary_signal,
        "completeness_score": row.completeness_score,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }


def _summary_fields_of(row: dict[str, Any]) -> dict[str, Any]:
    """The summary of an analysis from the values just inserted."""
    return {
        "analysis_id": row["id"],
        **{
            key: row[key]
            for key in (
                "incident_id",
                "bundle_id",
                "reasoner",
                "engine_version",
                "overall_confidence",
                "inconclusive",
                "top_hypothesis_id",
                "culprit_service",
                "primary_signal",
                "completeness_score",
                "created_at",
                "created_by",
            )
        },
    }


def _trace_summary_fields(row: PromptTrace) -> dict[str, Any]:
    return {
        "trace_id": row.id,
        "analysis_id": row.analysis_id,
        "incident_id": row.incident_id,
        "provider": row.provider,
        "model": row.model,
        "prompt_version": row.prompt_version,
        "attempt": row.attempt,
        "status": row.status,
        "error": row.error,
        "prompt_hash": row.prompt_hash,
        "request_hash": row.request_hash,
        "response_hash": row.response_hash,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost_usd": row.cost_usd,
        "latency_ms": row.latency_ms,
        "created_at": row.created_at,
    }


def prompt_hash(system: str, user: str) -> str:
    """SHA-256 of the prompt exactly as sent (reference spec §6.7)."""
    return sha256_hex(f"{system}\n---\n{user}".encode())


def _json_hash(value: Any) -> str:
    try:
        return content_hash(value)
    except Exception:  # noqa: BLE001 — a vendor body with values RFC 8785 refuses still needs a hash
        return sha256_hex(json.dumps(value, sort_keys=True, default=str).encode())


class ReasoningService:
    def __init__(self, *, reasoner: Reasoner, clock: Clock, ids: IdFactory) -> None:
        self.reasoner = reasoner
        self.clock = clock
        self.ids = ids

    async def reason(self, request: AnalysisInput) -> Reasoning:
        return await self.reasoner.reason(request)

    async def store(
        self,
        session: AsyncSession,
        *,
        incident_id: str,
        bundle_id: str | None,
        request: AnalysisInput,
        reasoning: Reasoning,
        by: str | None,
    ) -> tuple[AnalysisRead, list[PromptTraceSummary]]:
        """Store the analysis and the model calls behind it; the caller audits both."""
        result: AnalysisResult = reasoning.result
        top = result.hypotheses[0]
        repository = AnalysisRepository(session)
        row = {
            "id": analysis_id(self.ids.new()),
            "incident_id": incident_id,
            "bundle_id": bundle_id,
            "reasoner": self.reasoner.name,
            "engine_version": result.engine_version,
            # The bundle id stands in for the artifacts: they are stored once, in the bundle.
            "request": {
                "reasoner": self.reasoner.name,
                "bundleId": bundle_id,
                "context": request.context.model_dump(mode="json"),
                # Only with a history: the statement history changes as incidents arrive, so
                # an analysis says which ones it was read against (analyses without one keep
                # the request they always had).
                **(
                    {"historyIncidents": list(request.history_incidents)}
                    if request.history_incidents
                    else {}
                ),
            },
            "result": result.model_dump(mode="json"),
            "overall_confidence": result.overall_confidence,
            "inconclusive": result.inconclusive,
            "top_hypothesis_id": top.id,
            "culprit_service": result.culprit_service,
            "primary_signal": result.explainability.primary_signal,
            "completeness_score": result.completeness.score,
            "created_at": self.clock.now(),
            "created_by": by,
        }
        await repository.insert(row)
        traces = [await self._store_trace(repository, row, draft) for draft in reasoning.traces]
        return AnalysisRead.model_validate(
            {**_summary_fields_of(row), "request": row["request"], "result": row["result"]}
        ), traces

    async def store_traces(
        self,
        session: AsyncSession,
        *,
        analysis_id_: str,
        incident_id: str,
        drafts: Sequence[PromptTraceDraft],
    ) -> list[PromptTraceSummary]:
        """Model calls made for a stored analysis after it was reasoned (the postmortem's prose);
        the caller audits them as it audits the reasoner's."""
        repository = AnalysisRepository(session)
        owner = {"id": analysis_id_, "incident_id": incident_id}
        return [await self._store_trace(repository, owner, draft) for draft in drafts]

    async def _store_trace(
        self, repository: AnalysisRepository, analysis: dict[str, Any], draft: PromptTraceDraft
    ) -> PromptTraceSummary:
        trace = PromptTrace(
            id=self.ids.new(),
            analysis_id=analysis["id"],
            incident_id=analysis["incident_id"],
            provider=draft.provider,
            model=draft.model,
            prompt_version=draft.prompt_version,
            attempt=draft.attempt,
            status=draft.status,
            error=draft.error,
            system_prompt=draft.system_prompt,
            user_prompt=draft.user_prompt,
            request_json=draft.request_json,
            response_json=draft.response_json,
            response_text=draft.response_text,
            prompt_hash=prompt_hash(draft.system_prompt, draft.user_prompt),
            request_hash=_json_hash(draft.request_json),
            response_hash=_json_hash(draft.response_json)
            if draft.response_json is not None
            else None,
            input_tokens=draft.input_tokens,
            output_tokens=draft.output_tokens,
            cost_usd=draft.cost_usd,
            latency_ms=draft.latency_ms,
            created_at=self.clock.now(),
        )
        await repository.add_trace(trace)
        return PromptTraceSummary.model_validate(_trace_summary_fields(trace))

    async def get(self, session: AsyncSession, analysis_id_: str) -> AnalysisRead:
        row = await AnalysisRepository(session).get(analysis_id_)
        if row is None:
            raise AnalysisNotFoundError(analysis_id_)
        return AnalysisRead.model_validate(
            {**_summary_fields(row), "request": row.request, "result": row.result}
        )

    async def for_incident(
        self, session: AsyncSession, incident_id: str, *, limit: int = 20
    ) -> list[AnalysisSummary]:
        rows = await AnalysisRepository(session).for_incident(incident_id, limit=limit)
        return [AnalysisSummary.model_validate(_summary_fields(row)) for row in rows]

    async def traces_for_incident(
        self, session: AsyncSession, incident_id: str
    ) -> list[PromptTraceSummary]:
        rows = await AnalysisRepository(session).traces_for_incident(incident_id)
        return [PromptTraceSummary.model_validate(_trace_summary_fields(row)) for row in rows]

    async def trace(self, session: AsyncSession, trace_id: str) -> PromptTraceRead:
        row = await AnalysisRepository(session).trace(trace_id)
        if row is None:
            raise PromptTraceNotFoundError(trace_id)
        return PromptTraceRead.model_validate(
            {
                **_trace_summary_fields(row),
                "system_prompt": row.system_prompt,
                "user_prompt": row.user_prompt,
                "request_json": row.request_json,
                "response_json": row.response_json,
                "response_text": row.response_text,
            }
        )
