"""A language model's second opinion, checked against the evidence, beside the built-in ranking.

The built-in engine always answers first; its ranking is what the analysis reports, because it
is computed from the evidence and can be replayed. The model is asked to rank the same
candidates over the same (redacted) evidence; its answer is validated — hypothesis ids must be
candidates, every evidence reference must exist in the bundle, confidences must be
probabilities — and kept as `secondOpinion` with its narrative and disagreements. Any failure
(timeout, 429 after bounded retries, malformed output) leaves the built-in result standing and
says why. Every call is kept as a prompt trace.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chronosops.analysis import (
    AnalysisInput,
    AnalysisResult,
    OpinionHypothesis,
    SecondOpinion,
    analyze,
)
from chronosops.config import LlmSettings
from chronosops.reasoning.models import ModelCall, ModelCallError, ModelClient, ModelReply
from chronosops.reasoning.prompt import PROMPT_VERSION, Prompt, build_prompt
from chronosops.reasoning.schemas import PromptTraceDraft, Reasoning, TraceStatus

MAX_BACKOFF_SECONDS = 8.0


class _AnswerHypothesis(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str
    confidence: float = Field(ge=0, le=1)
    rationale: str = Field(default="", max_length=4000)
    evidence_refs: list[str] = Field(default_factory=list, alias="evidenceRefs")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    hypotheses: list[_AnswerHypothesis] = Field(min_length=1)
    narrative: str = Field(default="", max_length=8000)
    disagreements: list[str] = Field(default_factory=list)


class InvalidAnswerError(Exception):
    pass


def _strip_fences(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped.strip()


def check_answer(
    text: str, prompt: Prompt
) -> tuple[list[OpinionHypothesis], str, list[str], list[str]]:
    """Validate the model's answer; return (hypotheses, narrative, disagreements, dropped)."""
    try:
        raw = json.loads(_strip_fences(text))
    except json.JSONDecodeError as exc:
        raise InvalidAnswerError(f"not JSON: {exc}") from None
    try:
        answer = _Answer.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidAnswerError(f"does not match the schema: {problems}") from None
    dropped: list[str] = []
    kept: list[OpinionHypothesis] = []
    seen: set[str] = set()
    for hypothesis in answer.hypotheses:
        if hypothesis.id not in prompt.candidates:
            dropped.append(f"hypothesis {hypothesis.id!r} is not one of the candidates")
            continue
        if hypothesis.id in seen:
            dropped.append(f"hypothesis {hypothesis.id!r} ranked twice")
            continue
        seen.add(hypothesis.id)
        refs = []
        for ref in hypothesis.evidence_refs:
            if ref in prompt.artifact_ids:
                refs.append(ref)
            else:
                dropped.append(
                    f"{hypothesis.id}: evidence ref {ref!r} does not exist in the bundle"
                )
        kept.append(
            OpinionHypothesis(
                id=hypothesis.id,
                confidence=round(hypothesis.confidence, 4),
                rationale=hypothesis.rationale[:1200],
                evidence_refs=refs,
            )
        )
    if not kept:
        raise InvalidAnswerError("no hypothesis survived validation: " + "; ".join(dropped))
    return kept, answer.narrative[:2000], [d[:500] for d in answer.disagreements[:5]], dropped


