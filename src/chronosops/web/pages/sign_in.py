"""Signing in and out: one-time links (the embedded default) and OpenID Connect."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit import EntityType, EventType
from chronosops.auth import PendingLogin, Principal
from chronosops.bootstrap import Services
from chronosops.core.errors import AppError, AuthenticationError
from chronosops.core.timestamps import format_instant
from chronosops.web.deps import ServicesDep
from chronosops.web.pages.rendering import render
from chronosops.web.pages.session import (
    CheckedForm,
    PageRoute,
    SessionDep,
    SignedInAction,
    clear_session_cookie,
    is_tls,
    live_session,
    page_user_of,
    safe_next,
    set_session_cookie,
)

log = structlog.get_logger("chronosops.console")

router = APIRouter(route_class=PageRoute)

OIDC_COOKIE = "chronosops_oidc"
OIDC_PURPOSE = "oidc-login"
OIDC_COOKIE_PATH = "/sign-in"
# Long enough to type a password and answer a second factor at the provider.
OIDC_ATTEMPT_SECONDS = 600


def _sign_in_page(
    request: Request, *, message: str | None = None, status_code: int = 200, next_path: str = "/"
) -> Response:
    services = request.app.state.services
    oidc = services.oidc_login
    context: dict[str, Any] = {
        "message": message,
        "next_path": next_path,
        "oidc_issuer": oidc.settings.issuer if oidc else None,
        "signed_out": request.query_params.get("signed_out") == "1",
    }
    return render(request, "sign_in/page.html", context, user=None, status_code=status_code)


async def _signed_in(
    request: Request, db: AsyncSession, principal: Principal, *, via: str, to: str
) -> Response:
    """Issue the session cookie and record the sign-in in the caller's transaction."""
    services: Services = request.app.state.services
    value, console = services.sessions.issue(principal)
    await services.audit.record(
        db,
        event_type=EventType.SIGNED_IN,
        entity_type=EntityType.CONSOLE_SESSION,
        entity_id=console.session_id,
        actor=principal.subject,
        payload={
            "via": via,
            "roles": sorted(principal.roles),
            "expiresAt": format_instant(console.expires_at),
        },
    )
    response = RedirectResponse(to, status_code=303)
    set_session_cookie(response, request, value)
    log.info("console.signed_in", principal=principal.log_subject, via=via)
    return response


@router.get("/sign-in", summary="Sign-in page")
async def sign_in(
    request: Request,
    services: ServicesDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=2048)] = None,
) -> Response:
    target = safe_next(next_path)
    if await live_session(request, services) is not None:
        return RedirectResponse(target, status_code=303)
    return _sign_in_page(request, next_path=target)


@router.get("/sign-in/link", summary="Redeem a one-time sign-in link")
async def redeem_link(
    request: Request,
    services: ServicesDep,
    token: Annotated[str, Query(max_length=256)] = "",
) -> Response:
    current = await live_session(request, services)
    if current is not None:
        # Login CSRF: a link someone else sent must not silently swap this browser's identity.
        # Ask, and redeem only on a POST carrying this session's CSRF token.
        return render(
            request,
            "sign_in/switch.html",
            {"token": token},
            user=page_user_of(current, services),
        )
    return await _redeem(request, services, token)


@router.post("/sign-in/link", summary="Redeem a one-time sign-in link from a signed-in browser")
async def confirm_link(
    request: Request,
    services: ServicesDep,
    _user: SignedInAction,
    form: CheckedForm,
) -> Response:
    return await _redeem(request, services, form.get("token", "")[:256])


async def _redeem(request: Request, services: Services, token: str) -> Response:
    try:
        async with services.database.unit_of_work() as session:
            principal = await services.sign_in_links.redeem(session, token)
            # Same transaction: the link is spent exactly when the sign-in is on record.
            return await _signed_in(request, session, principal, via="link", to="/")
    except AuthenticationError as error:
        return _sign_in_page(request, message=error.message, status_code=401)


