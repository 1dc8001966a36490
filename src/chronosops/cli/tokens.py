"""``chronosops token``: mint a local HS256 bearer token."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from chronosops.cli.durations import parse_duration
from chronosops.cli.errors import fail
from chronosops.cli.settings import resolve

if TYPE_CHECKING:
    from chronosops.auth import Role


def mint(role_names: list[str], subject: str, ttl: str) -> str:
    # The auth package brings SQLAlchemy: loaded when a token is minted, not at start-up.
    from chronosops.auth import LocalTokenIssuer, parse_role
    from chronosops.core.clock import SystemClock
    from chronosops.core.ids import Cuid2Factory

    settings = resolve()
    auth = settings.auth
    if not auth.jwt_secret:
        fail(
            "no CHRONOSOPS_JWT_SECRET to sign with (on the embedded default, run `make run` "
            "once to generate one)"
        )
    try:
        roles: list[Role] = [parse_role(name) for name in role_names]
        lifetime = parse_duration(ttl)
    except ValueError as exc:
        fail(str(exc))
        raise AssertionError("unreachable") from None
    issuer = LocalTokenIssuer(auth, clock=SystemClock(), ids=Cuid2Factory())
    return issuer.mint(subject=subject, roles=roles, ttl=lifetime)


def token(
    role: list[str] = typer.Option(
        ..., "--role", "-r", help="viewer, analyst or admin (repeat for several)"
    ),
    sub: str = typer.Option(..., "--sub", help="the subject: who the token is for"),
    ttl: str = typer.Option("12h", "--ttl", help="lifetime: 90s, 30m, 12h, 7d"),
) -> None:
    """Print a bearer token signed with CHRONOSOPS_JWT_SECRET (nothing else on stdout)."""
    typer.echo(mint(role, sub, ttl))
