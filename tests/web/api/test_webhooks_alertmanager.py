"""End to end with the real thing: Prometheus fires, Alertmanager delivers, ChronosOps resolves.

A real ChronosOps server, Prometheus and Alertmanager run on loopback (free ports, temporary
directories, one-second evaluation and grouping). Alertmanager posts to the alertmanager
webhook with its bearer token; the incident appears, then resolves when the rule stops firing
(Prometheus reloads the rules through ``--web.enable-lifecycle``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from chronosops.auth import LocalTokenIssuer, Role
from chronosops.core.clock import SystemClock
from chronosops.core.ids import Cuid2Factory
from chronosops.sources.alert_groups import fingerprint
from tests.fixtures.app import TEST_SECRET, make_settings

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
TOKEN = "alertmanager-e2e-token-0123456789abcdef0123"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None or ALERTMANAGER is None,
        reason="needs the prometheus and prometheus-alertmanager binaries (apt-get install "
        "prometheus prometheus-alertmanager; .ci/run installs them)",
    ),
]

RULE_LABELS = {"severity": "critical", "service": "checkout", "env": "e2e", "team": "payments"}
RULES = """\
groups:
  - name: chronosops-e2e
    interval: 1s
    rules:
      - alert: CheckoutErrorBudgetBurn
        expr: {expr}
        labels: {{severity: critical, service: checkout, env: e2e, team: payments}}
        annotations:
          summary: "Checkout burns its error budget 🔥"
          description: "5xx ratio above 2% for checkout (end-to-end test rule)"
"""

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    what: str, probe: Callable[[], T | None], logs: Callable[[], str], timeout: float = 25
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = probe()
        except httpx.TransportError:
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{logs()}")


class Processes:
    """Started processes, their logs, and their end (by pid, started here only)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = self.directory / f"{name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            args, cwd=self.directory, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
        self.started.append((name, process, log))

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} (exit {process.poll()})\n{log.read_text(errors='replace')[-3000:]}"
            for name, process, log in self.started
        )

    def stop(self) -> None:
        for _name, process, _log in reversed(self.started):
            process.terminate()
        for _name, process, _log in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop()


def start_chronosops(processes: Processes, database_url: str, port: int) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONOSOPS_")}
    env.update(
        CHRONOSOPS_DATABASE_URL=database_url,
        CHRONOSOPS_JWT_SECRET=TEST_SECRET,
        CHRONOSOPS_WEBHOOK_ALERTMANAGER_TOKEN=TOKEN,
        CHRONOSOPS_LOG_FORMAT="json",
    )
    processes.start(
        "chronosops", [sys.executable, "-m", "chronosops", "serve", "--port", str(port)], env
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(
        "ChronosOps to be ready",
        lambda: httpx.get(f"{url}/v1/ready", timeout=1).status_code == 200,
        processes.logs,
    )
    if database_url.startswith("postgresql"):
        # On PostgreSQL the analyses run in a worker, as in production.
        processes.start("worker", [sys.executable, "-m", "chronosops", "worker"], env)
    return url


def start_alertmanager(processes: Processes, chronosops: str, port: int) -> str:
    config = processes.directory / "alertmanager.yml"
    config.write_text(
        f"""\
route:
  receiver: chronosops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: chronosops
    webhook_configs:
      - url: {chronosops}/v1/webhooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {TOKEN}
"""
    )
    assert ALERTMANAGER is not None
    processes.start(
        "alertmanager",
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={processes.directory / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: one instance, nothing else bound
            "--log.level=warn",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(
        "Alertmanager to be ready",
        lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200,
        processes.logs,
    )
    return url


def start_prometheus(processes: Processes, alertmanager: str, port: int) -> tuple[str, Path]:
    rules = processes.directory / "rules.yml"
    rules.write_text(RULES.format(expr="vector(1)"))
    config = processes.directory / "prometheus.yml"
    config.write_text(
        f"""\
global:
  evaluation_interval: 1s
rule_files: [{rules}]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['{alertmanager.removeprefix("http://")}']
"""
    )
    assert PROMETHEUS is not None
    processes.start(
        "prometheus",
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={processes.directory / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--rules.alert.resend-delay=1s",
            "--log.level=warn",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(
        "Prometheus to be ready",
        lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200,
        processes.logs,
    )
    return url, rules


def test_an_alert_fired_by_prometheus_opens_an_incident_and_resolves_it_when_it_clears(
    processes: Processes, database_url: str
) -> None:
    chronosops = start_chronosops(processes, database_url, free_port())
    alertmanager = start_alertmanager(processes, chronosops, free_port())
    prometheus, rules = start_prometheus(processes, alertmanager, free_port())
    issuer = LocalTokenIssuer(
        make_settings(database_url).auth, clock=SystemClock(), ids=Cuid2Factory()
    )
    token = issuer.mint(subject="e2e", roles=[Role.ADMIN], ttl=timedelta(minutes=10))
    headers = {"Authorization": f"Bearer {token}"}

    def incidents() -> list[dict[str, Any]]:
        response = httpx.get(
            f"{chronosops}/v1/incidents?sourceType=ALERTMANAGER", headers=headers, timeout=5
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def analysed() -> list[dict[str, Any]] | None:
        # The incident is committed before its analysis; wait for the whole pipeline.
        found = incidents()
        return found if found and all(item["status"] == "analyzed" for item in found) else None

    opened = wait_for("the incident to appear, analysed", analysed, processes.logs)
    assert len(opened) == 1
    detail = httpx.get(f"{chronosops}/v1/incidents/{opened[0]['id']}", headers=headers).json()
    assert detail["title"] == "Checkout burns its error budget 🔥"
    assert detail["severity"] == "critical"
    assert detail["status"] == "analyzed"
    assert detail["metadata"]["service"] == "checkout"
    assert detail["metadata"]["team"] == "payments"
    assert detail["timeline"]["end"] is None
    labels = {"alertname": "CheckoutErrorBudgetBurn", **RULE_LABELS}
    assert detail["metadata"]["tags"] == labels
    # The reference is Alertmanager's own fingerprint, which ChronosOps computes identically.
    assert detail["sourceRef"] == fingerprint(labels)
    assert detail["sourcePayload"]["receiver"] == "chronosops"

    rules.write_text(RULES.format(expr="vector(1) == 0"))
    reload = httpx.post(f"{prometheus}/-/reload", timeout=5)
    assert reload.status_code == 200, reload.text

    def resolved() -> dict[str, Any] | None:
        body: dict[str, Any] = httpx.get(
            f"{chronosops}/v1/incidents/{opened[0]['id']}", headers=headers, timeout=5
        ).json()
        return body if body["isResolved"] else None

    closed = wait_for("the incident to resolve", resolved, processes.logs)
    assert closed["timeline"]["end"] is not None
    assert closed["timeline"]["end"] >= closed["timeline"]["start"]
    assert len(incidents()) == 1, "the resolve must not open a second incident"
    events = httpx.get(
        f"{chronosops}/v1/incidents/{opened[0]['id']}/audit-events", headers=headers
    ).json()
    resolved_events = [event for event in events if event["eventType"] == "INCIDENT_RESOLVED"]
    assert [event["actor"] for event in resolved_events] == ["webhook:alertmanager"]
    deliveries = httpx.get(f"{chronosops}/v1/webhooks/deliveries", headers=headers).json()
    assert {item["statusCode"] for item in deliveries["items"]} >= {201, 200}
