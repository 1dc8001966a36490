"""Run an idempotent read once more when its database connection broke under it.

A pooled connection can die between the pool's liveness check and the query (the database
restarted, an operator or a proxy cut it). Nothing was written, so a GET or HEAD can simply be
served again on a fresh connection; the caller sees one answer. A second loss in a row is the
503 with ``Retry-After`` that the error table gives.
"""

from __future__ import annotations

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chronosops.web.errors import CONNECTION_LOST

log = structlog.get_logger("chronosops.http")

IDEMPOTENT_READS = frozenset({"GET", "HEAD"})


class RetryReadsOnceMiddleware:
    """Sits inside the error handlers' middleware, so it sees their answer before the client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in IDEMPOTENT_READS:
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        discarding = False

        async def recording_receive() -> Message:
            message = await receive()
            received.append(message)
            return message

        async def held_send(message: Message) -> None:
            nonlocal discarding
            if message["type"] == "http.response.start":
                discarding = bool(scope.get("state", {}).pop(CONNECTION_LOST, False))
            if not discarding:
                await send(message)

        await self.app(scope, recording_receive, held_send)
        if not discarding:
            return
        log.warning("http.read_retried", reason="database connection lost")
        replay = list(received)

        async def replaying_receive() -> Message:
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replaying_receive, send)
