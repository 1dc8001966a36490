"""Clients for language models: Gemini (google-genai) and any OpenAI-compatible server.

Each turns one prompt into one `ModelReply` or raises `ModelCallError`, which says whether a
retry could help. Vendor exceptions never leave this module.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

if TYPE_CHECKING:
    from google import genai

FailureKind = Literal["timeout", "rate_limited", "server", "client", "transport", "empty"]


class ModelCallError(Exception):
    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        retry_after: float | None = None,
        response_json: Any = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.response_json = response_json

    @property
    def retryable(self) -> bool:
        return self.kind in ("timeout", "rate_limited", "server", "transport")


@dataclass(frozen=True)
class ModelReply:
    text: str
    model: str
    input_tokens: int
    output_tokens: int
    request_json: dict[str, Any]
    response_json: dict[str, Any]
    latency_ms: float


@dataclass(frozen=True)
class ModelCall:
    system: str
    user: str
    schema: dict[str, Any]
    max_output_tokens: int
    timeout_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


class ModelClient(Protocol):
    provider: str
    model: str

    async def complete(self, call: ModelCall) -> ModelReply:
        """Send the prompt; return the model's text and usage, or raise `ModelCallError`."""
        ...


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class GeminiClient:
    provider = "gemini"

    def __init__(self, *, api_key: str, model: str, base_url: str | None = None) -> None:
        # google-genai is imported when a Gemini client is made (the services are built), not
        # with the application: it is about a fifth of a process's import CPU and most
        # deployments and tests configure no Gemini. Never inside a call either, where a
        # first import of a second or more would count against the call's timeout.
        for module in ("google.genai", "google.genai.errors", "google.genai.types"):
            importlib.import_module(module)
        self.model = model
        self._api_key = api_key
        self._base_url = base_url

    def _client(self, timeout_seconds: float) -> genai.Client:
        from google import genai
        from google.genai import types as genai_types

        options = genai_types.HttpOptions(
            timeout=int(timeout_seconds * 1000),
            retry_options=genai_types.HttpRetryOptions(attempts=1),  # retries are ours, bounded
        )
        if self._base_url:
            options.base_url = self._base_url
        return genai.Client(api_key=self._api_key, http_options=options)

    async def complete(self, call: ModelCall) -> ModelReply:
        from google.genai import errors as genai_errors
        from google.genai import types as genai_types

        config = genai_types.GenerateContentConfig(
            system_instruction=call.system,
            temperature=0,
            max_output_tokens=call.max_output_tokens,
            response_mime_type="application/json",
            response_json_schema=call.schema,
        )
        request_json = {
            "model": self.model,
            "systemInstruction": call.system,
            "contents": call.user,
            "generationConfig": {
                "temperature": 0,
                "maxOutputTokens": call.max_output_tokens,
                "responseMimeType": "application/json",
                "responseJsonSchema": call.schema,
            },
        }
        started = time.perf_counter()
        try:
            response = await self._client(call.timeout_seconds).aio.models.generate_content(
                model=self.model, contents=call.user, config=config
            )
        except genai_errors.APIError as error:
            kind: FailureKind = (
                "rate_limited"
                if error.code == 429
                else "server"
                if (error.code or 0) >= 500
                else "client"
            )
            retry_after = None
            raw = getattr(error, "response", None)
            headers = getattr(raw, "headers", None)
            if headers is not None:
                retry_after = _retry_after(headers.get("retry-after"))
            raise ModelCallError(
                kind,
                f"Gemini answered {error.code}: {error.message}",
                retry_after=retry_after,
                response_json=error.details,
            ) from None
        except httpx.TimeoutException:
            raise ModelCallError(
                "timeout", f"Gemini did not answer within {call.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as error:
            raise ModelCallError("transport", f"cannot reach Gemini: {error}") from None
        latency = (time.perf_counter() - started) * 1000
        text = response.text or ""
        if not text.strip():
            raise ModelCallError(
                "empty",
                "Gemini returned no text",
                response_json=response.model_dump(mode="json", exclude_none=True, by_alias=True),
            )
        usage = response.usage_metadata
        return ModelReply(
            text=text,
            model=response.model_version or self.model,
            input_tokens=(usage.prompt_token_count or 0) if usage else 0,
            output_tokens=(usage.candidates_token_count or 0) if usage else 0,
            request_json=request_json,
            response_json=response.model_dump(mode="json", exclude_none=True, by_alias=True),
            latency_ms=latency,
        )


class OpenAICompatibleClient:
    """`/chat/completions` of OpenAI, vLLM, Ollama or LM Studio, with a JSON-schema answer."""

    provider = "openai"

    def __init__(
        self, *, base_url: str, model: str, api_key: str | None, http: httpx.AsyncClient
    ) -> None:
        self.model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self._http = http

    async def complete(self, call: ModelCall) -> ModelReply:
        request_json: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": call.system},
                {"role": "user", "content": call.user},
            ],
            "temperature": 0,
            "max_tokens": call.max_output_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "chronosops_analysis", "schema": call.schema},
            },
        }
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        started = time.perf_counter()
        try:
            response = await self._http.post(
                self._url, json=request_json, headers=headers, timeout=call.timeout_seconds
            )
        except httpx.TimeoutException:
            raise ModelCallError(
                "timeout", f"{self._url} did not answer within {call.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as error:
            raise ModelCallError("transport", f"cannot reach {self._url}: {error}") from None
        latency = (time.perf_counter() - started) * 1000
        try:
            body: Any = response.json()
        except ValueError:
            body = {"raw": response.text[:2000]}
        if response.status_code == 429:
            raise ModelCallError(
                "rate_limited",
                "the model server is rate limiting (429)",
                retry_after=_retry_after(response.headers.get("retry-after")),
                response_json=body,
            )
        if response.status_code >= 500:
            raise ModelCallError(
                "server", f"the model server failed ({response.status_code})", response_json=body
            )
        if response.status_code >= 400:
            raise ModelCallError(
                "client",
                f"the model server refused the request ({response.status_code})",
                response_json=body,
            )
        try:
            text = body["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ModelCallError(
                "empty", "the model server's answer has no message content", response_json=body
            ) from None
        usage = body.get("usage") or {}
        return ModelReply(
            text=text,
            model=str(body.get("model") or self.model),
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            request_json=request_json,
            response_json=body,
            latency_ms=latency,
        )
