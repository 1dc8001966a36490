"""`chronosops serve`: `--embedded` as `make run` starts it, in a fresh directory, and `--workers`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
import sqlalchemy

from chronosops.storage.database import sync_url
from tests.fixtures.guide import example

# Random-looking: a repeated character is refused as a secret (docs/configuration.md).
SERVE_SECRET = "serve-9f3c1a7e5b2d8064c1e9a3f7b5d20e8c46a1"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    url: str
    token: str
    sign_in_link: str
    process: subprocess.Popen[str]
    output: list[str]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONOSOPS_")}
    env["CHRONOSOPS_LOG_FORMAT"] = "json"
    return env


def start_server(directory: Path, port: int) -> RunningServer:
    process = subprocess.Popen(
        [sys.executable, "-m", "chronosops", "serve", "--embedded", "--port", str(port)],
        cwd=directory,
        env={**_clean_env(), "COLUMNS": "300"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    token = None
    link = None
    deadline = time.monotonic() + 30
    # Read the banner up to the console's one-time sign-in link, its last line.
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        match = re.search(r"export TOKEN=(\S+)", line)
        if match:
            token = match.group(1)
        match = re.search(r"(http://\S+/sign-in/link\?token=\S+)", line)
        if match:
            link = match.group(1)
            break
    assert token, "".join(output)
    assert link, "".join(output)
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/ready", timeout=1).status_code == 200:
                return RunningServer(url, token, link, process, output)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not become ready:\n" + "".join(output))


def stop(server: RunningServer) -> None:
    server.process.terminate()
    server.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path, free_port())
    yield running
    stop(running)


def test_make_run_prints_a_working_token_and_curl_example(
    server: RunningServer, tmp_path: Path
) -> None:
    printed = "".join(server.output)
    assert "Generated a local JWT secret" in printed
    assert f"curl -s -X POST {server.url}/v1/incidents/ingest" in printed
    assert (tmp_path / "data" / "chronosops.db").exists()
    assert oct((tmp_path / "data" / "jwt-secret").stat().st_mode & 0o777) == "0o600"
    # The checkpoint key is kept beside the database, never in it.
    key_file = tmp_path / "data" / "audit-checkpoint-key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    headers = {"Authorization": f"Bearer {server.token}"}
    response = httpx.post(
        f"{server.url}/v1/incidents/ingest", json=example("basic_request"), headers=headers
    )
    assert response.status_code == 201
    assert response.json()["status"] == "analyzed"
    detail = httpx.get(
        f"{server.url}/v1/incidents/{response.json()['incidentId']}", headers=headers
    )
    assert detail.json()["latestAnalysis"]["analysisId"] == response.json()["analysisId"]
    verified = httpx.get(f"{server.url}/v1/audit/verify", headers=headers).json()
    assert verified["checkpointStatus"] == "MATCHED"  # the first append signed the head
    assert (
        key_file.read_text().strip().encode()
        not in (tmp_path / "data" / "chronosops.db").read_bytes()
    )


def test_make_run_prints_a_one_time_link_that_signs_a_browser_into_the_console(
    server: RunningServer,
) -> None:
    assert server.sign_in_link.startswith(f"{server.url}/sign-in/link?token=")
    with httpx.Client() as browser:
        signed_in = browser.get(server.sign_in_link)
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/"
        home = browser.get(f"{server.url}/")
        assert home.status_code == 200
        assert "local-admin" in home.text
        assert "Admin" in home.text
    with httpx.Client() as someone_else:
        again = someone_else.get(server.sign_in_link)
        assert again.status_code == 401
        assert "already used" in again.text
        assert "chronosops_session" not in again.headers.get("set-cookie", "")


def test_concurrent_duplicates_over_real_connections_make_one_incident(
    server: RunningServer,
) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    body = {**example("example_3_force_collect"), "sourceRef": "parallel-1"}

    def send(_: int) -> tuple[int, str]:
        response = httpx.post(
            f"{server.url}/v1/incidents/ingest", json=body, headers=headers, timeout=30
        )
        return response.status_code, response.json()["incidentId"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(16)))
    assert sorted(status for status, _ in results) == [200] * 15 + [201]
    assert len({incident for _, incident in results}) == 1


def test_the_generated_secret_is_reused_so_tokens_survive_a_restart(tmp_path: Path) -> None:
    first = start_server(tmp_path, free_port())
    stop(first)
    second = start_server(tmp_path, free_port())
    try:
        assert "Generated a local JWT secret" not in "".join(second.output)
        response = httpx.get(
            f"{second.url}/v1/incidents", headers={"Authorization": f"Bearer {first.token}"}
        )
        assert response.status_code == 200
    finally:
        stop(second)


def test_logs_are_json_lines_with_request_ids_and_no_tokens(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.token}", "X-Request-Id": "e2e-log-check"}
    httpx.get(f"{server.url}/v1/incidents", headers=headers)
    httpx.get(server.sign_in_link)
    stop(server)
    assert server.process.stdout is not None
    remaining = server.process.stdout.read()
    lines = [line for line in (server.output + remaining.splitlines()) if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    request_line = next(r for r in records if r.get("request_id") == "e2e-log-check")
    assert request_line["route"] == "/v1/incidents"
    assert request_line["status"] == 200
    assert server.token not in remaining
    assert server.token.split(".")[1] not in remaining
    link_secret = server.sign_in_link.split("token=", 1)[1]
    assert link_secret not in remaining


def _children(pid: int) -> list[str]:
    """Command lines of the processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_several_workers_on_sqlite_are_refused_with_the_reason(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chronosops", "serve", "--workers", "2"],
        cwd=tmp_path,
        env={**_clean_env(), "CHRONOSOPS_JWT_SECRET": SERVE_SECRET, "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "2 workers need PostgreSQL" in result.stderr


def test_two_workers_on_postgresql_serve_one_port(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL (CHRONOSOPS_TEST_DATABASE_URL)")
    port = free_port()
    secret = SERVE_SECRET
    process = subprocess.Popen(
        [sys.executable, "-m", "chronosops", "serve", "--workers", "2", "--port", str(port)],
        cwd=tmp_path,
        env={
            **_clean_env(),
            "CHRONOSOPS_JWT_SECRET": secret,
            "CHRONOSOPS_DATABASE_URL": database_url,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        workers: list[str] = []
        while time.monotonic() < deadline:
            workers = [c for c in _children(process.pid) if "resource_tracker" not in c]
            try:
                ready = httpx.get(f"{url}/v1/ready", timeout=1).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and len(workers) == 2:
                break
            time.sleep(0.2)
        assert len(workers) == 2, workers
        token = jwt.encode(
            {
                "iss": "chronosops",
                "aud": "chronosops",
                "sub": "w",
                "roles": ["CHRONOSOPS_ANALYST"],
                "exp": int(time.time()) + 300,
            },
            secret,
            algorithm="HS256",
        )

        def send(index: int) -> int:
            body = {**example("basic_request"), "sourceRef": f"workers-{index}"}
            headers = {"Authorization": f"Bearer {token}"}
            return httpx.post(
                f"{url}/v1/incidents/ingest", json=body, headers=headers, timeout=30
            ).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert sorted(pool.map(send, range(16))) == [201] * 16
    finally:
        process.terminate()
        process.wait(timeout=20)


@dataclass
class Workers:
    url: str
    token: str
    supervisor: subprocess.Popen[bytes]
    pids: list[int]


def _pids(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and b"resource_tracker" not in cmdline:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Workers]:
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL (CHRONOSOPS_TEST_DATABASE_URL)")
    port = free_port()
    secret = "w-7f3a9c1e5b2d8046a1c9e3f7b5d20e8c46a1b3"
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "chronosops", "serve", "--workers", "2", "--port", str(port)],
        cwd=tmp_path,
        env={
            **_clean_env(),
            "CHRONOSOPS_JWT_SECRET": secret,
            "CHRONOSOPS_DATABASE_URL": database_url,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    pids: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = _pids(supervisor.pid)
        try:
            ready = httpx.get(f"{url}/v1/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            ready = False
        if ready and len(pids) == 2:
            break
        time.sleep(0.2)
    assert len(pids) == 2, pids
    token = jwt.encode(
        {
            "iss": "chronosops",
            "aud": "chronosops",
            "sub": "w",
            "roles": ["CHRONOSOPS_ANALYST"],
            "exp": int(time.time()) + 300,
        },
        secret,
        algorithm="HS256",
    )
    yield Workers(url, token, supervisor, pids)
    if supervisor.poll() is None:
        supervisor.terminate()
        supervisor.wait(timeout=30)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_workers_stop_serving_when_their_supervisor_is_killed(workers: Workers) -> None:
    workers.supervisor.kill()
    workers.supervisor.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers.pids):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers.pids), "orphaned workers still run"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{workers.url}/v1/health", timeout=2)


def test_sigterm_answers_the_requests_in_flight_and_refuses_new_ones(
    workers: Workers, database_url: str
) -> None:
    headers = {"Authorization": f"Bearer {workers.token}"}

    def ingest(index: int) -> int:
        body = {**example("basic_request"), "sourceRef": f"draining-{index}"}
        return httpx.post(
            f"{workers.url}/v1/incidents/ingest", json=body, headers=headers, timeout=60
        ).status_code

    locker = sqlalchemy.create_engine(sync_url(database_url))
    try:
        with locker.connect() as lock, ThreadPoolExecutor(max_workers=4) as pool:
            # Every ingest waits on this lock: the requests are in flight while the server stops.
            lock.execute(sqlalchemy.text("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE"))
            in_flight = [pool.submit(ingest, index) for index in range(4)]
            _wait_for_waiters(database_url, 4)
            workers.supervisor.send_signal(signal.SIGTERM)
            time.sleep(1.5)  # the supervisor reads its signals every half second
            assert workers.supervisor.poll() is None, "the server waits for the requests"
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{workers.url}/v1/health", timeout=5)
            lock.rollback()
            assert [future.result(timeout=60) for future in in_flight] == [201] * 4
    finally:
        locker.dispose()
    assert workers.supervisor.wait(timeout=30) == 0


def _wait_for_waiters(database_url: str, count: int) -> None:
    watcher = sqlalchemy.create_engine(sync_url(database_url), isolation_level="AUTOCOMMIT")
    query = sqlalchemy.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = 'chronosops' AND wait_event_type = 'Lock'"
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with watcher.connect() as connection:
                if connection.execute(query).scalar_one() >= count:
                    return
            time.sleep(0.05)
    finally:
        watcher.dispose()
    raise AssertionError(f"fewer than {count} requests waited on the lock")
