"""Console session cookies: signed, expiring, bound to one purpose; CSRF tokens bound to a session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronosops.auth import Principal, Role, SessionCodec, derive_session_key
from chronosops.core.clock import FrozenClock
from chronosops.core.errors import AuthenticationError

KEY = b"k" * 32
ANN = Principal(
    subject="ann", roles=frozenset({Role.ANALYST.value}), issuer="oidc", email="ann@example.test"
)


def codec(clock: FrozenClock, key: bytes = KEY) -> SessionCodec:
    return SessionCodec(key, clock=clock, ttl=timedelta(hours=8))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))


def test_a_session_cookie_carries_the_principal_until_it_expires(clock: FrozenClock) -> None:
    sessions = codec(clock)
    value, issued = sessions.issue(ANN)
    read = sessions.read(value)
    assert read.principal == ANN
    assert read.session_id == issued.session_id
    assert read.expires_at == datetime(2026, 1, 1, 17, 0, tzinfo=UTC)
    clock.advance(timedelta(hours=8))
    with pytest.raises(AuthenticationError, match="expired"):
        sessions.read(value)


def test_every_session_gets_its_own_id(clock: FrozenClock) -> None:
    sessions = codec(clock)
    assert sessions.issue(ANN)[1].session_id != sessions.issue(ANN)[1].session_id


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v.replace(v.split(".")[0], v.split(".")[0][:-2] + "AA"),
        lambda v: v.split(".")[0] + ".",
        lambda v: v + "x",
        lambda v: "",
    ],
)
def test_an_edited_cookie_is_refused(clock: FrozenClock, tamper: object) -> None:
    sessions = codec(clock)
    value, _ = sessions.issue(ANN)
    with pytest.raises(AuthenticationError):
        sessions.read(tamper(value))  # type: ignore[operator]


def test_a_cookie_signed_with_another_key_is_refused(clock: FrozenClock) -> None:
    value, _ = codec(clock, b"o" * 32).issue(ANN)
    with pytest.raises(AuthenticationError, match="does not verify"):
        codec(clock).read(value)


def test_a_value_signed_for_another_purpose_is_not_a_session(clock: FrozenClock) -> None:
    sessions = codec(clock)
    other = sessions.sign(
        "oidc-login",
        {"sid": "s", "sub": "admin", "roles": ["CHRONOSOPS_ADMIN"]},
        ttl=timedelta(minutes=5),
    )
    with pytest.raises(AuthenticationError, match="does not verify"):
        sessions.read(other)


def test_roles_the_console_does_not_know_are_dropped(clock: FrozenClock) -> None:
    sessions = codec(clock)
    value = sessions.sign(
        "session",
        {"sid": "s", "sub": "x", "roles": ["CHRONOSOPS_VIEWER", "ROOT"]},
        ttl=timedelta(minutes=5),
    )
    assert sessions.read(value).principal.roles == {Role.VIEWER.value}


def test_a_csrf_token_is_valid_only_for_its_own_session(clock: FrozenClock) -> None:
    sessions = codec(clock)
    token = sessions.csrf_token("session-a")
    assert sessions.check_csrf("session-a", token)
    assert not sessions.check_csrf("session-b", token)
    assert not sessions.check_csrf("session-a", None)
    assert not sessions.check_csrf("session-a", "")
    assert not codec(clock, b"o" * 32).check_csrf("session-a", token)


def test_the_derived_session_key_is_stable_and_not_the_jwt_secret() -> None:
    secret = "s" * 40
    key = derive_session_key(secret)
    assert key == derive_session_key(secret)
    assert key != secret.encode()
    assert len(key) == 32
    assert key != derive_session_key("t" * 40)


def test_a_short_key_is_refused(clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SessionCodec(b"short", clock=clock, ttl=timedelta(hours=1))
