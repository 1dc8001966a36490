"""The command line: tokens, ingest, reading incidents, migrations and refusing bad config."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
import sqlalchemy
from typer.testing import CliRunner

from chronosops import migrations
from chronosops.cli import app
from chronosops.storage.database import sync_url
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.guide import example, request

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    for key in ("CHRONOSOPS_OIDC_ISSUER", "CHRONOSOPS_OIDC_JWKS_URL", "CHRONOSOPS_OIDC_AUDIENCE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHRONOSOPS_JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("CHRONOSOPS_LOG_FORMAT", "console")
    return database_url


def test_token_prints_a_token_with_the_roles_subject_and_lifetime(env: str) -> None:
    result = runner.invoke(
        app, ["token", "--role", "analyst", "--role", "viewer", "--sub", "alice", "--ttl", "2h"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"], audience="chronosops")
    assert claims["sub"] == "alice"
    assert claims["roles"] == ["CHRONOSOPS_ANALYST", "CHRONOSOPS_VIEWER"]
    assert abs(claims["exp"] - (time.time() + 7200)) < 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "owner", "--sub", "x"], "unknown role 'owner'"),
        (["--role", "viewer", "--sub", "x", "--ttl", "forever"], "is not a duration"),
    ],
)
def test_token_refuses_bad_options(env: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["token", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_ingest_reads_a_file_and_incidents_list_and_show_read_it_back(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    source = tmp_path / "incidents.json"
    source.write_text(json.dumps([example("basic_request"), example("example_2_with_evidence")]))
    result = runner.invoke(app, ["ingest", str(source)])
    assert result.exit_code == 0, result.output
    outputs = [json.loads(chunk) for chunk in _json_objects(result.stdout)]
    assert [o["status"] for o in outputs] == ["analyzed", "analyzed"]
    assert [o["httpStatus"] for o in outputs] == [201, 201]

    listing = runner.invoke(app, ["incidents", "list"])
    assert listing.exit_code == 0
    assert "Database connection pool" in listing.stdout
    assert "Service outage in" in listing.stdout

    as_json = runner.invoke(app, ["incidents", "list", "--json", "--severity", "critical"])
    assert [json.loads(line)["id"] for line in as_json.stdout.splitlines()] == [
        outputs[1]["incidentId"]
    ]

    shown = runner.invoke(app, ["incidents", "show", outputs[1]["incidentId"]])
    assert shown.exit_code == 0
    detail = json.loads(shown.stdout)
    assert detail["incident"]["title"] == "Database connection pool exhaustion"
    assert detail["latestAnalysis"]["topHypothesisId"] == "CAPACITY_SATURATION"


def test_ingest_from_stdin_reports_invalid_items_and_fails(env: str) -> None:
    body = json.dumps([request(title=""), request(sourceRef="fine")])
    result = runner.invoke(app, ["ingest", "-"], input=body)
    assert result.exit_code == 1
    assert "item 0" in result.output
    assert "title" in result.output
    assert '"status": "analyzed"' in result.stdout


def test_showing_an_unknown_incident_exits_1(env: str) -> None:
    result = runner.invoke(app, ["incidents", "show", "nope"])
    assert result.exit_code == 1
    assert "Incident not found: nope" in result.output


def test_db_upgrade_migrates_a_new_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", url)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert migrations.current_revision(url) == migrations.head_revision()
    current = runner.invoke(app, ["db", "current"])
    assert f"current: {migrations.head_revision()}" in current.stdout


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "No way to authenticate callers"),
        ("changeme-changeme-changeme-changeme", "looks like a placeholder"),
        ("short-random-Xk3", "use at least 32"),
    ],
)
def test_serve_refuses_to_start_without_a_usable_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str | None, message: str
) -> None:
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", f"sqlite:///{tmp_path}/serve.db")
    for key in ("CHRONOSOPS_OIDC_ISSUER", "CHRONOSOPS_OIDC_JWKS_URL", "CHRONOSOPS_OIDC_AUDIENCE"):
        monkeypatch.delenv(key, raising=False)
    if secret is None:
        monkeypatch.delenv("CHRONOSOPS_JWT_SECRET", raising=False)
    else:
        monkeypatch.setenv("CHRONOSOPS_JWT_SECRET", secret)
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert message in result.output


def test_serve_refuses_half_configured_oidc(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", f"sqlite:///{tmp_path}/serve.db")
    monkeypatch.setenv("CHRONOSOPS_OIDC_ISSUER", "https://idp.example")
    monkeypatch.delenv("CHRONOSOPS_OIDC_JWKS_URL", raising=False)
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "CHRONOSOPS_OIDC_JWKS_URL" in result.output


def _json_objects(text: str) -> list[str]:
    """Split concatenated pretty-printed JSON objects (one per ingested item)."""
    decoder = json.JSONDecoder()
    objects, index = [], 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        _, end = decoder.raw_decode(text, index)
        objects.append(text[index:end])
        index = end
    return objects


def test_audit_verify_walks_the_chain_including_the_sign_in_links_it_issued(env: str) -> None:
    assert runner.invoke(app, ["ingest", "-"], input=json.dumps(request())).exit_code == 0
    assert runner.invoke(app, ["sign-in-link", "--sub", "dana"]).exit_code == 0
    result = runner.invoke(app, ["audit", "verify", "--batch-size", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    # INCIDENT_CREATED, EVIDENCE_BUNDLE_CREATED, ANALYSIS_CREATED, POSTMORTEM_CREATED,
    # SIGN_IN_LINK_ISSUED
    assert "VERIFIED 5 events" in result.stdout


def test_audit_verify_exits_1_naming_the_first_broken_event(env: str) -> None:
    assert runner.invoke(app, ["ingest", "-"], input=json.dumps(request())).exit_code == 0
    engine = sqlalchemy.create_engine(sync_url(env))
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 2")
        )
    engine.dispose()
    result = runner.invoke(app, ["audit", "verify", "--quiet"])
    assert result.exit_code == 1
    assert "FAILED at seq 2" in result.stderr
    assert "modified after it was written" in result.stderr


def test_audit_checkpoint_signs_the_head_and_verify_then_catches_deleted_last_events(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CHRONOSOPS_AUDIT_CHECKPOINT_KEY", "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
    )
    monkeypatch.setenv("CHRONOSOPS_AUDIT_CHECKPOINT_INTERVAL_MINUTES", "0")
    assert runner.invoke(app, ["ingest", "-"], input=json.dumps(request())).exit_code == 0
    signed = runner.invoke(app, ["audit", "checkpoint"])
    assert signed.exit_code == 0, signed.output
    # Ingest, bundle, analysis and its postmortem: four events.
    assert "checkpoint: seq 4" in signed.stdout
    verified = runner.invoke(app, ["audit", "verify", "--quiet"])
    assert verified.exit_code == 0, verified.output
    assert "matched the signed head at seq 4" in verified.stdout
    engine = sqlalchemy.create_engine(sync_url(env))
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DELETE FROM audit_event WHERE seq = 4"))
    engine.dispose()
    result = runner.invoke(app, ["audit", "verify", "--quiet"])
    assert result.exit_code == 1
    assert "FAILED at seq 4" in result.stderr
    assert "the last 1 events were deleted" in result.stderr


def test_audit_checkpoint_without_a_key_says_which_setting_to_set(env: str) -> None:
    assert runner.invoke(app, ["ingest", "-"], input=json.dumps(request())).exit_code == 0
    result = runner.invoke(app, ["audit", "checkpoint"])
    assert result.exit_code == 2
    assert "CHRONOSOPS_AUDIT_CHECKPOINT_KEY" in result.stderr
