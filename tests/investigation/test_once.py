"""Once: a key or a delivery claimed by a process that died is taken over at once; one held by
a live process is still in flight; a failed piece of work releases its claim."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import delete

from chronosops.bootstrap import Services
from chronosops.core.canonical import content_hash
from chronosops.incidents import DeliveryInFlightError, IdempotencyKeyInFlightError
from chronosops.incidents.repository import subject_hash
from chronosops.incidents.tables import IdempotencyRecord, WebhookDelivery
from chronosops.investigation import Answer, Delivery, IdempotencyKey, Once
from chronosops.storage import Liveness, SharedState
from chronosops.storage.liveness import HOST, process_name
from tests.fixtures.database import POSTGRES_URL
from tests.fixtures.shared_state import SharedRedis

KEY = IdempotencyKey(subject="analyst", key="k-1", request_hash=content_hash({"a": 1}))
DELIVERY = Delivery(source="grafana", delivery_id="d-1", body_sha256="0" * 64, shape="x")


def dead_process_name() -> str:
    """The name a process that has exited would have left on its claims."""
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return f"{HOST}:{finished.stdout.strip()}:deadbeef"


async def live_process(services: Services) -> tuple[str, Liveness]:
    """Another process's name, alive (on PostgreSQL: holding its lock)."""
    url = None if POSTGRES_URL is None else "postgresql://" + POSTGRES_URL.split("://", 1)[1]
    other = Liveness(name=process_name(), database_url=url)
    await other.ensure_started()
    return other.name, other


async def held_key(services: Services, owner: str) -> None:
    async with services.database.unit_of_work() as session:
        await services.incidents.claim_idempotency_key(
            session, subject=KEY.subject, key=KEY.key, request_hash=KEY.request_hash
        )
        record = await session.get(IdempotencyRecord, (subject_hash(KEY.subject), KEY.key))
        assert record is not None
        record.owner = owner


async def held_delivery(services: Services, owner: str) -> None:
    async with services.database.unit_of_work() as session:
        claim = await services.incidents.claim_delivery(
            session,
            source=DELIVERY.source,
            delivery_id=DELIVERY.delivery_id,
            body_sha256=DELIVERY.body_sha256,
            window=timedelta(hours=1),
        )
        row = await session.get(WebhookDelivery, claim.delivery_id)
        assert row is not None
        row.owner = owner


async def answer(_record: str | None) -> Answer:
    return Answer(201, {"done": True})


async def test_a_key_held_by_a_dead_process_is_taken_over_at_once(services: Services) -> None:
    await held_key(services, dead_process_name())
    assert await services.once.run(KEY, answer) == Answer(201, {"done": True})


async def test_a_key_held_by_a_live_process_is_still_in_flight(services: Services) -> None:
    owner, other = await live_process(services)
    await held_key(services, owner)
    try:
        with pytest.raises(IdempotencyKeyInFlightError):
            await services.once.run(KEY, answer)
    finally:
        other.close()


async def test_a_delivery_held_by_a_dead_process_is_taken_over_at_once(
    services: Services,
) -> None:
    await held_delivery(services, dead_process_name())
    assert await services.once.run(DELIVERY, answer) == Answer(201, {"done": True})


async def test_a_delivery_held_by_a_live_process_is_still_in_flight(services: Services) -> None:
    owner, other = await live_process(services)
    await held_delivery(services, owner)
    try:
        with pytest.raises(DeliveryInFlightError):
            await services.once.run(DELIVERY, answer)
    finally:
        other.close()


async def test_the_answer_is_replayed_to_a_repeat(services: Services) -> None:
    await services.once.run(KEY, answer)
    again = await services.once.run(KEY, answer)
    assert again == Answer(201, {"done": True}, replayed=True)


async def test_failed_work_releases_its_claim_for_the_retry(services: Services) -> None:
    async def broken(_record: str | None) -> Answer:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await services.once.run(DELIVERY, broken)
    assert (await services.once.run(DELIVERY, answer)).replayed is False


async def test_with_redis_a_kept_answer_is_replayed_from_its_copy_without_the_database(
    services: Services, shared_redis: SharedRedis
) -> None:
    shared = SharedState(shared_redis.url, key_prefix=shared_redis.prefix)
    once = Once(
        database=services.database,
        incidents=services.incidents,
        replay_window=timedelta(hours=1),
        shared=shared,
    )
    runs: list[str | None] = []

    async def work(record: str | None) -> Answer:
        runs.append(record)
        return Answer(status_code=201, body={"n": len(runs)})

    try:
        for claim in (KEY, DELIVERY):
            assert await once.run(claim, work) == Answer(201, {"n": len(runs)})
        # The database forgets both: only the copies in Redis can answer now.
        async with services.database.unit_of_work() as session:
            await session.execute(delete(IdempotencyRecord))
            await session.execute(delete(WebhookDelivery))
        assert await once.run(KEY, work) == Answer(201, {"n": 1}, replayed=True)
        # The same delivery by its body alone (a vendor without delivery ids).
        by_body = Delivery(source="grafana", delivery_id=None, body_sha256="0" * 64, shape="x")
        assert await once.run(by_body, work) == Answer(201, {"n": 2}, replayed=True)
        assert len(runs) == 2
        # A key reused with another body is not answered from the copy.
        other = IdempotencyKey(subject="analyst", key="k-1", request_hash=content_hash({"a": 2}))
        assert (await once.run(other, work)).replayed is False
    finally:
        await shared.close()