@router.get("/sign-in/oidc", summary="Start signing in with the identity provider")
async def start_oidc(
    request: Request,
    services: ServicesDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=2048)] = None,
) -> Response:
    oidc = services.oidc_login
    if oidc is None:
        return _sign_in_page(
            request,
            message="Sign-in with an identity provider is not configured on this server.",
            status_code=404,
        )
    try:
        start = await oidc.start()
    except AppError as error:
        return _sign_in_page(
            request,
            message=f"The identity provider cannot be reached: {error.message}",
            status_code=502,
        )
    pending = services.sessions.sign(
        OIDC_PURPOSE,
        {**start.pending.to_json(), "next": safe_next(next_path)},
        ttl=timedelta(seconds=OIDC_ATTEMPT_SECONDS),
    )
    response = RedirectResponse(start.authorization_url, status_code=303)
    response.set_cookie(
        OIDC_COOKIE,
        pending,
        max_age=OIDC_ATTEMPT_SECONDS,
        path=OIDC_COOKIE_PATH,
        httponly=True,
        # Lax still sends the cookie on the provider's top-level redirect back to us.
        samesite="lax",
        secure=is_tls(request, services),
    )
    return response


@router.get("/sign-in/callback", summary="Where the identity provider sends the browser back")
async def oidc_callback(
    request: Request,
    services: ServicesDep,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=1024)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response:
    oidc = services.oidc_login
    if oidc is None:
        return _sign_in_page(
            request, message="Sign-in with an identity provider is not configured.", status_code=404
        )
    cookie = request.cookies.get(OIDC_COOKIE)
    try:
        if error:
            raise AuthenticationError(
                f"The identity provider did not sign you in ({error}"
                + (f": {error_description}" if error_description else "")
                + ")."
            )
        if not cookie:
            raise AuthenticationError(
                "This browser has no sign-in in progress (it may have expired); start again."
            )
        payload = services.sessions.unsign(OIDC_PURPOSE, cookie)
        if not code or not state:
            raise AuthenticationError("The identity provider's answer lacks a code or state.")
        principal = await oidc.finish(PendingLogin.from_json(payload), state=state, code=code)
    except AppError as failure:
        response = _sign_in_page(request, message=failure.message, status_code=401)
        _forget_attempt(response, request)
        return response
    if not principal.roles:
        response = _sign_in_page(
            request,
            message=(
                f"You signed in as {principal.email or principal.subject}, but the identity "
                "provider gives you no ChronosOps role (CHRONOSOPS_VIEWER, CHRONOSOPS_ANALYST "
                "or CHRONOSOPS_ADMIN). Ask an administrator for one."
            ),
            status_code=403,
        )
        _forget_attempt(response, request)
        return response
    async with services.database.unit_of_work() as session:
        response = await _signed_in(
            request, session, principal, via="oidc", to=safe_next(str(payload.get("next", "/")))
        )
    _forget_attempt(response, request)
    return response


def _forget_attempt(response: Response, request: Request) -> None:
    response.delete_cookie(
        OIDC_COOKIE,
        path=OIDC_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_tls(request, request.app.state.services),
    )


@router.post("/sign-out", summary="Sign out")
async def sign_out(
    request: Request,
    services: ServicesDep,
    console: SessionDep,
    user: SignedInAction,
    _form: CheckedForm,
) -> Response:
    # Ends the session for every copy of the cookie, not only this browser's.
    async with services.database.unit_of_work() as session:
        await services.sign_outs.sign_out(session, console)
        await services.audit.record(
            session,
            event_type=EventType.SIGNED_OUT,
            entity_type=EntityType.CONSOLE_SESSION,
            entity_id=console.session_id,
            actor=console.principal.subject,
            payload={},
        )
    await services.sign_outs.announce(console)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    clear_session_cookie(response, request)
    log.info("console.signed_out", principal=user.principal.log_subject)
    return response


@router.get("/account", summary="Who you are signed in as")
async def account(request: Request, session: SessionDep, user: SignedInAction) -> Response:
    return render(request, "sign_in/account.html", {"session": session}, user=user)
