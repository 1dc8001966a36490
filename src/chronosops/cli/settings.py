"""How commands obtain settings, including the secret `make run` generates for the embedded default."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import typer
from rich.console import Console

from chronosops import migrations
from chronosops.bootstrap import Services, build_services, configure_logging
from chronosops.config import ConfigurationError, Settings, load_settings

err = Console(stderr=True)

EMBEDDED_SECRET_FILE = "jwt-secret"
# Beside the database file, never inside it: whoever rewrites the chain must not hold the key.
EMBEDDED_CHECKPOINT_KEY_FILE = "audit-checkpoint-key"


def embedded_secret_path(settings: Settings, name: str = EMBEDDED_SECRET_FILE) -> Path | None:
    """``./data/<name>`` beside the embedded database; None for any other database."""
    path = settings.sqlite_path
    if path is None or not settings.is_embedded_default:
        return None
    return path.parent / name


def _embedded_secret(path: Path | None, *, generate: bool, what: str, setting: str) -> str | None:
    """The secret kept in ``path`` (mode 600), generated first when asked to and missing."""
    if path is None:
        return None
    if not path.exists():
        if not generate:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        err.print(
            f"[yellow]Generated a local {what} for the embedded default in {path} "
            f"(set {setting} to use your own).[/yellow]"
        )
    return path.read_text().strip()


def resolve(*, generate_embedded_secret: bool = False, **overrides: object) -> Settings:
    """Settings from the environment; on the embedded default, generated secrets if none are set.

    The generated JWT secret lives in ``./data/jwt-secret`` and the audit checkpoint key in
    ``./data/audit-checkpoint-key`` (mode 600, outside the database), reused on every start, so
    tokens and checkpoints stay valid across restarts. Neither is used for any other database.
    """
    try:
        settings = load_settings(**overrides)
    except ValueError as exc:
        fail(f"invalid configuration: {exc}")
    # Logs go to stderr, so stdout stays machine-readable (`TOKEN=$(chronosops token …)`).
    configure_logging(settings)
    if settings.audit_checkpoint_key is None:
        key = _embedded_secret(
            embedded_secret_path(settings, EMBEDDED_CHECKPOINT_KEY_FILE),
            generate=generate_embedded_secret,
            what="audit checkpoint key",
            setting="CHRONOSOPS_AUDIT_CHECKPOINT_KEY",
        )
        if key is not None:
            overrides = {**overrides, "audit_checkpoint_key": key}
            settings = load_settings(**overrides)
    if settings.jwt_secret is not None or settings.oidc_enabled:
        return settings
    secret = _embedded_secret(
        embedded_secret_path(settings),
        generate=generate_embedded_secret,
        what="JWT secret",
        setting="CHRONOSOPS_JWT_SECRET",
    )
    if secret is None:
        return settings
    return load_settings(**overrides, jwt_secret=secret)


def resolve_migrated() -> Settings:
    """Settings for a command that uses the database: the embedded SQLite is migrated on the
    spot, a PostgreSQL behind this version is refused with the command that fixes it."""
    settings = resolve()
    if settings.is_sqlite:
        migrations.upgrade(settings.database_url)
    elif not migrations.is_up_to_date(settings.database_url):
        fail("the database is behind this version: run `chronosops db upgrade` first")
    return settings


def fail(message: str, *, code: int = 2) -> None:
    err.print(f"[bold red]error:[/bold red] {message}")
    raise typer.Exit(code)


def require_runnable(settings: Settings) -> None:
    try:
        settings.check_runnable()
    except ConfigurationError as exc:
        fail(exc.message)


def services_for(settings: Settings) -> Services:
    """The wired services, or a message (not a traceback) when the configuration cannot work."""
    try:
        return build_services(settings)
    except ConfigurationError as exc:
        fail(exc.message)
        raise  # unreachable: fail() exits
