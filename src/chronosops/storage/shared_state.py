"""State that N API processes must share to behave as one, kept in Redis when it is configured.

Rate-limit counters and the answers replayed to a client's repeat (an ``Idempotency-Key``, a
vendor's delivery) would otherwise live in each process. The database stays the record of
every answer; Redis holds copies with an expiry, so a repeat is answered by whichever process
it reaches without a database write, and losing Redis loses nothing but speed: every read or
write here that fails is logged and treated as a miss.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

# A shared store that does not answer within this must not hold up a request.
TIMEOUT_SECONDS = 0.5


class SharedState:
    """JSON values under a key prefix, with an expiry, in one Redis database."""

    def __init__(self, url: str, *, key_prefix: str) -> None:
        self.url = url
        self.key_prefix = key_prefix
        self._client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            decode_responses=True,
        )

    def key(self, *parts: str) -> str:
        return ":".join((self.key_prefix, *parts))

    async def get_json(self, key: str) -> Any | None:
        try:
            raw = await self._client.get(key)
        except (RedisError, OSError, RuntimeError) as error:
            log.warning("shared_state.read_failed", key=key, error=str(error))
            return None
        return json.loads(raw) if raw is not None else None

    async def set_json(self, key: str, value: Any, *, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            return
        try:
            await self._client.set(
                key, json.dumps(value, separators=(",", ":")), px=int(ttl_seconds * 1000)
            )
        except (RedisError, OSError, RuntimeError) as error:
            log.warning("shared_state.write_failed", key=key, error=str(error))

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError, RuntimeError):
            return False

    async def close(self) -> None:
        await self._client.aclose()
