"""Application errors, free of transport details.

The tree::

    AppError
    ├── InvalidInputError        the caller sent something that breaks a rule (carries field errors)
    │   └── UnprocessableError   well-formed but cannot be honoured (e.g. a reused idempotency key)
    ├── AuthenticationError      no or bad credentials
    ├── PermissionDeniedError    authenticated, but lacks a role (carries the roles that would do)
    ├── NotFoundError
    ├── ConflictError            the request races or contradicts stored state
    ├── RateLimitedError         a limit was hit (carries which one and when to retry)
    ├── DisabledError            the capability exists but is switched off by configuration
    ├── UpstreamError            a backend we depend on failed
    └── UnavailableError         something we depend on does not answer now; retry later

`web` maps each kind to one HTTP status in one table; `cli` maps them to exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One violated rule: where (a dotted path such as ``timeline.start``) and what."""

    path: str
    message: str


class AppError(Exception):
    code: ClassVar[str] = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(AppError):
    code = "invalid-input"

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class UnprocessableError(InvalidInputError):
    code = "unprocessable"


class AuthenticationError(AppError):
    code = "unauthenticated"


class PermissionDeniedError(AppError):
    code = "forbidden"

    def __init__(self, message: str, required_roles: list[str]) -> None:
        super().__init__(message)
        self.required_roles = required_roles


class NotFoundError(AppError):
    code = "not-found"


class ConflictError(AppError):
    code = "conflict"


class RateLimitedError(AppError):
    code = "rate-limited"

    def __init__(self, message: str, *, limit: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds


class DisabledError(AppError):
    code = "disabled"


class UpstreamError(AppError):
    code = "upstream-failed"


class UnavailableError(AppError):
    """A dependency (the database) does not answer now; the same request may work later.

    ``detail`` is the driver's cause, for logs and the operator's terminal; ``message`` is what
    a caller may read.
    """

    code = "unavailable"

    def __init__(self, message: str, *, detail: str = "", retry_after_seconds: int = 1) -> None:
        super().__init__(message)
        self.detail = detail
        self.retry_after_seconds = retry_after_seconds


def _path(loc: Sequence[int | str]) -> str:
    """A pydantic location as the API names a field: ``evidenceLite.metrics[0].value``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def field_errors_from_pydantic(
    errors: Sequence[Any], *, allowed: Sequence[str] = ()
) -> list[FieldError]:
    """Pydantic errors as ``{path, message}``, phrased for a person reading them."""
    found: list[FieldError] = []
    for error in errors:
        path = _path(error["loc"])
        kind = error["type"]
        message = str(error["msg"]).removeprefix("Value error, ")
        if kind == "extra_forbidden":
            message = "unknown field; check its spelling against the API contract"
        elif kind == "missing":
            message = "required field is missing"
        found.append(FieldError(path=path, message=message))
    return found
