"""Schema migrations (Alembic), shipped inside the package so an installed server can upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, pool

from chronosops.config import DatabaseSettings
from chronosops.storage.database import connect_args, ensure_sqlite_directory, sync_url
from chronosops.storage.failures import translated

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def _limits(database: str | DatabaseSettings) -> DatabaseSettings:
    return database if isinstance(database, DatabaseSettings) else DatabaseSettings(url=database)


def _engine(limits: DatabaseSettings) -> Engine:
    """A one-connection engine whose connect is bounded; statements are not (a migration may
    rightly run for minutes)."""
    with translated(limits, opening=True):
        return create_engine(
            sync_url(limits.url),
            poolclass=pool.NullPool,
            connect_args=connect_args(limits, statements=False),
        )


def _run(database: str | DatabaseSettings, action: str, *arguments: str, **options: object) -> None:
    limits = _limits(database)
    ensure_sqlite_directory(limits.url)
    config = alembic_config(limits.url)
    engine = _engine(limits)
    with translated(limits):
        try:
            with engine.begin() as connection:
                # env.py runs on this connection instead of opening an unbounded one.
                config.attributes["connection"] = connection
                getattr(command, action)(config, *arguments, **options)
        finally:
            engine.dispose()


def upgrade(database: str | DatabaseSettings, revision: str = "head") -> None:
    """Apply migrations; raise `ConfigurationError` for a URL that names no database and
    `DatabaseUnavailableError` when the database does not answer."""
    _run(database, "upgrade", revision)


def downgrade(database: str | DatabaseSettings, revision: str) -> None:
    _run(database, "downgrade", revision)


def revision(database: str | DatabaseSettings, message: str) -> None:
    """Autogenerate a new revision from the difference between the tables and the database."""
    _run(database, "revision", message=message, autogenerate=True)


def head_revision() -> str | None:
    return ScriptDirectory(str(HERE)).get_current_head()


def revision_of(connection: Connection) -> str | None:
    """The revision a database is at, read on an open connection."""
    return MigrationContext.configure(connection).get_current_revision()


def current_revision(database: str | DatabaseSettings) -> str | None:
    limits = _limits(database)
    engine = _engine(limits)
    with translated(limits):
        try:
            with engine.connect() as connection:
                return revision_of(connection)
        finally:
            engine.dispose()


def is_up_to_date(database: str | DatabaseSettings) -> bool:
    try:
        return current_revision(database) == head_revision()
    except Exception:  # noqa: BLE001 — an unreachable database is simply "not up to date"
        return False
