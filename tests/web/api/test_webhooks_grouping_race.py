"""Deliveries of one alert group that arrive at once open exactly one incident.

Each delivery looks for the group's open incident before its own transaction, so two that
arrive together can both find none. The database decides: only one incident can hold an open
group, and a delivery that loses joins the incident that won. Real HTTP against two servers
on one database (the same as two replicas), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any

import httpx

from chronosops.auth import Role
from chronosops.bootstrap import build_services
from chronosops.config import Settings
from tests.fixtures.app import make_settings
from tests.fixtures.live_server import LiveServer, live_server
from tests.fixtures.webhooks import TOKENS, webhook_settings
from tests.web.api.test_webhooks_grouping import alert_group

ALERTS = 16
SERVERS = 2


@contextmanager
def servers(settings: Settings, count: int) -> Iterator[list[LiveServer]]:
    with ExitStack() as stack:
        running = [stack.enter_context(live_server(settings)) for _ in range(count)]
        for server in running:
            # Both servers live in this one process, where FastAPI builds a route's handler on
            # its first call; two first calls at once in two threads trip over each other in
            # pydantic (separate processes never share it), so each route is called once first,
            # with a body that is refused before anything is stored.
            refused = httpx.post(
                f"{server.url}/v1/webhooks/alertmanager",
                json={"alerts": "none"},
                headers={"Authorization": f"Bearer {TOKENS['alertmanager']}"},
            )
            assert refused.status_code == 400, refused.text
        yield running


def viewer_token(settings: Settings) -> str:
    issuer = build_services(settings).issuer
    assert issuer is not None
    return issuer.mint(subject="viewer", roles=[Role.VIEWER], ttl=timedelta(hours=1))


def deliver_at_once(urls: list[str], bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """Post every body from its own thread, all released together, spread over the servers."""
    start = threading.Barrier(len(bodies))

    def post(number: int) -> httpx.Response:
        with httpx.Client(base_url=urls[number % len(urls)], timeout=60) as http:
            start.wait()
            return http.post(
                "/v1/webhooks/alertmanager",
                json=bodies[number],
                headers={"Authorization": f"Bearer {TOKENS['alertmanager']}"},
            )

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, range(len(bodies))))


def test_concurrent_deliveries_of_one_group_open_one_incident_that_every_alert_joins(
    database_url: str,
) -> None:
    settings = make_settings(database_url, **webhook_settings())
    group = alert_group(ALERTS, group_key='{}:{alertname="RaceOfOneGroup"}')
    # One alert per delivery, as Alertmanager sends when the alerts of a group fire apart,
    # and each alert twice (from two Alertmanager replicas: another receiver, another body).
    bodies = [
        {**group, "receiver": receiver, "alerts": [alert]}
        for alert in group["alerts"]
        for receiver in ("replica-a", "replica-b")
    ]
    with servers(settings, SERVERS) as running:
        answers = deliver_at_once([server.url for server in running], bodies)
        assert {answer.status_code for answer in answers} <= {200, 201}, [
            answer.text for answer in answers if answer.status_code >= 300
        ]
        events = [answer.json()["events"][0] for answer in answers]
        headers = {"Authorization": f"Bearer {viewer_token(settings)}"}
        with httpx.Client(base_url=running[0].url, headers=headers, timeout=30) as http:
            listed = http.get("/v1/incidents?sourceType=ALERTMANAGER&limit=200").json()["items"]
            (only,) = listed
            alerts = http.get(f"/v1/incidents/{only['id']}/alerts").json()
    assert {event["incidentId"] for event in events} == {only["id"]}
    # Every alert is held once: the opener and each of the others joined, whichever of its
    # two deliveries got there first.
    assert alerts["count"] == ALERTS
    assert sorted(alert["sourceRef"] for alert in alerts["items"]) == sorted(
        alert["fingerprint"] for alert in group["alerts"]
    )
    assert [alert["role"] for alert in alerts["items"]].count("opened") == 1
    assert {(event["sourceRef"], event["alert"]) for event in events} == {
        (alert["sourceRef"], alert["role"]) for alert in alerts["items"]
    }
    assert [answer.status_code for answer in answers].count(201) == 1


def test_concurrent_alerts_of_one_service_and_environment_under_the_window_rule_open_one_incident(
    database_url: str,
) -> None:
    settings = make_settings(
        database_url, **webhook_settings(alert_grouping_windows={"ALERTMANAGER": 600})
    )
    # Each its own group (no groupKey to share): only the window rule puts them together.
    bodies = [alert_group(1, group_key=f"window-race-{number}") for number in range(ALERTS)]
    with servers(settings, SERVERS) as running:
        answers = deliver_at_once([server.url for server in running], bodies)
        assert {answer.status_code for answer in answers} <= {200, 201}, [
            answer.text for answer in answers if answer.status_code >= 300
        ]
        events = [answer.json()["events"][0] for answer in answers]
        headers = {"Authorization": f"Bearer {viewer_token(settings)}"}
        with httpx.Client(base_url=running[0].url, headers=headers, timeout=30) as http:
            listed = http.get("/v1/incidents?sourceType=ALERTMANAGER&limit=200").json()["items"]
            (only,) = listed
            alerts = http.get(f"/v1/incidents/{only['id']}/alerts").json()
    assert {event["incidentId"] for event in events} == {only["id"]}
    assert alerts["count"] == ALERTS
    assert [alert["role"] for alert in alerts["items"]].count("opened") == 1
    assert {alert["joinedBy"] for alert in alerts["items"] if alert["role"] == "joined"} == {
        "window"
    }
