"""The replay window: a delivery seen within it is answered again; after it, processed again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from chronosops.bootstrap import Services, build_services
from chronosops.core.clock import FrozenClock
from chronosops.incidents import DeliveryClaim, DeliveryInFlightError
from tests.fixtures.app import make_settings

WINDOW = timedelta(hours=24)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2024, 3, 12, 12, 0, tzinfo=UTC))


@pytest.fixture
async def frozen(database_url: str, clock: FrozenClock) -> AsyncIterator[Services]:
    built = build_services(make_settings(database_url), clock=clock)
    yield built
    await built.aclose()


async def claim(
    services: Services, *, delivery_id: str | None, body: str = "b" * 64
) -> DeliveryClaim:
    async with services.database.unit_of_work() as session:
        return await services.incidents.claim_delivery(
            session, source="grafana", delivery_id=delivery_id, body_sha256=body, window=WINDOW
        )


async def complete(services: Services, row: str, code: int = 201) -> None:
    async with services.database.unit_of_work() as session:
        await services.incidents.complete_delivery(
            session, row, shape="unified-alerting", status_code=code, response={"answer": code}
        )


async def test_a_completed_delivery_is_replayed_by_id_or_by_body_within_the_window(
    frozen: Services, clock: FrozenClock
) -> None:
    first = await claim(frozen, delivery_id="d-1")
    assert first.fresh
    await complete(frozen, first.delivery_id)
    clock.advance(WINDOW - timedelta(seconds=1))
    by_id = await claim(frozen, delivery_id="d-1", body="c" * 64)
    by_body = await claim(frozen, delivery_id=None)
    for replay in (by_id, by_body):
        assert not replay.fresh
        assert (replay.status_code, replay.response) == (201, {"answer": 201})


async def test_after_the_window_the_same_delivery_is_processed_again(
    frozen: Services, clock: FrozenClock
) -> None:
    first = await claim(frozen, delivery_id="d-1")
    await complete(frozen, first.delivery_id)
    clock.advance(WINDOW + timedelta(seconds=1))
    assert (await claim(frozen, delivery_id="d-1")).fresh


async def test_a_retry_while_the_first_attempt_runs_is_told_to_come_back(
    frozen: Services, clock: FrozenClock
) -> None:
    await claim(frozen, delivery_id="d-1")
    with pytest.raises(DeliveryInFlightError):
        await claim(frozen, delivery_id="d-1")
    clock.advance(timedelta(minutes=6))  # the first attempt died with its process
    assert (await claim(frozen, delivery_id="d-1")).fresh


async def test_a_released_delivery_is_processed_again_at_once(frozen: Services) -> None:
    first = await claim(frozen, delivery_id=None)
    async with frozen.database.unit_of_work() as session:
        await frozen.incidents.release_delivery(session, first.delivery_id)
    assert (await claim(frozen, delivery_id=None)).fresh


async def test_deliveries_are_listed_newest_first_per_source(
    frozen: Services, clock: FrozenClock
) -> None:
    older = await claim(frozen, delivery_id="d-1", body="1" * 64)
    clock.advance(timedelta(minutes=1))
    newer = await claim(frozen, delivery_id="d-2", body="2" * 64)
    async with frozen.database.unit_of_work(write=False) as session:
        listed = await frozen.incidents.deliveries(session, source="grafana", limit=10)
        other = await frozen.incidents.deliveries(session, source="datadog", limit=10)
    assert [item.id for item in listed] == [newer.delivery_id, older.delivery_id]
    assert list(other) == []
