"""Issue 13 as a user works it on PostgreSQL: ``chronosops serve`` and ``chronosops worker`` as
real processes, a real Prometheus holding a scenario's metrics. A thin report is investigated
(the worker runs the job), the postmortem read as JSON and Markdown, the first and the final
analysis compared, the graph drawn as SVG, and the export taken away as a zip and verified
offline with ``chronosops verify-export`` (and written by ``chronosops export`` too). And a
worker killed in the middle of an investigation: the next one finishes it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
import yaml

from chronosops.scenarios import GeneratedIncident, GenerationOptions, generate
from chronosops.scenarios.openmetrics import openmetrics, prometheus_queries
from chronosops.scenarios.thin_report import thin_report
from tests.collectors.local_servers import silent_server
from tests.collectors.prometheus_server import PrometheusServer, available, running_prometheus
from tests.fixtures.database import on_postgres
from tests.fixtures.shared_state import SharedRedis
from tests.worker.test_crash import Cluster, cluster, token

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not on_postgres(), reason="the worker process runs jobs on PostgreSQL"),
    pytest.mark.skipif(not available(), reason="needs /usr/bin/prometheus and promtool"),
]

SCENARIO = "feature-flag-regression"
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def scenario() -> GeneratedIncident:
    return generate(SCENARIO, GenerationOptions(drop=frozenset({"logs", "traces"})))


@pytest.fixture(scope="module")
def prometheus(
    scenario: GeneratedIncident, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    with running_prometheus(
        tmp_path_factory.mktemp("prometheus-walkthrough"), data_set=openmetrics(scenario)
    ) as server:
        yield server


@pytest.fixture
def processes(
    database_url: str,
    tmp_path: Path,
    prometheus: PrometheusServer,
    scenario: GeneratedIncident,
    shared_redis: SharedRedis,
) -> Iterator[Cluster]:
    collectors = tmp_path / "collectors.yaml"
    collectors.write_text(
        yaml.safe_dump(
            {
                "collectors": [
                    {
                        "name": "prometheus-prod",
                        "backend": "prometheus",
                        "endpoint": prometheus.url,
                        "options": {
                            "labels": {"environment": "env"},
                            "queries": prometheus_queries(scenario),
                        },
                    }
                ]
            }
        )
    )
    with cluster(database_url, tmp_path, shared_redis) as running:
        running.env["CHRONOSOPS_COLLECTORS_FILE"] = str(collectors)
        running.start()
        assert running.worker is not None
        yield running


def _cli(running: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chronosops", *args],
        cwd=running.cwd,
        env=running.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _finished(http: httpx.Client, session_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        session: dict[str, Any] = http.get(f"/v1/investigations/{session_id}").json()
        if session["status"] != "running":
            return session
        time.sleep(0.2)
    raise AssertionError(f"the worker did not finish {session_id} in {WAIT_SECONDS} s")


def test_a_thin_incident_is_investigated_by_the_worker_and_its_record_taken_away(
    processes: Cluster, scenario: GeneratedIncident, tmp_path: Path
) -> None:
    analyst = {"Authorization": f"Bearer {token('CHRONOSOPS_ANALYST')}"}
    admin = {"Authorization": f"Bearer {token('CHRONOSOPS_ADMIN')}"}
    with httpx.Client(base_url=processes.url, headers=analyst, timeout=30) as http:
        created = http.post("/v1/incidents/ingest", json=thin_report(scenario, source_ref=SCENARIO))
        assert created.status_code == 201, created.text
        incident_id = created.json()["incidentId"]
        first_id = created.json()["analysisId"]

        started = http.post(f"/v1/incidents/{incident_id}/investigate", json={})
        assert started.status_code == 202, started.text
        session = _finished(http, started.json()["sessionId"])
        assert (session["status"], session["stopCode"]) == ("completed", "TARGET_REACHED")
        final_id = session["bestAnalysisId"]
        final = http.get(f"/v1/analyses/{final_id}").json()
        assert final["result"]["culpritService"] == scenario.truth.culprit_service
        assert [
            s["sessionId"] for s in http.get(f"/v1/incidents/{incident_id}/investigations").json()
        ] == [session["sessionId"]]

        # A postmortem per analysis, the newest drafted from the investigation's analysis.
        postmortems = http.get(f"/v1/incidents/{incident_id}/postmortems").json()
        assert [(p["version"], p["analysisId"]) for p in postmortems] == [
            (2, final_id),
            (1, first_id),
        ]
        newest = postmortems[0]["postmortemId"]
        document = http.get(f"/v1/postmortems/{newest}").json()
        assert document["content"]["rootCause"]["hypothesisId"] == scenario.truth.hypothesis_id
        markdown = http.get(f"/v1/postmortems/{newest}.md")
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert (
            markdown.text
            == http.get(f"/v1/postmortems/{newest}", headers={"Accept": "text/markdown"}).text
        )
        assert scenario.truth.culprit_service in markdown.text

        compared = http.get(f"/v1/analyses/{first_id}/compare/{final_id}").json()
        assert compared["hypotheses"]["topChanged"] is True
        assert compared["confidence"]["delta"] == pytest.approx(final["overallConfidence"])

        svg = http.get(f"/v1/analyses/{final_id}/graph", headers={"Accept": "image/svg+xml"})
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert ElementTree.fromstring(svg.text).tag == "{http://www.w3.org/2000/svg}svg"
        assert scenario.truth.culprit_service in svg.text

        exported = http.get(f"/v1/incidents/{incident_id}/export?format=zip", headers=admin)
        assert exported.headers["content-type"] == "application/zip"
    archive = tmp_path / "incident.zip"
    archive.write_bytes(exported.content)
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert {"export.json", "postmortems/v1.md", "postmortems/v2.md"} <= set(names)
    inside = json.loads(zipfile.ZipFile(archive).read("export.json"))
    assert [i["sessionId"] for i in inside["investigations"]] == [session["sessionId"]]
    verified = _cli(processes, "verify-export", str(archive))
    assert verified.returncode == 0, verified.stderr
    assert "VERIFIED 2 bundle(s) re-hashed, 2 postmortem(s)" in " ".join(verified.stdout.split())

    written = tmp_path / "cli.zip"
    by_cli = _cli(processes, "export", incident_id, "-o", str(written))
    assert by_cli.returncode == 0, by_cli.stderr
    assert _cli(processes, "verify-export", str(written)).returncode == 0


def test_an_investigation_whose_worker_is_killed_is_finished_by_the_next_worker(
    database_url: str, tmp_path: Path, scenario: GeneratedIncident, shared_redis: SharedRedis
) -> None:
    analyst = {"Authorization": f"Bearer {token('CHRONOSOPS_ANALYST')}"}
    admin = {"Authorization": f"Bearer {token('CHRONOSOPS_ADMIN')}"}
    collectors = tmp_path / "collectors.toml"
    with silent_server() as endpoint, cluster(database_url, tmp_path, shared_redis) as running:
        # A Prometheus that never answers holds the worker inside iteration 1 long enough to
        # kill it there.
        collectors.write_text(
            f'[[collectors]]\nname = "prom"\nbackend = "prometheus"\nendpoint = "{endpoint}"\n'
        )
        running.env |= {
            "CHRONOSOPS_COLLECTORS_FILE": str(collectors),
            "CHRONOSOPS_COLLECTORS_TIMEOUT_SECONDS": "4",
            "CHRONOSOPS_COLLECTORS_BUDGET_SECONDS": "4",
        }
        running.start()
        with httpx.Client(base_url=running.url, headers=analyst, timeout=30) as http:
            created = http.post(
                "/v1/incidents/ingest", json=thin_report(scenario, source_ref="crash-demo")
            )
            incident_id = created.json()["incidentId"]
            session_id = http.post(f"/v1/incidents/{incident_id}/investigate", json={}).json()[
                "sessionId"
            ]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                jobs = http.get(
                    "/v1/jobs", params={"incidentId": incident_id}, headers=admin
                ).json()["items"]
                if any(j["kind"] == "investigate" and j["state"] == "running" for j in jobs):
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("the worker never started the investigation")
            running.kill("worker")
            assert http.get(f"/v1/investigations/{session_id}").json()["status"] == "running"
            running.start()
            session = _finished(http, session_id)
            verified = http.get(f"/v1/incidents/{incident_id}/verify").json()
    # The next worker took the job over and ran iteration 1 again; nothing came back.
    assert (session["status"], session["stopCode"]) == ("stopped", "NO_PROGRESS")
    assert [i["iteration"] for i in session["iterations"]] == [1]
    assert session["iterations"][0]["collection"][0]["status"] == "timeout"
    assert verified["ok"] is True
