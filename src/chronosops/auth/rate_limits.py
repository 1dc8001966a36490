"""Per-principal rate limits (the guide tells clients to expect 429 and back off).

Two buckets per principal: ``ingest`` for writes and ``read`` for everything else. A 429 says
which limit was hit and when to retry, so a client (or an operator) can tell them apart.

The counters live in the process (``memory://``) or in Redis (``CHRONOSOPS_REDIS_URL``, or
``CHRONOSOPS_RATE_LIMIT_STORAGE_URL=redis://…``), where every API process counts against the
same window. A Redis that does not answer lets the request through (logged): the limits
protect the service, and refusing every ingest while Redis is down would be the outage.
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import limits
import structlog
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.exceptions import RedisError

from chronosops.config import ConfigurationError, LimitSettings
from chronosops.core.errors import RateLimitedError

LimitGroup = Literal["ingest", "read"]
log = structlog.get_logger(__name__)


def _parse(name: str, text: str) -> limits.RateLimitItem:
    try:
        return limits.parse(text)
    except ValueError:
        raise ConfigurationError(
            f"{name}={text!r} is not a rate limit; write it like '600/minute' or '10/second'"
        ) from None


def _async_storage_url(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"


def _storage(settings: LimitSettings) -> Any:
    url = _async_storage_url(settings.storage_url)
    try:
        if url.startswith(("async+redis://", "async+rediss://", "async+unix://")):
            # redis-py, the client the replay caches use too (limits defaults to coredis).
            return storage_from_string(
                url,
                implementation="redispy",
                key_prefix=settings.key_prefix,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
        return storage_from_string(url)
    except (LimitsConfigurationError, ValueError):
        # Only the scheme is repeated: the URL may carry a password.
        scheme = settings.storage_url.split("://", 1)[0] if "://" in settings.storage_url else ""
        raise ConfigurationError(
            f"CHRONOSOPS_RATE_LIMIT_STORAGE_URL ({scheme or 'no scheme'}://…) is not a store the "
            "rate limits can count in; use memory:// or "
            "redis://host:6379"
        ) from None


class RateLimiter:
    def __init__(self, settings: LimitSettings) -> None:
        self.enabled = settings.enabled
        self._limits: dict[LimitGroup, limits.RateLimitItem] = {
            "ingest": _parse("CHRONOSOPS_RATE_LIMIT_INGEST", settings.ingest),
            "read": _parse("CHRONOSOPS_RATE_LIMIT_READ", settings.read),
        }
        self._strategy = MovingWindowRateLimiter(_storage(settings))

    def describe(self, group: LimitGroup) -> str:
        return str(self._limits[group])

    async def hit(self, group: LimitGroup, subject: str, *, cost: int = 1) -> None:
        """Count ``cost`` units (one request, or each alert of a delivery); raise
        `RateLimitedError` when the principal is over the limit.

        A cost above the whole limit is counted as the whole limit: such a delivery passes
        only into an empty window instead of never.
        """
        if not self.enabled or cost < 1:
            return
        item = self._limits[group]
        try:
            if await self._strategy.hit(item, group, subject, cost=min(cost, item.amount)):
                return
            stats = await self._strategy.get_window_stats(item, group, subject)
        except (StorageError, RedisError, OSError) as error:
            log.warning("rate_limit.storage_failed", group=group, error=str(error))
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimitedError(
            f"Rate limit exceeded: {group} limit of {item} per principal; retry after "
            f"{retry_after} s",
            limit=f"{group}: {item}",
            retry_after_seconds=retry_after,
        )
