"""`chronosops logs templates` prints the template of every line of a log, in order."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chronosops.cli import app
from chronosops.core.log_mining import template_id

runner = CliRunner()

LOG = (
    "Connection from 10.0.0.1 port 22 closed\n"
    "Connection from 10.0.0.2 port 2201 closed\n"
    "Disk full on /dev/sda1\n"
)


def test_every_line_gets_its_number_template_id_and_template(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(LOG, encoding="utf-8")
    result = runner.invoke(app, ["logs", "templates", str(path)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["line"] for row in rows] == [1, 2, 3]
    assert rows[0]["template"] == rows[1]["template"] == "connection from <ip> port <num> closed"
    assert rows[0]["templateId"] == rows[1]["templateId"] != rows[2]["templateId"]
    assert rows[2] == {
        "line": 3,
        "templateId": template_id(None, "disk full on <path>"),
        "template": "disk full on <path>",
    }


def test_a_dash_reads_standard_input_and_the_service_is_part_of_the_id() -> None:
    result = runner.invoke(app, ["logs", "templates", "--service", "sshd", "-"], input=LOG)
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout.splitlines()[0])
    assert first["templateId"] == template_id("sshd", first["template"])


def test_a_missing_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    # Wide enough that the path (longer under pytest-xdist) is not wrapped inside the box.
    result = runner.invoke(
        app, ["logs", "templates", str(tmp_path / "nope.log")], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2
    assert "nope.log" in result.output
