"""How commands obtain settings, including the secret `make run` generates for the embedded default."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from rich.console import Console

from chronosops.cli.errors import SchemaBehindError, fail
from chronosops.config import ConfigurationError, Settings, load_settings
from chronosops.core.log_output import configure_logging

if TYPE_CHECKING:
    from chronosops.bootstrap import Services

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
    except ValidationError as exc:
        fail(_settings_problems(exc), kind=ConfigurationError)
    # Logs go to stderr, so stdout stays machine-readable (`TOKEN=$(chronosops token …)`).
    configure_logging(settings.log_level, settings.log_format)
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


def _settings_problems(error: ValidationError) -> str:
    """Pydantic's report as one line naming each variable."""
    return "; ".join(
        f"CHRONOSOPS_{'_'.join(str(part) for part in problem['loc']).upper()}: "
        f"{str(problem['msg']).removeprefix('Value error, ')}"
        for problem in error.errors()
    )


def resolve_migrated() -> Settings:
    """Settings for a command that uses the database: the embedded SQLite is migrated on the
    spot, a PostgreSQL behind this version is refused with the command that fixes it."""
    settings = resolve()
    migrate_or_refuse(settings)
    return settings


def migrate_or_refuse(settings: Settings) -> None:
    """Migrate the embedded SQLite; refuse a PostgreSQL whose schema is behind this version.

    A database that cannot be reached raises `DatabaseUnavailableError`, a URL that names no
    database `ConfigurationError`: the error table reports either in one line.
    """
    from chronosops import migrations  # Alembic and SQLAlchemy: only for commands that migrate

    if settings.is_sqlite:
        migrations.upgrade(settings.database)
        return
    revision = migrations.current_revision(settings.database)
    if revision != migrations.head_revision():
        fail(
            f"the database at revision {revision} is behind {migrations.head_revision()}",
            kind=SchemaBehindError,
        )


def require_runnable(settings: Settings) -> None:
    """Raise `ConfigurationError` (reported by the error table) unless a server could run."""
    settings.check_runnable()


def services_for(settings: Settings) -> Services:
    """The wired services; `ConfigurationError` when the configuration cannot work."""
    from chronosops.bootstrap import build_services  # the whole application: only when used

    return build_services(settings)
