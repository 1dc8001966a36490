"""Dependencies shared by the JSON API (and, later, the pages): services, principal, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.auth import ADMIN_ROLES, READ_ROLES, WRITE_ROLES, LimitGroup, Principal, Role
from chronosops.bootstrap import Services
from chronosops.core.errors import AuthenticationError, PermissionDeniedError

FORBIDDEN = "Forbidden: missing required role"


async def get_services(request: Request) -> Services:
    # async, though it awaits nothing: FastAPI runs a plain def dependency on a worker thread,
    # a hop there and back on every request (and, on a busy core, a wait to be scheduled again).
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def read_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A read-only unit of work for one request."""
    async with services.database.unit_of_work(write=False) as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(read_session)]


def _remember(request: Request, key: str, value: str) -> None:
    request.scope.setdefault("state", {})[key] = value


async def authenticated(request: Request) -> Principal:
    header = request.headers.get("authorization")
    if not header:
        raise AuthenticationError("Missing bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("The Authorization header must be 'Bearer <token>'")
    services: Services = request.app.state.services
    principal = await services.verifier.verify(token.strip())
    _remember(request, "principal", principal.log_subject)
    return principal


def require(
    roles: tuple[Role, ...], limit: LimitGroup
) -> Callable[[Request], Awaitable[Principal]]:
    # One dependency that takes the request alone, calling `authenticated` itself rather than
    # depending on it and on the services: FastAPI resolves each declared sub-dependency per
    # request (a few tens of µs each), and every JSON route has one of these.
    async def dependency(request: Request) -> Principal:
        principal = await authenticated(request)
        if not principal.has_any(roles):
            raise PermissionDeniedError(FORBIDDEN, [role.value for role in roles])
        services: Services = request.app.state.services
        await services.limiter.hit(limit, principal.subject)
        return principal

    return dependency


AnyToken = Annotated[Principal, Depends(authenticated)]
# The analyst's check is also called directly, by the ingest route's direct path (`direct_routes`).
analyst = require(WRITE_ROLES, "ingest")
Viewer = Annotated[Principal, Depends(require(READ_ROLES, "read"))]
Analyst = Annotated[Principal, Depends(analyst)]
Admin = Annotated[Principal, Depends(require(ADMIN_ROLES, "read"))]


def remember_principal(request: Request, principal: Principal) -> None:
    """Put the (shortened) caller into this request's access log line."""
    _remember(request, "principal", principal.log_subject)


def remember_incident(request: Request, incident_id: str) -> None:
    """Put the incident id into this request's access log line."""
    _remember(request, "incident_id", incident_id)
