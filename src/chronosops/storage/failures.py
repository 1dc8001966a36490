"""Which database failures mean "not now" rather than "this request is wrong", and how they read.

A request that meets an unreachable, overloaded, locked or slow database gets a
`DatabaseUnavailableError` (503 with ``Retry-After`` on HTTP, exit code 3 in the terminal)
instead of a driver exception. The setting that bounds each wait is named in the detail, so an
operator reading a log line knows which knob to turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from chronosops.config import ConfigurationError, DatabaseSettings
from chronosops.core.errors import UnavailableError

URL_SETTING = "CHRONOSOPS_DATABASE_URL"

# PostgreSQL SQLSTATE classes and codes that say "the server cannot serve this now": connection
# exceptions, insufficient resources, operator intervention (statement timeout, shutdown), lock
# timeouts, and a transaction that lost a race (serialization failure, deadlock).
_TRANSIENT_CLASSES = ("08", "53", "57")
_TRANSIENT_CODES = frozenset({"40001", "40P01", "55P03"})
STATEMENT_TIMEOUT = "57014"

_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


class DatabaseUnavailableError(UnavailableError):
    """The database did not answer in time or lost the connection.

    ``connection_lost`` is true when a working connection broke under the request: nothing was
    committed, so an idempotent read may be run once more on a fresh connection.
    """

    code = "database-unavailable"

    def __init__(
        self,
        message: str,
        *,
        detail: str = "",
        retry_after_seconds: int = 1,
        connection_lost: bool = False,
        url: str = "",
    ) -> None:
        super().__init__(message, detail=detail, retry_after_seconds=retry_after_seconds)
        self.connection_lost = connection_lost
        self.url = url
        """The database URL without its password, for the operator's terminal only."""


def printable_url(url: str) -> str:
    """The database URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def unavailable(
    error: BaseException, limits: DatabaseSettings | None = None
) -> DatabaseUnavailableError | None:
    """The "retry later" reading of a database failure, or None when it is not one."""
    if isinstance(error, DatabaseUnavailableError):
        return error
    limits = limits or DatabaseSettings(url="")
    if isinstance(error, PoolTimeoutError):
        return DatabaseUnavailableError(
            "Database unavailable: every connection is busy; retry shortly",
            detail=f"no pooled connection became free within {limits.pool_timeout_seconds:g} s "
            "(CHRONOSOPS_DATABASE_POOL_TIMEOUT_SECONDS)",
            retry_after_seconds=2,
        )
    if not isinstance(error, DBAPIError):
        return None
    cause = _first_line(error.orig)
    if error.connection_invalidated:
        return DatabaseUnavailableError(
            "Database unavailable: the connection was lost; retry shortly",
            detail=f"connection lost: {cause}",
            connection_lost=True,
        )
    if not isinstance(error, OperationalError | InterfaceError):
        return None
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate == STATEMENT_TIMEOUT:
        return DatabaseUnavailableError(
            "Database unavailable: a statement did not finish in time; retry later",
            detail=f"{cause} (CHRONOSOPS_DATABASE_STATEMENT_TIMEOUT_SECONDS="
            f"{limits.statement_timeout_seconds:g})",
            retry_after_seconds=5,
        )
    if isinstance(sqlstate, str):
        if sqlstate.startswith(_TRANSIENT_CLASSES) or sqlstate in _TRANSIENT_CODES:
            return DatabaseUnavailableError(
                "Database unavailable; retry shortly", detail=f"{cause} (SQLSTATE {sqlstate})"
            )
        return None
    if any(marker in cause.lower() for marker in _SQLITE_BUSY):
        return DatabaseUnavailableError(
            "Database unavailable: another writer holds the database; retry shortly",
            detail=f"{cause} after {limits.busy_timeout_seconds:g} s "
            "(CHRONOSOPS_DATABASE_BUSY_TIMEOUT_SECONDS)",
            retry_after_seconds=2,
        )
    if getattr(error.orig, "sqlite_errorcode", None) is not None:
        # SQLite also reports bad SQL and missing tables as OperationalError: not transient.
        return None
    # A client-side failure of the PostgreSQL driver: refused, unresolvable, timed out.
    return DatabaseUnavailableError(
        "Database unavailable: cannot connect; retry later",
        detail=f"cannot connect: {cause}",
        retry_after_seconds=5,
    )


def bad_url(error: BaseException) -> ConfigurationError | None:
    """A database URL that cannot name any database this build can open."""
    if isinstance(error, NoSuchModuleError):
        return ConfigurationError(
            f"{URL_SETTING} names a database this build cannot open ({_first_line(error)}); "
            "use sqlite:///path or postgresql+psycopg://user@host:5432/name"
        )
    if isinstance(error, ArgumentError):
        return ConfigurationError(
            f"{URL_SETTING} is not a database URL ({_first_line(error)}); "
            "use sqlite:///path or postgresql+psycopg://user@host:5432/name"
        )
    return None


# What `translated` reads for a known failure; any other error goes through it unchanged.
TRANSLATED_ERRORS = (DBAPIError, PoolTimeoutError, ArgumentError)


@contextmanager
def translated(limits: DatabaseSettings | None = None, *, opening: bool = False) -> Iterator[None]:
    """Raise a URL or availability failure as the application error it is.

    ``opening``: the block creates an engine, where a missing driver module means the URL
    names a database this build has no driver for.
    """
    try:
        yield
    except ImportError as error:
        if not opening:
            raise
        raise ConfigurationError(
            f"{URL_SETTING} names a database this build has no driver for ({error}); "
            "use sqlite:///path or postgresql+psycopg://user@host:5432/name"
        ) from None
    except TRANSLATED_ERRORS as error:
        known = translation(error, limits)
        if known is None:
            raise
        raise known from error


def translation(error: BaseException, limits: DatabaseSettings | None) -> Exception | None:
    """What `translated` raises for ``error`` (from it), or None when it lets it go on."""
    if not isinstance(error, TRANSLATED_ERRORS):
        return None
    known = bad_url(error) or unavailable(error, limits)
    if isinstance(known, DatabaseUnavailableError) and limits and not known.url:
        known.url = printable_url(limits.url)
    return known
