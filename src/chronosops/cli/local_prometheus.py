"""A throwaway Prometheus for a demo: OpenMetrics backfilled with ``promtool``, served on a free
loopback port by the ``prometheus`` found on PATH, stopped (by its own handle) afterwards."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chronosops.cli.errors import MissingProgramError, fail

READY_SECONDS = 30.0


@dataclass(frozen=True)
class Programs:
    prometheus: str
    promtool: str


@dataclass(frozen=True)
class LocalPrometheus:
    url: str
    pid: int


def find_programs() -> Programs:
    """``prometheus`` and ``promtool`` from PATH; the command stops, naming what is missing."""
    found = {name: shutil.which(name) for name in ("prometheus", "promtool")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        fail(
            f"{' and '.join(missing)} not found on PATH: the investigation demo backfills the "
            "scenario's metrics into a Prometheus of its own",
            kind=MissingProgramError,
        )
    return Programs(prometheus=str(found["prometheus"]), promtool=str(found["promtool"]))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_prometheus(programs: Programs, workdir: Path, data: str) -> Iterator[LocalPrometheus]:
    """Backfill ``data`` (OpenMetrics) into a fresh TSDB under ``workdir`` and serve it."""
    source = workdir / "data.om"
    source.write_text(data, encoding="utf-8")
    tsdb = workdir / "tsdb"
    backfill = subprocess.run(
        [programs.promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
        capture_output=True,
        text=True,
        check=False,
    )
    if backfill.returncode != 0:
        fail(f"promtool could not backfill the metrics: {backfill.stderr.strip()[-500:]}")
    config = workdir / "prometheus.yml"
    # Nothing to scrape: every sample is backfilled.
    config.write_text("global:\n  scrape_interval: 1h\n", encoding="utf-8")
    port = _free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [
                programs.prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tsdb}",
                # The scenarios happen on fixed dates; no retention may drop them.
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, url, log_path)
            yield LocalPrometheus(url=url, pid=process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    import httpx  # only the investigating demo polls: not a start-up import

    deadline = time.monotonic() + READY_SECONDS
    while True:
        if process.poll() is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-500:]
            fail(f"prometheus exited at start: {tail.strip()}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            fail(f"prometheus did not become ready in {READY_SECONDS:.0f} s (log: {log_path})")
        time.sleep(0.2)
