"""Alembic environment: runs migrations with the blocking driver of the configured database."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, Connection, engine_from_config, pool

from chronosops.bootstrap import metadata
from chronosops.storage.base import UtcDateTime

config = context.config


def render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Render our column types by name, so revisions read like the tables that declare them."""
    if kind != "type":
        return False
    if isinstance(obj, UtcDateTime):
        autogen.imports.add("from chronosops.storage.base import JSONValue, UtcDateTime")
        return "UtcDateTime()"
    if isinstance(obj, JSON) or getattr(obj, "impl", None).__class__ is JSON:
        autogen.imports.add("from chronosops.storage.base import JSONValue, UtcDateTime")
        return "JSONValue"
    return False


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        # `chronosops.migrations` opened it with the connect timeout of the settings.
        _migrate(given)
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        _migrate(connection)
    connectable.dispose()


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
