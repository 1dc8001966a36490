"""Every command reports a failure as one `error:` line, a `hint:` when one helps, and the exit
code of its kind; a wrong database URL never prints a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chronosops.cli import app
from chronosops.cli.errors import (
    ReportedFailuresError,
    SchemaBehindError,
    UsageError,
    exit_codes,
    exit_kind,
)
from chronosops.config import ConfigurationError
from chronosops.core.errors import AppError, NotFoundError, UpstreamError
from chronosops.storage import DatabaseUnavailableError
from tests.fixtures.silent_server import hung_database_url, silent_server

SECRET = "0f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def chronosops(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHRONOSOPS_")}
    return subprocess.run(
        [sys.executable, "-m", "chronosops", *args],
        cwd=cwd,
        env={**clean, "CHRONOSOPS_JWT_SECRET": SECRET, "COLUMNS": "80", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_error_line(stderr: str, *fragments: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert set(lines) - set(errors) <= {line for line in lines if line.startswith("hint: ")}
    assert len(lines) <= 2, stderr
    for fragment in fragments:
        assert fragment in errors[0], stderr
    return errors[0]


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["db", "upgrade"],
        # Was exit 2 with the arguments' hint and "Database unavailable: cannot connect".
        ["export", "some-incident"],
    ],
)
def test_a_database_that_refuses_connections_is_one_line_naming_the_setting_and_the_cause(
    command: list[str], tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://chronosops:hunter2@127.0.0.1:{_closed_port()}/chronosops"
    result = chronosops(*command, cwd=tmp_path, CHRONOSOPS_DATABASE_URL=url)
    assert result.returncode == 3
    line = assert_one_error_line(result.stderr, "CHRONOSOPS_DATABASE_URL", "Connection refused")
    assert "hunter2" not in result.stderr
    assert "chronosops:***@127.0.0.1" in line
    assert "hint: " in result.stderr


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("mysql://root@127.0.0.1/chronosops", "has no driver for"),
        ("nosuchdb://root@127.0.0.1/chronosops", "cannot open"),
        ("not a database url", "is not a database URL"),
    ],
)
@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"]])
def test_a_url_that_names_no_database_is_one_line_and_exit_code_2(
    command: list[str], url: str, cause: str, tmp_path: Path
) -> None:
    result = chronosops(*command, cwd=tmp_path, CHRONOSOPS_DATABASE_URL=url)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "CHRONOSOPS_DATABASE_URL", cause)


def test_an_sqlite_path_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = chronosops(
        "db", "upgrade", cwd=tmp_path, CHRONOSOPS_DATABASE_URL=f"sqlite:///{blocker}/sub/x.db"
    )
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "CHRONOSOPS_DATABASE_URL", "cannot create")


def test_db_upgrade_on_a_database_that_never_answers_gives_up_at_the_connect_timeout(
    tmp_path: Path,
) -> None:
    with silent_server() as port:
        started = time.monotonic()
        result = chronosops(
            "db",
            "upgrade",
            cwd=tmp_path,
            CHRONOSOPS_DATABASE_URL=hung_database_url(port),
            CHRONOSOPS_DATABASE_CONNECT_TIMEOUT_SECONDS="1",
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 3
    assert_one_error_line(result.stderr, "CHRONOSOPS_DATABASE_URL", "timeout")
    assert elapsed < 40  # mostly interpreter start-up on a loaded machine; unbounded before


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("CHRONOSOPS_DATABASE_PROBE_TIMEOUT_SECONDS", "soon"),
        # A JSON setting pydantic-settings cannot decode: a traceback before.
        ("CHRONOSOPS_COLLECTORS_ITEM_CAPS", "log_template=100"),
    ],
)
def test_an_invalid_setting_is_one_line_naming_the_variable(
    setting: str, value: str, tmp_path: Path
) -> None:
    result = chronosops("db", "current", cwd=tmp_path, **{setting: value})
    assert result.returncode == 2
    assert_one_error_line(result.stderr, setting)


def test_db_upgrade_to_a_revision_that_does_not_exist_is_one_line_and_exit_code_2(
    tmp_path: Path,
) -> None:
    result = chronosops(
        "db",
        "upgrade",
        "nonsense",
        cwd=tmp_path,
        CHRONOSOPS_DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
    )
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "nonsense", "chronosops db current")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ReportedFailuresError(), 1),
        (NotFoundError("Incident not found: x"), 1),
        (UsageError("bad option"), 2),
        (ConfigurationError("bad setting"), 2),
        (SchemaBehindError("behind"), 2),
        (DatabaseUnavailableError("down"), 3),
        (UpstreamError("vendor down"), 4),
        (AppError("anything else"), 1),
    ],
)
def test_the_table_gives_each_kind_one_exit_code(error: AppError, code: int) -> None:
    assert exit_kind(error).code == code


def test_every_row_of_the_table_is_reachable() -> None:
    kinds = [row.kind for row in exit_codes()]
    for index, kind in enumerate(kinds):
        assert not any(issubclass(kind, earlier) for earlier in kinds[:index]), kind


def test_an_unknown_incident_is_exit_1_with_one_error_line(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("CHRONOSOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHRONOSOPS_JWT_SECRET", SECRET)
    result = CliRunner().invoke(app, ["incidents", "show", "nope"])
    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "Incident not found: nope")
