"""Signed-out sessions: refused by every process, the signing one at once, others soon after
(at once too when the processes share a Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronosops.auth import ConsoleSession, Principal, Role, SignOuts
from chronosops.bootstrap import Services
from chronosops.core.clock import FrozenClock
from chronosops.storage import SharedState
from tests.fixtures.shared_state import SharedRedis


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))


def console_session(clock: FrozenClock, session_id: str = "sid-1") -> ConsoleSession:
    principal = Principal(subject="dana", roles=frozenset({Role.VIEWER}), issuer="local")
    return ConsoleSession(
        principal=principal, session_id=session_id, expires_at=clock.now() + timedelta(hours=8)
    )


async def signed_out(services: Services, sign_outs: SignOuts, session_id: str) -> bool:
    """As a console page asks (chronosops.web.pages.session.live_session)."""
    if sign_outs.recently_live(session_id):
        return await sign_outs.announced(session_id)
    async with services.database.unit_of_work(write=False) as db:
        return await sign_outs.is_signed_out(db, session_id)


async def test_the_process_that_signs_out_refuses_the_session_at_once(
    services: Services, clock: FrozenClock
) -> None:
    sign_outs = SignOuts(clock=clock)
    session = console_session(clock)
    assert await signed_out(services, sign_outs, session.session_id) is False
    async with services.database.unit_of_work() as db:
        await sign_outs.sign_out(db, session)
    assert await signed_out(services, sign_outs, session.session_id) is True


async def test_another_process_refuses_it_once_its_memory_of_the_session_is_stale(
    services: Services, clock: FrozenClock
) -> None:
    here, elsewhere = SignOuts(clock=clock), SignOuts(clock=clock)
    session = console_session(clock)
    assert await signed_out(services, elsewhere, session.session_id) is False
    async with services.database.unit_of_work() as db:
        await here.sign_out(db, session)
    clock.advance(timedelta(seconds=4))
    assert await signed_out(services, elsewhere, session.session_id) is False  # remembered live
    clock.advance(timedelta(seconds=2))
    assert await signed_out(services, elsewhere, session.session_id) is True


async def test_with_a_shared_redis_another_process_refuses_it_at_once(
    services: Services, clock: FrozenClock, shared_redis: SharedRedis
) -> None:
    shared = SharedState(shared_redis.url, key_prefix=shared_redis.prefix)
    here, elsewhere = SignOuts(clock=clock, shared=shared), SignOuts(clock=clock, shared=shared)
    session = console_session(clock)
    try:
        assert await signed_out(services, elsewhere, session.session_id) is False
        async with services.database.unit_of_work() as db:
            await here.sign_out(db, session)
        await here.announce(session)
        assert elsewhere.recently_live(session.session_id)  # its memory says live, Redis not
        assert await signed_out(services, elsewhere, session.session_id) is True
        assert await signed_out(services, elsewhere, "another-session") is False
    finally:
        await shared.close()


async def test_it_remembers_only_so_many_sessions_and_forgets_the_oldest_first(
    services: Services, clock: FrozenClock
) -> None:
    sign_outs = SignOuts(clock=clock, max_remembered=2)
    for session_id in ("a", "b", "c"):
        await signed_out(services, sign_outs, session_id)
    assert [sign_outs.recently_live(s) for s in ("a", "b", "c")] == [False, True, True]


async def test_signing_out_twice_is_not_an_error(services: Services, clock: FrozenClock) -> None:
    sign_outs = SignOuts(clock=clock)
    session = console_session(clock)
    for _ in range(2):
        async with services.database.unit_of_work() as db:
            await sign_outs.sign_out(db, session)
    assert await signed_out(services, sign_outs, session.session_id) is True
