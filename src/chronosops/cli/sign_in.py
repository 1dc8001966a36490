"""``chronosops sign-in-link``: a one-time link that signs a browser into the console."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

import typer

from chronosops.cli.durations import parse_duration
from chronosops.cli.errors import fail
from chronosops.cli.settings import resolve_migrated, services_for
from chronosops.config import Settings

if TYPE_CHECKING:
    from chronosops.auth import IssuedLink, Role
    from chronosops.bootstrap import Services

LINK_PATH = "/sign-in/link"


def all_roles() -> list[Role]:
    # Roles come with the auth package (SQLAlchemy and more): loaded on use, not at start-up.
    from chronosops.auth import Role

    return [Role.ADMIN, Role.ANALYST, Role.VIEWER]


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}{LINK_PATH}?token={token}"


async def issue_link(
    services: Services,
    *,
    subject: str,
    roles: list[Role],
    ttl: timedelta | None = None,
) -> IssuedLink:
    from chronosops.audit import EntityType, EventType
    from chronosops.core.timestamps import format_instant

    async with services.database.unit_of_work() as session:
        issued = await services.sign_in_links.issue(session, subject=subject, roles=roles, ttl=ttl)
        await services.audit.record(
            session,
            event_type=EventType.SIGN_IN_LINK_ISSUED,
            entity_type=EntityType.SIGN_IN_LINK,
            entity_id=issued.link_id,
            actor="cli",
            payload={
                "subject": subject,
                "roles": sorted(role.value for role in roles),
                "expiresAt": format_instant(issued.expires_at),
            },
        )
        return issued


async def new_link(
    settings: Settings, *, subject: str, roles: list[Role], ttl: timedelta | None = None
) -> str:
    """A one-time sign-in link URL, issued into the configured database."""
    services = services_for(settings)
    try:
        issued = await issue_link(services, subject=subject, roles=roles, ttl=ttl)
    finally:
        await services.aclose()
    return link_url(settings, issued.token)


def sign_in_link(
    role: list[str] = typer.Option(
        ["admin", "analyst", "viewer"],
        "--role",
        "-r",
        help="viewer, analyst or admin (repeat for several; default all three)",
    ),
    sub: str = typer.Option("local-admin", "--sub", help="who the browser signs in as"),
    ttl: str = typer.Option(
        "", "--ttl", help="how long the link works: 90s, 15m, 1h (default the setting)"
    ),
) -> None:
    """Print a one-time console sign-in link (works once, for CHRONOSOPS_SIGN_IN_LINK_TTL_MINUTES)."""
    from chronosops.auth import parse_role

    settings = resolve_migrated()
    try:
        roles = [parse_role(name) for name in role]
        lifetime = (
            parse_duration(ttl) if ttl else timedelta(minutes=settings.sign_in_link_ttl_minutes)
        )
    except ValueError as exc:
        fail(str(exc))
        raise AssertionError("unreachable") from None
    typer.echo(asyncio.run(new_link(settings, subject=sub, roles=roles, ttl=lifetime)))
