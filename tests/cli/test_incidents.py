"""Working incidents from the terminal: ack, resolve, reopen and assign, as the API would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chronosops.cli import app
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.guide import request

runner = CliRunner()


@pytest.fixture
def incident_id(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    for key in ("CHRONOSOPS_OIDC_ISSUER", "CHRONOSOPS_OIDC_JWKS_URL", "CHRONOSOPS_OIDC_AUDIENCE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHRONOSOPS_JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("CHRONOSOPS_LOG_FORMAT", "console")
    monkeypatch.setenv("COLUMNS", "200")
    body = json.dumps(request(sourceRef="cli-1", timeline={"start": "2024-01-15T10:00:00Z"}))
    result = runner.invoke(app, ["ingest", "-"], input=body)
    assert result.exit_code == 0, result.output
    found: str = json.loads(result.stdout)["incidentId"]
    return found


def listed(*args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["incidents", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_ack_assign_and_resolve_move_the_incident_and_name_who_did_it(incident_id: str) -> None:
    ack = runner.invoke(app, ["incidents", "ack", incident_id, "--by", "dana"])
    assert ack.exit_code == 0, ack.output
    assert "acknowledged" in ack.stdout
    assert [item["id"] for item in listed("--lifecycle", "acknowledged")] == [incident_id]

    assign = runner.invoke(app, ["incidents", "assign", incident_id, "sam"])
    assert assign.exit_code == 0, assign.output
    assert [item["assignee"] for item in listed("--assignee", "sam")] == ["sam"]

    resolved = runner.invoke(app, ["incidents", "resolve", incident_id, "--by", "dana"])
    assert resolved.exit_code == 0, resolved.output
    shown = json.loads(runner.invoke(app, ["incidents", "show", incident_id]).stdout)
    lifecycle = shown["incident"]["lifecycle"]
    assert (lifecycle["state"], lifecycle["acknowledgedBy"], lifecycle["resolvedBy"]) == (
        "resolved",
        "dana",
        "dana",
    )

    unassign = runner.invoke(app, ["incidents", "assign", incident_id, "-"])
    assert unassign.exit_code == 0
    assert [item["id"] for item in listed("--assignee", "-")] == [incident_id]


def test_a_transition_that_does_not_apply_exits_1_saying_why(incident_id: str) -> None:
    result = runner.invoke(app, ["incidents", "reopen", incident_id])
    assert result.exit_code == 1
    assert "it is triggered" in result.output


def test_an_unknown_lifecycle_filter_is_refused(incident_id: str) -> None:
    result = runner.invoke(app, ["incidents", "list", "--lifecycle", "closed"])
    assert result.exit_code == 2
    assert "--lifecycle" in result.output


@pytest.mark.parametrize(
    ("option", "value"), [("--severity", "HIGH"), ("--status", "open"), ("--lifecycle", "closed")]
)
def test_an_unknown_filter_value_is_refused_not_an_empty_list(
    cli_env: Path, option: str, value: str
) -> None:
    result = runner.invoke(app, ["incidents", "list", option, value])
    assert result.exit_code == 2, result.output
    _one_error_line(result.output, option, "must be one of")


def test_the_table_shows_each_id_whole_in_an_80_column_terminal(
    incident_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["incidents", "list"])
    assert result.exit_code == 0, result.output
    assert incident_id in result.stdout


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in ("CHRONOSOPS_OIDC_ISSUER", "CHRONOSOPS_OIDC_JWKS_URL", "CHRONOSOPS_OIDC_AUDIENCE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CHRONOSOPS_JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def _one_error_line(output: str, *fragments: str) -> None:
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    for fragment in fragments:
        assert fragment in errors[0], output


@pytest.mark.parametrize(
    ("name", "fragment"), [("missing.json", "no such file"), (".", "is a directory")]
)
def test_ingest_of_a_file_that_is_not_there_is_one_error_line_and_exit_code_2(
    cli_env: Path, name: str, fragment: str
) -> None:
    result = runner.invoke(app, ["ingest", str(cli_env / name)])
    assert result.exit_code == 2, result.output
    _one_error_line(result.output, fragment)


@pytest.mark.parametrize(
    ("title", "fragments"),
    [
        ('"pool\\u0000exhausted"', ("title", "NUL")),
        ('"a", "title": "b"', ("title", "duplicate key")),
        ('"\\ud800"', ("title", "lone surrogate")),
        ("NaN", ("NaN is not valid JSON",)),
    ],
)
def test_ingest_refuses_a_file_the_api_would_refuse_naming_the_place_and_storing_nothing(
    cli_env: Path, title: str, fragments: tuple[str, ...]
) -> None:
    # The file is read as the API reads a body: before, a NUL was stored on SQLite and a
    # traceback on PostgreSQL, and of a key named twice the last one won.
    text = json.dumps(request(sourceRef="cli-refused", title="TITLE"))
    path = cli_env / "request.json"
    path.write_text(text.replace('"TITLE"', title))
    result = runner.invoke(app, ["ingest", str(path)])
    assert result.exit_code == 2, result.output
    _one_error_line(result.output, str(path), *fragments)
    assert listed() == []


def test_ingest_of_a_file_that_is_not_text_is_one_error_line(cli_env: Path) -> None:
    path = cli_env / "request.json"
    path.write_bytes(b"\xff\xfe\x00")
    result = runner.invoke(app, ["ingest", str(path)])
    assert result.exit_code == 2, result.output
    _one_error_line(result.output, "not valid JSON")


def test_ingest_names_a_broken_rule_by_the_api_s_path_and_words(cli_env: Path) -> None:
    body = request(sourceRef="cli-rules", extra=1)
    body["evidenceLite"] = {
        "metrics": [{"name": "m", "value": "high", "timestamp": "2024-01-15T10:00:00Z"}]
    }
    result = runner.invoke(app, ["ingest", "-"], input=json.dumps(body))
    assert result.exit_code == 1, result.output
    assert "item 0: evidenceLite.metrics[0].value: Input should be a valid number" in result.output
    assert "item 0: extra: unknown field" in result.output
