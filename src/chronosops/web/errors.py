"""One table from error kind to HTTP status, and one body shape for every error.

Every error body is ``{"message", "code"}`` plus what the kind needs: ``errors`` (field
violations), ``requiredRoles`` (403) or ``limit`` (429).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chronosops.core.errors import (
    AppError,
    AuthenticationError,
    ConflictError,
    DisabledError,
    FieldError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnavailableError,
    UnprocessableError,
    UpstreamError,
    field_errors_from_pydantic,
)
from chronosops.incidents import DeliveryInFlightError
from chronosops.storage import DatabaseUnavailableError
from chronosops.storage.failures import unavailable

log = structlog.get_logger("chronosops.http")


class UnsupportedMediaTypeError(InvalidInputError):
    """The body is not in a media type the route reads (HTTP's 415)."""

    code = "unsupported-media-type"


STATUS: tuple[tuple[type[AppError], int], ...] = (
    (UnsupportedMediaTypeError, 415),
    # A vendor retry racing its first attempt: 503 is what every vendor retries later.
    (DeliveryInFlightError, 503),
    (UnprocessableError, 422),
    (InvalidInputError, 400),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (DisabledError, 404),
    (ConflictError, 409),
    (RateLimitedError, 429),
    (UpstreamError, 502),
    # The database (or another dependency) does not answer now: retry after Retry-After.
    (UnavailableError, 503),
)

# Set in the request's scope when a read lost its database connection before answering, so
# `RetryReadsOnceMiddleware` may run it again.
CONNECTION_LOST = "database_connection_lost"

INVALID_BODY = "Invalid request body"


def status_of(error: AppError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500


def field_errors_json(errors: Sequence[FieldError]) -> list[dict[str, str]]:
    return [{"path": e.path, "message": e.message} for e in errors]


def error_response(error: AppError) -> JSONResponse:
    status = status_of(error)
    body: dict[str, Any] = {"message": error.message, "code": error.code}
    headers: dict[str, str] = {}
    if isinstance(error, InvalidInputError) and error.errors:
        body["errors"] = field_errors_json(error.errors)
    if isinstance(error, PermissionDeniedError):
        body["requiredRoles"] = error.required_roles
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="chronosops"'
    if isinstance(error, DeliveryInFlightError | UnavailableError):
        headers["Retry-After"] = str(error.retry_after_seconds)
    if isinstance(error, RateLimitedError):
        body["limit"] = error.limit
        body["retryAfterSeconds"] = error.retry_after_seconds
        headers["Retry-After"] = str(error.retry_after_seconds)
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, error: AppError) -> JSONResponse:
        if isinstance(error, UnavailableError):
            note_unavailable(request, error)
        return error_response(error)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, error: SQLAlchemyError) -> JSONResponse:
        # Handled here rather than as a bare Exception: the server then keeps the keep-alive
        # connection open instead of dropping it after the 500.
        known = unavailable(error)
        if known is None:
            return _internal(request, error)
        note_unavailable(request, known)
        return error_response(known)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(
            InvalidInputError("Invalid request", field_errors_from_pydantic(error.errors()))
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        return _internal(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = str(error.detail) if error.detail else "HTTP error"
        code = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        return JSONResponse(
            {"message": message, "code": code},
            status_code=error.status_code,
            headers=dict(error.headers or {}),
        )


def _internal(request: Request, error: Exception) -> JSONResponse:
    log.error("http.unhandled_error", exc_info=error, path=request.url.path)
    return JSONResponse(
        {
            "message": "Internal server error; the request id in X-Request-Id finds the log line",
            "code": "internal",
        },
        status_code=500,
    )


def note_unavailable(request: Request, error: UnavailableError) -> None:
    """Log it, and let `RetryReadsOnceMiddleware` know when a read lost its connection."""
    if isinstance(error, DatabaseUnavailableError) and error.connection_lost:
        request.scope.setdefault("state", {})[CONNECTION_LOST] = True
    log.warning("http.unavailable", code=error.code, detail=error.detail, path=request.url.path)
