"""Every benchmark module still imports: they run only under `make bench` and by hand, so a
name moved in `src` (as `configure_logging` once did) would otherwise break them unseen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.long
def test_every_benchmark_module_imports(tmp_path: Path) -> None:
    modules = sorted(
        f"benchmarks.{path.stem}"
        for path in (ROOT / "benchmarks").glob("*.py")
        if path.stem != "__init__"
    )
    assert "benchmarks.bench_server" in modules
    # One process for all of them, in a scratch folder: the floor app opens its database on import.
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    result = subprocess.run(
        [sys.executable, "-c", script, *modules],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'src'}", "FLOOR_DATABASE": str(tmp_path / "f.db")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
