"""Recorded vendor answers replayed through the real client code (httpx ``MockTransport``).

A recording is ``{"status", "headers", "body"}`` as the vendor sent it. `Replay` routes each
request by method and path to a recording (or a function), and keeps every request so a test
can assert what was sent: query, window, auth headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

RECORDINGS = Path(__file__).parent / "recordings"

Answer = dict[str, Any] | Callable[[httpx.Request], httpx.Response] | BaseException


def recording(kind: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / kind / f"{name}.json").read_text())
    return data


def respond(recorded: dict[str, Any]) -> httpx.Response:
    body = recorded["body"]
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return httpx.Response(recorded["status"], headers=recorded.get("headers"), content=content)


class Replay:
    def __init__(self, routes: dict[str, Answer], *, fallback: Answer | None = None) -> None:
        self.routes = routes
        self.fallback = fallback
        self.requests: list[httpx.Request] = []

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.path}"
        answer = self.routes.get(key, self.fallback)
        if answer is None:
            return httpx.Response(404, text=f"no recording for {key}")
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(request)
        return respond(answer)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content)
