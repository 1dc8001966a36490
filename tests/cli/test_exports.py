"""``chronosops export`` and ``chronosops verify-export``: files a reviewer can check offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chronosops.cli import app
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.guide import example

runner = CliRunner()


@pytest.fixture
def incident_id(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    for key in ("CHRONOSOPS_OIDC_ISSUER", "CHRONOSOPS_OIDC_JWKS_URL", "CHRONOSOPS_OIDC_AUDIENCE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHRONOSOPS_JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("CHRONOSOPS_LOG_FORMAT", "console")
    result = runner.invoke(
        app, ["ingest", "-"], input=json.dumps(example("example_2_with_evidence"))
    )
    assert result.exit_code == 0, result.output
    found: str = json.loads(result.stdout)["incidentId"]
    return found


@pytest.mark.parametrize("name", ["export.json", "export.zip"])
def test_an_exported_file_verifies(incident_id: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    assert runner.invoke(app, ["export", incident_id, "-o", str(path)]).exit_code == 0
    result = runner.invoke(app, ["verify-export", str(path)])
    assert result.exit_code == 0, result.output
    assert "VERIFIED 1 bundle(s) re-hashed, 1 postmortem(s), 4 audit event(s)" in result.stdout


def test_export_without_a_file_prints_the_json(incident_id: str) -> None:
    result = runner.invoke(app, ["export", incident_id])
    assert json.loads(result.stdout)["incident"]["id"] == incident_id


def test_a_tampered_export_exits_1(incident_id: str, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    runner.invoke(app, ["export", incident_id, "-o", str(path)])
    document = json.loads(path.read_text())
    document["analyses"][0]["result"]["summary"] = "edited"
    document["bundles"][0]["content"]["sources"] = ["elsewhere"]
    path.write_text(json.dumps(document))
    result = runner.invoke(app, ["verify-export", str(path)])
    assert result.exit_code == 1


def test_a_file_that_is_not_an_export_exits_2(incident_id: str, tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"hello": "world"}')
    assert runner.invoke(app, ["verify-export", str(path)]).exit_code == 2


def test_exporting_an_unknown_incident_exits_2(incident_id: str) -> None:
    assert runner.invoke(app, ["export", "no-such-incident"]).exit_code == 2
