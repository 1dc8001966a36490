"""Who is looking at a page: the session cookie, roles, rate limits, CSRF-checked forms.

Pages authenticate with a signed session cookie (`auth.SessionCodec`), never with bearer
tokens, so every state-changing form also carries a CSRF token bound to the session; a form
posted from another site has no way to know it. Errors raised while serving a page are
rendered as pages (`PageRoute`), not as the API's JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlsplit

import structlog
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from chronosops.auth import (
    ADMIN_ROLES,
    READ_ROLES,
    WRITE_ROLES,
    ConsoleSession,
    LimitGroup,
    Role,
)
from chronosops.bootstrap import Services
from chronosops.core.errors import (
    AppError,
    AuthenticationError,
    FieldError,
    InvalidInputError,
    PermissionDeniedError,
    UnavailableError,
)
from chronosops.core.storable import text_problem
from chronosops.web.deps import FORBIDDEN, ServicesDep
from chronosops.web.errors import UnsupportedMediaTypeError, note_unavailable, status_of
from chronosops.web.pages.rendering import PageUser, render

log = structlog.get_logger("chronosops.console")

SESSION_COOKIE = "chronosops_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# A form has a handful of fields; a body with thousands is an attack on the parser.
MAX_FORM_FIELDS = 32


class SignInRequiredError(AuthenticationError):
    code = "sign-in-required"


class CsrfError(PermissionDeniedError):
    code = "csrf-failed"

    def __init__(self) -> None:
        super().__init__(
            "This form expired or was not sent from the console. Reload the page and try again.",
            [],
        )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def is_tls(request: Request, services: Services) -> bool:
    return request.url.scheme == "https" or services.settings.base_url.startswith("https://")


def safe_next(target: str | None) -> str:
    """A same-site path to go to after signing in; anything else (``//evil``, URLs) is ``/``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _here(request: Request) -> str:
    if is_htmx(request):
        current = urlsplit(request.headers.get("hx-current-url", ""))
        return safe_next(current.path + (f"?{current.query}" if current.query else ""))
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    services: Services = request.app.state.services
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(services.sessions.ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_tls(request, services),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    services: Services = request.app.state.services
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_tls(request, services),
    )


def current_session(request: Request, services: Services) -> ConsoleSession | None:
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    try:
        return services.sessions.read(value)
    except AuthenticationError:
        return None


async def live_session(request: Request, services: Services) -> ConsoleSession | None:
    """The session the cookie carries, unless it is invalid, expired or was signed out of."""
    session = current_session(request, services)
    if session is None:
        return None
    if services.sign_outs.recently_live(session.session_id):
        if await services.sign_outs.announced(session.session_id):
            return None
        return session
    async with services.database.unit_of_work(write=False) as db:
        if await services.sign_outs.is_signed_out(db, session.session_id):
            return None
    return session


async def console_session(request: Request, services: ServicesDep) -> ConsoleSession:
    session = await live_session(request, services)
    if session is None:
        raise SignInRequiredError("Sign in to use the console")
    request.scope.setdefault("state", {})["principal"] = session.principal.log_subject
    return session


SessionDep = Annotated[ConsoleSession, Depends(console_session)]


def page_user_of(session: ConsoleSession, services: Services) -> PageUser:
    return PageUser(
        principal=session.principal,
        csrf_token=services.sessions.csrf_token(session.session_id),
    )


def require_page(
    roles: tuple[Role, ...], limit: LimitGroup
) -> Callable[[ConsoleSession, Services], Awaitable[PageUser]]:
    async def dependency(session: SessionDep, services: ServicesDep) -> PageUser:
        if roles and not session.principal.has_any(roles):
            raise PermissionDeniedError(FORBIDDEN, [role.value for role in roles])
        await services.limiter.hit(limit, session.principal.subject)
        return page_user_of(session, services)

    return dependency


ViewerPage = Annotated[PageUser, Depends(require_page(READ_ROLES, "read"))]
AnalystPage = Annotated[PageUser, Depends(require_page(WRITE_ROLES, "read"))]
AnalystAction = Annotated[PageUser, Depends(require_page(WRITE_ROLES, "ingest"))]
AdminPage = Annotated[PageUser, Depends(require_page(ADMIN_ROLES, "read"))]
SignedInAction = Annotated[PageUser, Depends(require_page((), "read"))]


async def checked_form(
    request: Request, session: SessionDep, services: ServicesDep
) -> dict[str, str]:
    """The posted form's fields, once its CSRF token proves it came from this session's page."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != FORM_MEDIA_TYPE:
        raise UnsupportedMediaTypeError(
            "Forms must be sent as application/x-www-form-urlencoded",
            [FieldError("Content-Type", f"must be {FORM_MEDIA_TYPE}")],
        )
    raw = await request.body()
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidInputError(
            "The form could not be read", [FieldError("", "not a URL-encoded form")]
        ) from None
    fields = dict(pairs)
    token = request.headers.get(CSRF_HEADER) or fields.get(CSRF_FIELD)
    if not services.sessions.check_csrf(session.session_id, token):
        log.warning("console.csrf_rejected", path=request.url.path)
        raise CsrfError
    # PostgreSQL cannot store NUL (SQLite can): refused here, as the API refuses it, so that a
    # form is a 400 naming the field on both databases rather than a 500 on one.
    problems = [
        FieldError(name, problem)
        for name, value in fields.items()
        if (problem := text_problem(name) or text_problem(value)) is not None
    ]
    if problems:
        raise InvalidInputError("Invalid form", problems)
    return fields


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


def sign_in_redirect(request: Request) -> Response:
    target = f"/sign-in?next={quote(_here(request), safe='')}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def render_error(request: Request, error: AppError) -> Response:
    services: Services = request.app.state.services
    session = current_session(request, services)
    user = page_user_of(session, services) if session else None
    status = status_of(error)
    headers: dict[str, str] = {}
    if status in (429, 503):
        headers["Retry-After"] = str(getattr(error, "retry_after_seconds", 60))
    if isinstance(error, UnavailableError):
        note_unavailable(request, error)
    context: dict[str, Any] = {
        "status": status,
        "error": error,
        "field_errors": error.errors if isinstance(error, InvalidInputError) else [],
        "required_roles": (
            error.required_roles if isinstance(error, PermissionDeniedError) else []
        ),
    }
    return render(
        request, "errors/error.html", context, user=user, status_code=status, headers=headers
    )


class PageRoute(APIRoute):
    """A route whose failures are pages: sign-in redirects, and errors people can read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequiredError:
                return sign_in_redirect(request)
            except AppError as error:
                return render_error(request, error)
            except RequestValidationError as error:
                problems = [
                    FieldError(".".join(str(p) for p in e["loc"][1:]), str(e["msg"]))
                    for e in error.errors()
                ]
                return render_error(request, InvalidInputError("Invalid request", problems))

        return page_handler
