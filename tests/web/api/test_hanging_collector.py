"""With a collector that never answers, ingests, vendor webhooks and re-analyses still answer
long before its timeout: collection runs in a job, not in the request. (How fast they answer is
measured by `make bench`, not here: a timed test on a shared machine fails on its load.)"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx

from chronosops.auth import Role
from chronosops.bootstrap import build_services
from tests.collectors.local_servers import silent_server
from tests.fixtures.app import make_settings
from tests.fixtures.guide import request
from tests.fixtures.live_server import live_server
from tests.fixtures.webhooks import TOKENS, webhook_settings
from tests.sources.payloads import load

# The collector gives up after COLLECTOR_SECONDS; an answer well inside it did not wait for it.
COLLECTOR_SECONDS = 10
ANSWER_WITHIN_SECONDS = 4.0


def test_ingests_and_webhooks_answer_at_once_while_the_collector_hangs(
    database_url: str, tmp_path: Path
) -> None:
    with silent_server() as endpoint:
        collectors = tmp_path / "collectors.toml"
        collectors.write_text(
            f'[[collectors]]\nname = "prom"\nbackend = "prometheus"\nendpoint = "{endpoint}"\n'
        )
        settings = make_settings(
            database_url,
            collectors_file=str(collectors),
            collectors_timeout_seconds=COLLECTOR_SECONDS,
            collectors_budget_seconds=COLLECTOR_SECONDS,
            **webhook_settings(),
        )
        issuer = build_services(settings).issuer
        assert issuer is not None
        token = issuer.mint(subject="analyst", roles=[Role.ANALYST], ttl=timedelta(hours=1))
        with live_server(settings) as server, httpx.Client(base_url=server.url) as http:
            started = time.monotonic()
            ingest = http.post(
                "/v1/incidents/ingest",
                json=request(),
                headers={"Authorization": f"Bearer {token}"},
                timeout=2 * COLLECTOR_SECONDS,
            )
            ingest_seconds = time.monotonic() - started
            started = time.monotonic()
            hook = http.post(
                "/v1/webhooks/alertmanager",
                json=load("alertmanager", "firing"),
                headers={"Authorization": f"Bearer {TOKENS['alertmanager']}"},
                timeout=2 * COLLECTOR_SECONDS,
            )
            hook_seconds = time.monotonic() - started
            started = time.monotonic()
            again = http.post(
                f"/v1/incidents/{ingest.json()['incidentId']}/reanalyze",
                headers={"Authorization": f"Bearer {token}"},
                timeout=2 * COLLECTOR_SECONDS,
            )
            again_seconds = time.monotonic() - started
    assert (ingest.status_code, hook.status_code, again.status_code) == (202, 201, 202)
    assert max(ingest_seconds, hook_seconds, again_seconds) < ANSWER_WITHIN_SECONDS
