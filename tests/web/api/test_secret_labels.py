"""Secrets in evidence never reach a viewer: not in ids, titles, charts, logs or customFields."""

from __future__ import annotations

import json
from typing import Any

import httpx

from chronosops.auth import Role
from tests.fixtures.console import SignIn
from tests.fixtures.guide import request

SECRETS = {
    "label_api_key": "AKd93nf0s8df7sdf9s8df",
    "label_password": "hunter2-label-pw",
    "log_password": "hunter2-log-pw",
    "log_token": "tok-5f1e2d3c4b5a69788",
    "custom_password": "custom-field-pw-77",
    "custom_token": "custom-token-8841a",
    "tag_secret": "tag-secret-0x99",
}


def with_secrets(source_ref: str, *, label_password: str) -> dict[str, Any]:
    labels = {
        "service": "checkout",
        "api_key": SECRETS["label_api_key"],
        "password": label_password,
    }
    return request(
        sourceRef=source_ref,
        metadata={
            "service": "checkout",
            "tags": {"team": "payments", "secret": SECRETS["tag_secret"]},
            "customFields": {
                "runbook": "https://runbooks.example.test/checkout",
                "db_password": SECRETS["custom_password"],
                "nested": {"apiToken": SECRETS["custom_token"]},
            },
        },
        evidenceLite={
            "metrics": [
                {
                    "name": "connection_pool_active",
                    "value": value,
                    "timestamp": f"2024-01-15T10:0{minute}:00Z",
                    "labels": labels,
                }
                for minute, value in enumerate([10, 12, 95, 98, 99])
            ],
            "logs": [
                {
                    "timestamp": "2024-01-15T10:03:00Z",
                    "level": "error",
                    "message": f"db login failed password={SECRETS['log_password']} "
                    f"token: {SECRETS['log_token']} for ops@example.com",
                }
            ],
        },
    )


def leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


async def test_no_secret_reaches_a_viewer_through_the_api_or_the_console(
    client: httpx.AsyncClient,
    analyst: dict[str, str],
    viewer: dict[str, str],
    sign_in: SignIn,
) -> None:
    created = await client.post(
        "/v1/incidents/ingest",
        json=with_secrets("leaky-1", label_password=SECRETS["label_password"]),
        headers=analyst,
    )
    assert created.status_code == 201, created.text
    ids = created.json()
    incident = (await client.get(f"/v1/incidents/{ids['incidentId']}", headers=viewer)).text
    bundle = (
        await client.get(f"/v1/evidence-bundles/{ids['evidenceBundleId']}", headers=viewer)
    ).text
    analysis = (await client.get(f"/v1/analyses/{ids['analysisId']}", headers=viewer)).text
    listed = (await client.get("/v1/incidents", headers=viewer)).text
    for text in (incident, bundle, analysis, listed):
        assert leaks(text) == []

    artifacts = json.loads(bundle)["artifacts"]
    (series,) = [a for a in artifacts if a["kind"] == "metric_series"]
    assert series["artifactId"] == (
        "metric:connection_pool_active{api_key=[REDACTED],password=[REDACTED],service=checkout}"
    )
    assert series["title"] == series["artifactId"].removeprefix("metric:")
    custom = json.loads(incident)["metadata"]["customFields"]
    assert custom["runbook"] == "https://runbooks.example.test/checkout"
    assert custom["db_password"] == "[REDACTED]"

    await sign_in(Role.VIEWER)
    for path in (f"/incidents/{ids['incidentId']}", "/incidents", "/"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert leaks(page.text) == [], path


async def test_the_bundle_is_content_addressed_over_the_redacted_form(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    first = await client.post(
        "/v1/incidents/ingest",
        json=with_secrets("leaky-a", label_password="first-password-1"),
        headers=analyst,
    )
    second = await client.post(
        "/v1/incidents/ingest",
        json=with_secrets("leaky-b", label_password="other-password-2"),
        headers=analyst,
    )
    # Evidence that differs only in a secret-named label's value is the same evidence.
    assert first.json()["evidenceBundleId"] == second.json()["evidenceBundleId"]


async def test_an_admin_still_sees_customfields_as_sent(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    created = await client.post(
        "/v1/incidents/ingest",
        json=with_secrets("leaky-admin", label_password=SECRETS["label_password"]),
        headers=analyst,
    )
    incident = (
        await client.get(f"/v1/incidents/{created.json()['incidentId']}", headers=admin)
    ).json()
    assert incident["metadata"]["customFields"]["db_password"] == SECRETS["custom_password"]
