"""Shared state in Redis: JSON values that expire, and a Redis that does not answer is a miss."""

from __future__ import annotations

import asyncio

from chronosops.storage import SharedState
from tests.fixtures.shared_state import SharedRedis


async def test_a_value_written_by_one_process_is_read_by_another_until_it_expires(
    shared_redis: SharedRedis,
) -> None:
    writer = SharedState(shared_redis.url, key_prefix=shared_redis.prefix)
    reader = SharedState(shared_redis.url, key_prefix=shared_redis.prefix)
    key = writer.key("answer", "one")
    try:
        await writer.set_json(key, {"status": 201, "body": {"ok": True}}, ttl_seconds=0.3)
        assert await reader.get_json(key) == {"status": 201, "body": {"ok": True}}
        assert shared_redis.keys() == [f"{shared_redis.prefix}:answer:one"]
        await asyncio.sleep(0.4)
        assert await reader.get_json(key) is None
    finally:
        await writer.close()
        await reader.close()


async def test_nothing_is_kept_for_a_time_already_past(shared_redis: SharedRedis) -> None:
    shared = SharedState(shared_redis.url, key_prefix=shared_redis.prefix)
    try:
        await shared.set_json(shared.key("late"), {"a": 1}, ttl_seconds=0)
        assert shared_redis.keys() == []
    finally:
        await shared.close()


async def test_a_redis_that_does_not_answer_is_a_miss_not_an_error() -> None:
    # Nothing listens on port 1 of the loopback.
    shared = SharedState("redis://127.0.0.1:1/0", key_prefix="nowhere")
    try:
        await shared.set_json(shared.key("k"), {"a": 1}, ttl_seconds=60)
        assert await shared.get_json(shared.key("k")) is None
        assert await shared.ping() is False
    finally:
        await shared.close()