class LanguageModelReasoner:
    def __init__(self, client: ModelClient, *, settings: LlmSettings) -> None:
        self.client = client
        self.settings = settings
        self.name = client.provider

    def _cost(self, reply_in: int, reply_out: int) -> float:
        return round(
            reply_in / 1e6 * self.settings.price_input_per_mtok
            + reply_out / 1e6 * self.settings.price_output_per_mtok,
            6,
        )

    async def reason(self, request: AnalysisInput) -> Reasoning:
        baseline = await asyncio.to_thread(analyze, request)
        prompt = build_prompt(request, baseline, max_chars=self.settings.max_prompt_chars)
        call = ModelCall(
            system=prompt.system,
            user=prompt.user,
            schema=prompt.schema,
            max_output_tokens=self.settings.max_output_tokens,
            timeout_seconds=self.settings.timeout_seconds,
        )
        traces: list[PromptTraceDraft] = []
        failure = "no attempt was made"
        started = time.perf_counter()
        for attempt in range(1, self.settings.max_retries + 2):
            reply: ModelReply | None = None
            try:
                # The client's own timeout may not cover every stage (DNS, a slow body); this does.
                reply = await asyncio.wait_for(
                    self.client.complete(call), self.settings.timeout_seconds
                )
                hypotheses, narrative, disagreements, dropped = check_answer(reply.text, prompt)
            except (ModelCallError, TimeoutError, InvalidAnswerError) as error:
                failure, retryable, retry_after, response_json = self._describe(error, attempt)
                traces.append(
                    self._trace(
                        prompt,
                        call,
                        attempt,
                        reply,
                        "error" if reply is None else "invalid",
                        failure,
                        response_json,
                    )
                )
                if not retryable or attempt > self.settings.max_retries:
                    break
                await asyncio.sleep(
                    min(retry_after or 0.5 * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
                )
                continue
            traces.append(
                self._trace(prompt, call, attempt, reply, "ok", None, reply.response_json)
            )
            return Reasoning(
                result=self._with_opinion(
                    baseline,
                    traces,
                    started,
                    SecondOpinion(
                        provider=self.client.provider,
                        model=reply.model,
                        status="used",
                        narrative=narrative or None,
                        hypotheses=hypotheses,
                        agrees_on_top=hypotheses[0].id == baseline.hypotheses[0].id,
                        disagreements=self._disagreements(baseline, hypotheses, disagreements),
                        dropped=dropped,
                    ),
                ),
                traces=traces,
            )
        return Reasoning(
            result=self._with_opinion(
                baseline,
                traces,
                started,
                SecondOpinion(
                    provider=self.client.provider,
                    model=self.client.model,
                    status="failed",
                    failure=f"{failure}; the built-in analysis stands",
                ),
            ),
            traces=traces,
        )

    def _describe(self, error: Exception, attempt: int) -> tuple[str, bool, float | None, Any]:
        if isinstance(error, ModelCallError):
            return (
                f"attempt {attempt}: {error}",
                error.retryable,
                error.retry_after,
                error.response_json,
            )
        if isinstance(error, TimeoutError):
            return (
                f"attempt {attempt}: no answer within {self.settings.timeout_seconds:g} s",
                True,
                None,
                None,
            )
        # A malformed answer may be a fluke of sampling: worth one more try within the budget.
        return f"attempt {attempt}: the answer {error}", True, None, None

    def _trace(
        self,
        prompt: Prompt,
        call: ModelCall,
        attempt: int,
        reply: ModelReply | None,
        status: TraceStatus,
        error: str | None,
        response_json: Any,
    ) -> PromptTraceDraft:
        input_tokens = reply.input_tokens if reply else 0
        output_tokens = reply.output_tokens if reply else 0
        return PromptTraceDraft(
            provider=self.client.provider,
            model=reply.model if reply else self.client.model,
            prompt_version=PROMPT_VERSION,
            attempt=attempt,
            system_prompt=prompt.system,
            user_prompt=prompt.user,
            request_json=reply.request_json
            if reply
            else {
                "model": self.client.model,
                "system": call.system,
                "user": call.user,
                "schema": call.schema,
            },
            response_json=response_json,
            response_text=reply.text if reply else None,
            status=status,
            error=error,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=self._cost(input_tokens, output_tokens),
            latency_ms=round(reply.latency_ms, 2) if reply else 0.0,
        )

    def _disagreements(
        self, baseline: AnalysisResult, hypotheses: list[OpinionHypothesis], stated: list[str]
    ) -> list[str]:
        found = list(stated)
        evidence_top = baseline.hypotheses[0]
        if hypotheses[0].id != evidence_top.id:
            found.insert(
                0,
                f"the model ranks {hypotheses[0].id} first; the evidence ranks {evidence_top.id} first",
            )
        return found

    def _with_opinion(
        self,
        baseline: AnalysisResult,
        traces: list[PromptTraceDraft],
        started: float,
        opinion: SecondOpinion,
    ) -> AnalysisResult:
        opinion = opinion.model_copy(
            update={
                "input_tokens": sum(t.input_tokens for t in traces),
                "output_tokens": sum(t.output_tokens for t in traces),
                "cost_usd": round(sum(t.cost_usd for t in traces), 6),
                "attempts": len(traces),
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        )
        return baseline.model_copy(update={"second_opinion": opinion})
