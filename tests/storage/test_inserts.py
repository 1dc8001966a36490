"""insert_or_ignore: the database, not a read-before-write, decides who inserted a key."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from chronosops.bootstrap import Services
from chronosops.evidence.tables import EvidenceBundle
from chronosops.storage import insert_or_ignore
from tests.fixtures.rows import bundle_row


async def created_by(services: Services, bundle_id: str) -> str | None:
    async with services.database.unit_of_work(write=False) as session:
        return await session.scalar(
            select(EvidenceBundle.created_by).where(EvidenceBundle.id == bundle_id)
        )


def bundle(bundle_id: str, *, by: str = "first") -> dict[str, Any]:
    return bundle_row(bundle_id, created_by=by)


async def test_a_new_key_is_inserted_and_reported_as_inserted(services: Services) -> None:
    async with services.database.unit_of_work() as session:
        assert await insert_or_ignore(session, EvidenceBundle, bundle("bundle-a")) is True
    assert await created_by(services, "bundle-a") == "first"


async def test_a_taken_key_is_reported_as_not_inserted_and_the_first_row_is_kept(
    services: Services,
) -> None:
    async with services.database.unit_of_work() as session:
        await insert_or_ignore(session, EvidenceBundle, bundle("bundle-a"))
    async with services.database.unit_of_work() as session:
        again = await insert_or_ignore(session, EvidenceBundle, bundle("bundle-a", by="second"))
    assert again is False
    assert await created_by(services, "bundle-a") == "first"


async def test_of_concurrent_writers_of_one_key_exactly_one_inserts(services: Services) -> None:
    async def write(by: str) -> bool:
        async with services.database.unit_of_work() as session:
            return await insert_or_ignore(session, EvidenceBundle, bundle("bundle-a", by=by))

    results = await asyncio.gather(*(write(f"writer-{n}") for n in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    async with services.database.unit_of_work(write=False) as session:
        count = await session.scalar(select(func.count()).select_from(EvidenceBundle))
    assert count == 1
