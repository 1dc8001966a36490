"""A collector whose behaviour a test scripts: what it returns, raises or how long it sleeps.

It exercises the runner and the pipeline around collectors; the real adapters are tested
against a real Prometheus or recorded vendor replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from chronosops.collectors import Collected, Collector, CollectorQuery, CollectorSpec
from chronosops.core.clock import FrozenClock

NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)


class ScriptedCollector(Collector):
    kind = "scripted"

    def __init__(
        self,
        name: str,
        behaviour: Callable[[CollectorQuery], Any],
        *,
        delay: float = 0.0,
        timeout_seconds: float | None = None,
    ) -> None:
        super().__init__(
            CollectorSpec(
                name=name,
                backend="scripted",
                endpoint="http://scripted.invalid",
                options={},
                credentials={},
                timeout_seconds=timeout_seconds,
            ),
            http=httpx.AsyncClient(),
            clock=FrozenClock(NOW),
        )
        self.behaviour = behaviour
        self.delay = delay
        self.queries: list[CollectorQuery] = []

    async def collect(self, query: CollectorQuery) -> Collected:
        self.queries.append(query)
        if self.delay:
            await asyncio.sleep(self.delay)
        result = self.behaviour(query)
        if isinstance(result, BaseException):
            raise result
        if isinstance(result, Collected):
            return result
        return Collected(artifacts=list(result))
