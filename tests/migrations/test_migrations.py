"""The migrations build exactly the schema the tables declare, and can be undone."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from chronosops import migrations
from chronosops.bootstrap import metadata
from chronosops.storage.database import sync_url
from tests.fixtures.database import POSTGRES_URL


def test_the_migrated_schema_matches_the_tables(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_migrations_go_down_to_nothing_and_up_again(tmp_path: Path) -> None:
    url = POSTGRES_URL or f"sqlite:///{tmp_path}/roundtrip.db"
    migrations.upgrade(url)
    migrations.downgrade(url, "base")
    engine = create_engine(sync_url(url))
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(url)
    assert migrations.current_revision(url) == migrations.head_revision()
    assert {"incident", "evidence_bundle", "analysis", "audit_event"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
