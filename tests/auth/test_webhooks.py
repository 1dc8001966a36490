"""Webhook verification: signatures (with rotation), tokens, and switched-off sources."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from chronosops.auth import WebhookDisabledError, WebhookVerifier, signature, webhook_principal
from chronosops.config import WebhookSettings
from chronosops.core.errors import AuthenticationError
from chronosops.sources import registry

SECRET = "pd-signing-secret-0123456789abcdef"
TOKEN = "a-shared-token-0123456789abcdef0123456789"
BODY = b'{"event": {"event_type": "incident.triggered", "data": {"title": "caf\xc3\xa9 \xf0\x9f\x94\xa5"}}}'


def verifier(**tokens: str) -> WebhookVerifier:
    return WebhookVerifier(
        WebhookSettings(secrets={"pagerduty": SECRET}, tokens=dict(tokens), replay_window_hours=24)
    )


def verify(kind: str, verifier: WebhookVerifier, body: Any = None, **kwargs: Any) -> str:
    return verifier.verify(
        registry.get(kind),
        headers=kwargs.get("headers", {}),
        query=kwargs.get("query", {}),
        raw_body=kwargs.get("raw", BODY),
        body=lambda: body,
    )


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, BODY) == f"v1={expected}"


def test_a_matching_signature_verifies_over_the_exact_utf8_bytes() -> None:
    headers = {"X-PagerDuty-Signature": signature(SECRET, BODY)}
    assert verify("pagerduty", verifier(), headers=headers) == "signature"


def test_during_rotation_one_matching_v1_signature_among_several_is_enough() -> None:
    header = ",".join(
        [signature("old-secret-0123456789abcdef", BODY), " " + signature(SECRET, BODY), "v0=abc"]
    )
    assert verify("pagerduty", verifier(), headers={"X-PagerDuty-Signature": header}) == "signature"


@pytest.mark.parametrize(
    ("header", "raw"),
    [
        (signature("wrong-secret-0123456789abcdef", BODY), BODY),  # wrong secret
        (signature(SECRET, BODY), BODY.replace(b"triggered", b"resolved")),  # tampered body
        (signature(SECRET, BODY).upper(), BODY),  # not the v1= form
        ("", BODY),
    ],
)
def test_a_signature_that_does_not_match_is_refused(header: str, raw: bytes) -> None:
    with pytest.raises(AuthenticationError, match="does not match"):
        verify("pagerduty", verifier(), headers={"X-PagerDuty-Signature": header}, raw=raw)


def test_a_missing_signature_is_refused_naming_the_header() -> None:
    with pytest.raises(AuthenticationError, match="X-PagerDuty-Signature"):
        verify("pagerduty", verifier())


def test_a_source_without_secret_or_token_is_switched_off_not_open() -> None:
    with pytest.raises(WebhookDisabledError, match="CHRONOSOPS_WEBHOOK_GRAFANA_TOKEN"):
        verify("grafana", verifier(), headers={"Authorization": f"Bearer {TOKEN}"})
    off = WebhookVerifier(WebhookSettings(secrets={}, tokens={}, replay_window_hours=24))
    with pytest.raises(WebhookDisabledError, match="CHRONOSOPS_WEBHOOK_PAGERDUTY_SECRET or"):
        verify("pagerduty", off)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("headers", "method"),
    [
        ({"authorization": f"Bearer {TOKEN}"}, "bearer"),
        ({"authorization": f"bearer   {TOKEN} "}, "bearer"),
        ({"authorization": _basic("grafana", TOKEN)}, "basic"),
        ({"authorization": _basic(TOKEN, "")}, "basic"),
    ],
)
def test_the_token_is_accepted_as_bearer_or_basic_credentials(
    headers: dict[str, str], method: str
) -> None:
    assert verify("grafana", verifier(grafana=TOKEN), headers=headers) == method


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer nope"},
        {"authorization": _basic("grafana", "nope")},
        {"authorization": "Basic !!!not-base64"},
        {"authorization": f"Token {TOKEN}"},
        {"authorization": "Bearer tökén-with-ünïcode"},
    ],
)
def test_a_wrong_or_malformed_token_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(AuthenticationError):
        verify("grafana", verifier(grafana=TOKEN), headers=headers)


def test_a_query_token_is_read_only_for_google_cloud_monitoring() -> None:
    tokens = {"google-cloud-monitoring": TOKEN, "grafana": TOKEN}
    both = WebhookVerifier(WebhookSettings(secrets={}, tokens=tokens, replay_window_hours=24))
    assert verify("google-cloud-monitoring", both, query={"token": TOKEN}) == "query"
    with pytest.raises(AuthenticationError, match="No credentials"):
        verify("grafana", both, query={"token": TOKEN})


def test_events_api_senders_may_present_the_token_as_routing_key() -> None:
    tokens = verifier(pagerduty=TOKEN)
    assert verify("pagerduty", tokens, body={"routing_key": TOKEN}) == "body"
    with pytest.raises(AuthenticationError, match="routing_key does not match"):
        verify("pagerduty", tokens, body={"routing_key": "other"})
    with pytest.raises(AuthenticationError):
        verify("datadog", verifier(datadog=TOKEN), body={"routing_key": TOKEN})


def test_the_methods_described_name_settings_but_never_values() -> None:
    described = verifier(pagerduty=TOKEN).methods(registry.get("pagerduty"))
    assert [method["type"] for method in described] == ["hmac-sha256", "token"]
    assert described[0]["setting"] == "CHRONOSOPS_WEBHOOK_PAGERDUTY_SECRET"
    assert described[0]["configured"] is True
    assert SECRET not in repr(described)
    assert TOKEN not in repr(described)


def test_a_verified_delivery_acts_as_an_analyst_named_after_its_source() -> None:
    principal = webhook_principal("alertmanager")
    assert principal.subject == "webhook:alertmanager"
    assert principal.has_any(["CHRONOSOPS_ANALYST"])
    assert not principal.is_admin
