"""Recorded vendor answers replayed through the real client code (httpx ``MockTransport``).

A recording is ``{"status", "headers", "body"}`` as the vendor sent it. `Replay` routes each
request by method and path to a recording (or a function), and keeps every request so a test
can assert what was sent: query, window, auth headers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, cast

import httpx

RECORDINGS = Path(__file__).parent / "recordings"

# A function may answer per request (page 1 and page 2 differ) and may be async (a page that is
# slow to come).
Answer = (
    dict[str, Any]
    | Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Awaitable[httpx.Response]]
    | BaseException
)


def recording(kind: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / kind / f"{name}.json").read_text())
    return data


def respond(recorded: dict[str, Any]) -> httpx.Response:
    body = recorded["body"]
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return httpx.Response(recorded["status"], headers=recorded.get("headers"), content=content)


class Replay:
    def __init__(self, routes: Mapping[str, Answer], *, fallback: Answer | None = None) -> None:
        self.routes = dict(routes)
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
            # MockTransport awaits what an async recording returns.
            return cast(httpx.Response, answer(request))
        return respond(answer)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content)


def by_cursor(
    cursor_of: Callable[[httpx.Request], str | None],
    pages: dict[str | None, dict[str, Any] | BaseException],
) -> Callable[[httpx.Request], httpx.Response]:
    """A route that answers each page by the cursor its request carries (None: the first page).

    A cursor the test did not expect fails the test loudly (KeyError), not quietly.
    """

    def answer(request: httpx.Request) -> httpx.Response:
        page = pages[cursor_of(request)]
        if isinstance(page, BaseException):
            raise page
        return respond(page)

    return answer
