"""One table from error kind to exit code and hint, and the one way every command reports one.

A command that cannot do its work prints, on stderr, one ``error: …`` line saying what went
wrong and, when there is something to try, one ``hint: …`` line; then it exits with its kind's
code. No traceback reaches the terminal for a failure the table knows.

Exit codes: 0 done; 1 the command ran and what it checked or processed failed (its output says
which); 2 the command line, an input file or the settings cannot work; 3 the database is
unavailable (try again later); 4 a remote service failed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from chronosops.config import ConfigurationError
from chronosops.core.errors import AppError, InvalidInputError, NotFoundError, UpstreamError

err = Console(stderr=True, soft_wrap=True, highlight=False)


class UsageError(InvalidInputError):
    """An argument, option or input file the command cannot use."""

    code = "usage"


class SchemaBehindError(ConfigurationError):
    """The database's schema is older than this version."""

    code = "schema-behind"


class MissingProgramError(UsageError):
    """A program the command runs (``prometheus``, ``promtool``) is not on PATH."""

    code = "missing-program"


class ReportedFailuresError(AppError):
    """The command ran and has already printed what failed (an ingest item, an audit event)."""

    code = "failures-reported"

    def __init__(self) -> None:
        super().__init__("")


@dataclass(frozen=True)
class ExitKind:
    kind: type[AppError]
    code: int
    hint: str | None


@cache
def exit_codes() -> tuple[ExitKind, ...]:
    """The table; the first row whose kind the error is an instance of wins: subclasses before
    their parents. Built on first use: the storage errors import SQLAlchemy, which every command
    would otherwise pay for at start-up, `--help` included."""
    from chronosops.storage.failures import URL_SETTING, DatabaseUnavailableError

    return (
        ExitKind(ReportedFailuresError, 1, None),
        ExitKind(
            SchemaBehindError, 2, "run `chronosops db upgrade` (once per release), then retry"
        ),
        ExitKind(
            ConfigurationError,
            2,
            "settings are CHRONOSOPS_* environment variables; docs/configuration.md describes each",
        ),
        ExitKind(
            MissingProgramError,
            2,
            "install Prometheus (`apt install prometheus` brings prometheus and promtool, or "
            "unpack the release from prometheus.io) and put both on PATH",
        ),
        ExitKind(UsageError, 2, "`chronosops COMMAND --help` describes the arguments"),
        ExitKind(
            DatabaseUnavailableError,
            3,
            f"is the database {URL_SETTING} names running and reachable from here? "
            "`chronosops db current` tries to connect",
        ),
        ExitKind(UpstreamError, 4, "the remote service failed; try again later"),
        ExitKind(NotFoundError, 1, None),
        ExitKind(InvalidInputError, 1, None),
        ExitKind(AppError, 1, None),
    )


def exit_kind(error: AppError) -> ExitKind:
    return next(row for row in exit_codes() if isinstance(error, row.kind))


def known_error(error: BaseException) -> AppError | None:
    """The application error a failure stands for, or None for a bug (which keeps its traceback)."""
    if isinstance(error, AppError):
        return error
    # An SQLAlchemy error exists only once SQLAlchemy is loaded: `--help` (click's exit) and
    # the commands that never touch the database must not import it just to find out.
    loaded = sys.modules.get("sqlalchemy.exc")
    if loaded is None or not isinstance(error, loaded.SQLAlchemyError):
        return None
    from chronosops.storage.failures import bad_url, unavailable

    return bad_url(error) or unavailable(error)


def message_of(error: AppError) -> str:
    from chronosops.storage.failures import URL_SETTING, DatabaseUnavailableError

    if isinstance(error, DatabaseUnavailableError):
        where = f"{URL_SETTING}={error.url}" if error.url else URL_SETTING
        return f"{where}: {error.detail or error.message}"
    return error.message


def report(error: AppError) -> int:
    """Print the error (and its hint) and return the exit code of its kind."""
    row = exit_kind(error)
    message = message_of(error)
    if message:
        # One line each, whatever the terminal's width; the message is text, never markup.
        err.print(Text.assemble(("error:", "bold red"), " ", " ".join(message.split())))
        if row.hint:
            err.print(Text.assemble(("hint:", "bold"), " ", row.hint))
    return row.code


def fail(message: str, *, kind: type[AppError] = UsageError) -> NoReturn:
    """Stop the command with ``message`` reported as an error of ``kind``."""
    raise kind(message)


def failures_reported() -> NoReturn:
    """Stop the command with exit code 1, its output having said what failed."""
    raise ReportedFailuresError


class ReportingGroup(typer.core.TyperGroup):
    """The root command: whatever a subcommand raises that the table knows is reported by it."""

    # Typer's own copy of click's Context; Any keeps this override independent of its path.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            known = known_error(error)
            if known is None:
                raise
            raise typer.Exit(report(known)) from None
