"""A language-model server stand-in on loopback that replays recorded answers, in order.

Requests go through the real client code (google-genai, or httpx for OpenAI-compatible
servers); the server records each request so tests can assert what was sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "recordings"


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ModelServer:
    url: str = ""
    script: list[Reply] = field(default_factory=list)
    received: list[ReceivedRequest] = field(default_factory=list)

    def then(self, *replies: Reply) -> ModelServer:
        self.script.extend(replies)
        return self


def recording(name: str) -> Any:
    return json.loads((RECORDINGS / name).read_text())


def gemini_answer(
    answer: dict[str, Any] | str, *, prompt_tokens: int = 1830, output_tokens: int = 212
) -> Reply:
    """A generateContent response in the shape Gemini sends, wrapping ``answer`` as its text."""
    body = recording("gemini_generate_content.json")
    text = answer if isinstance(answer, str) else json.dumps(answer)
    body["candidates"][0]["content"]["parts"][0]["text"] = text
    body["usageMetadata"].update(
        promptTokenCount=prompt_tokens,
        candidatesTokenCount=output_tokens,
        totalTokenCount=prompt_tokens + output_tokens,
    )
    return Reply(body=body)


def openai_answer(answer: dict[str, Any] | str) -> Reply:
    body = recording("openai_chat_completion.json")
    body["choices"][0]["message"]["content"] = (
        answer if isinstance(answer, str) else json.dumps(answer)
    )
    return Reply(body=body)


@contextmanager
def model_server() -> Iterator[ModelServer]:
    server_state = ModelServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            raw = self.rfile.read(length)
            with lock:
                server_state.received.append(
                    ReceivedRequest(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        json.loads(raw or b"null"),
                    )
                )
                reply = (
                    server_state.script.pop(0)
                    if server_state.script
                    else Reply(500, {"error": "no reply scripted"})
                )
            if reply.delay_seconds:
                time.sleep(reply.delay_seconds)
            payload = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
