"""`serve --workers N`'s supervisor waits for workers that are slow to start.

uvicorn's supervisor pings each worker and kills one that has not answered within 5 s; a
spawned worker answers only after importing its parent's ``__main__``. On a busy host the
``chronosops`` command takes longer than that to import, and the workers were killed and
respawned forever (the compose deployment on 2 busy cores, 2026-12-07). Here a worker whose
``__main__`` takes 7 s to import must be kept and serve.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import free_port

ROOT = Path(__file__).resolve().parents[2]

SLOW_MAIN = textwrap.dedent(
    """
    import os
    import sys
    import time

    if __name__ == "__mp_main__":
        time.sleep(7)  # a worker's imports on a busy host: longer than uvicorn's 5 s


    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(os.getpid()).encode()})


    if __name__ == "__main__":
        from uvicorn import Config

        from chronosops.cli.workers import supervise

        supervise(
            Config("__main__:app", workers=1, port=int(sys.argv[1]), lifespan="off", log_level="info")
        )
    """
)


@pytest.mark.long
def test_a_worker_slower_to_import_than_uvicorns_ping_timeout_is_kept_and_serves(
    tmp_path: Path,
) -> None:
    script = tmp_path / "slow_main.py"
    script.write_text(SLOW_MAIN)
    port = free_port()
    log = tmp_path / "supervisor.log"
    with log.open("wb") as stream:
        supervisor = subprocess.Popen(
            [sys.executable, str(script), str(port)],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
        try:
            served = None
            deadline = time.monotonic() + 90
            while served is None and time.monotonic() < deadline:
                assert supervisor.poll() is None, log.read_text()
                try:
                    served = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text
                except httpx.TransportError:
                    time.sleep(0.25)
            assert served is not None, log.read_text()
        finally:
            supervisor.terminate()
            supervisor.wait(timeout=30)
    # The first worker served: none was killed for being slow and replaced.
    assert "died" not in log.read_text(), log.read_text()
    assert log.read_text().count("Started server process") == 1, log.read_text()
