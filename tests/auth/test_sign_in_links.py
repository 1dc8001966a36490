"""One-time sign-in links: work once, expire, and are stored only as a hash."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from chronosops.auth import Principal, Role, SignInLinks
from chronosops.bootstrap import Services
from chronosops.core.clock import FrozenClock
from chronosops.core.errors import AuthenticationError


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def links(clock: FrozenClock) -> SignInLinks:
    return SignInLinks(clock=clock, ttl=timedelta(minutes=15))


async def issue(services: Services, links: SignInLinks) -> str:
    async with services.database.unit_of_work() as session:
        issued = await links.issue(session, subject="local-admin", roles=[Role.ADMIN, Role.VIEWER])
    return issued.token


async def redeem(services: Services, links: SignInLinks, token: str) -> Principal:
    async with services.database.unit_of_work() as session:
        return await links.redeem(session, token)


async def test_a_link_signs_in_its_principal_once(services: Services, links: SignInLinks) -> None:
    token = await issue(services, links)
    principal = await redeem(services, links, token)
    assert principal.subject == "local-admin"
    assert principal.roles == {Role.ADMIN.value, Role.VIEWER.value}
    with pytest.raises(AuthenticationError, match="already used"):
        await redeem(services, links, token)


async def test_a_link_stops_working_when_it_expires(
    services: Services, links: SignInLinks, clock: FrozenClock
) -> None:
    token = await issue(services, links)
    clock.advance(timedelta(minutes=15))
    with pytest.raises(AuthenticationError, match="expired"):
        await redeem(services, links, token)


async def test_an_unknown_or_oversized_token_is_not_valid(
    services: Services, links: SignInLinks
) -> None:
    await issue(services, links)
    for token in ("nope", "", "x" * 500):
        with pytest.raises(AuthenticationError, match="not valid"):
            await redeem(services, links, token)


async def test_only_a_hash_of_the_link_is_stored(services: Services, links: SignInLinks) -> None:
    token = await issue(services, links)
    async with services.database.unit_of_work(write=False) as session:
        rows = (await session.execute(text("SELECT token_hash, subject FROM sign_in_link"))).all()
    assert len(rows) == 1
    assert token not in rows[0].token_hash
    assert len(rows[0].token_hash) == 64


async def test_two_browsers_racing_with_one_link_sign_in_once(
    services: Services, links: SignInLinks
) -> None:
    token = await issue(services, links)
    outcomes = await asyncio.gather(
        *(redeem(services, links, token) for _ in range(4)), return_exceptions=True
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, AuthenticationError) for o in outcomes if isinstance(o, BaseException))


async def test_links_long_expired_are_cleaned_up_when_a_new_one_is_issued(
    services: Services, links: SignInLinks, clock: FrozenClock
) -> None:
    await issue(services, links)
    clock.advance(timedelta(days=2))
    await issue(services, links)
    async with services.database.unit_of_work(write=False) as session:
        count = (await session.execute(text("SELECT count(*) FROM sign_in_link"))).scalar_one()
    assert count == 1
