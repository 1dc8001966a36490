"""The migrations build exactly the schema the tables declare, and can be undone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import column, create_engine, insert, inspect, table, text

from chronosops import migrations
from chronosops.bootstrap import metadata
from chronosops.storage.base import JSONValue, UtcDateTime
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


def test_0014_gives_each_open_group_to_its_newest_open_incident(tmp_path: Path) -> None:
    """Two open incidents of one group (the race 0014 closes) migrate without a clash."""
    url = POSTGRES_URL or f"sqlite:///{tmp_path}/groups.db"
    if POSTGRES_URL:
        migrations.downgrade(url, "base")
    migrations.upgrade(url, "0013")
    incident = table(
        "incident",
        *(
            column(name)
            for name in (
                "id",
                "source_type",
                "source_ref",
                "occurrence",
                "title",
                "status",
                "window_minutes_before",
                "window_minutes_after",
                "force_collect",
                "lifecycle",
            )
        ),
        column("request", JSONValue),
        column("start_at", UtcDateTime()),
        column("created_at", UtcDateTime()),
        column("updated_at", UtcDateTime()),
    )
    alert = table(
        "incident_alert",
        *(
            column(name)
            for name in ("id", "incident_id", "source_type", "source_ref", "group_key", "role")
        ),
        column("title"),
        column("start_at", UtcDateTime()),
        column("created_at", UtcDateTime()),
    )
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        for number, (name, lifecycle) in enumerate(
            [("older", "triggered"), ("newer", "acknowledged"), ("closed", "resolved")]
        ):
            at = datetime(2026, 1, 1, 10, number, tzinfo=UTC)
            connection.execute(
                insert(incident).values(
                    id=name,
                    source_type="ALERTMANAGER",
                    source_ref=f"ref-{name}",
                    occurrence=1,
                    title=name,
                    status="analyzed",
                    window_minutes_before=15,
                    window_minutes_after=15,
                    force_collect=False,
                    request={},
                    lifecycle=lifecycle,
                    start_at=at,
                    created_at=at,
                    updated_at=at,
                )
            )
            connection.execute(
                insert(alert).values(
                    id=f"alert-{name}",
                    incident_id=name,
                    source_type="ALERTMANAGER",
                    source_ref=f"ref-{name}",
                    group_key="one-group",
                    role="opened",
                    title=name,
                    start_at=at,
                    created_at=at,
                )
            )
    migrations.upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, group_key FROM incident")).all()
        held: dict[str, str | None] = {row[0]: row[1] for row in rows}
    engine.dispose()
    assert held == {"older": None, "newer": "one-group", "closed": None}


def test_lookups_by_incident_use_the_unique_indexes_that_lead_with_it(tmp_path: Path) -> None:
    """0018 dropped the single-column incident indexes of the audit events and the alerts: the
    lookups by incident must still be index searches, through the unique constraints."""
    url = f"sqlite:///{tmp_path}/plans.db"
    migrations.upgrade(url)
    engine = create_engine(sync_url(url))
    lookups = {
        "SELECT incident_seq, hash FROM audit_event WHERE incident_id = 'i'"
        " ORDER BY incident_seq DESC LIMIT 1": "audit_event",
        "SELECT id FROM audit_event WHERE incident_id = 'i' ORDER BY incident_seq": "audit_event",
        "SELECT id FROM incident_alert WHERE incident_id = 'i'": "incident_alert",
    }
    with engine.connect() as connection:
        for statement, table_name in lookups.items():
            plan = " ".join(
                str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {statement}"))
            )
            assert f"SEARCH {table_name} USING" in plan, (statement, plan)
            assert "(incident_id=?)" in plan, (statement, plan)
        indexed = {
            table_name: {index["name"] for index in inspect(connection).get_indexes(table_name)}
            for table_name in ("audit_event", "incident_alert")
        }
    engine.dispose()
    assert "ix_audit_event_incident_id" not in indexed["audit_event"]
    assert "ix_incident_alert_incident_id" not in indexed["incident_alert"]
