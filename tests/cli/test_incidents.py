"""Working incidents from the terminal: ack, resolve, reopen and assign, as the API would."""

from __future__ import annotations

import json

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
