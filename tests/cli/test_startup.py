"""The ``chronosops`` entry point starts without the application: `--help`, `logs templates`,
`token` and the other short commands used to pay ~3 s of CPU importing the server, the database
layer and the model SDK before doing anything."""

from __future__ import annotations

import json
import subprocess
import sys

# What only a command that serves, analyses or touches the database needs.
HEAVY = (
    "chronosops.web.app",
    "chronosops.bootstrap",
    "chronosops.audit",
    "chronosops.investigation",
    "chronosops.analysis",
    "chronosops.reasoning",
    "chronosops.storage",
    "fastapi",
    "uvicorn",
    "google.genai",
    "sqlalchemy",
    "alembic",
    "httpx",
)


def _loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return [m for m in loaded if m in HEAVY or m.startswith(tuple(f"{h}." for h in HEAVY))]


def test_importing_the_entry_point_loads_none_of_the_application() -> None:
    # `chronosops = "chronosops.cli:main"`: the module the console script imports.
    assert _loaded_after("import chronosops.cli") == []


def test_help_and_log_templates_run_without_the_application() -> None:
    for argv in (["--help"], ["logs", "templates", "-"], ["audit", "--help"]):
        code = (
            "import io, sys\n"
            "sys.stdin = io.StringIO('Connection from 10.0.0.1 closed\\n')\n"
            "from chronosops.cli import app\n"
            f"try:\n    app({argv!r})\nexcept SystemExit as done:\n    assert done.code == 0\n"
        )
        assert _loaded_after(code) == [], argv
