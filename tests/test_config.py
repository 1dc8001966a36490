"""Webhook settings: one per source, empty means off, and weak tokens stop the server."""

from __future__ import annotations

import pytest

from chronosops.config import ConfigurationError, Settings, webhook_kind_of, webhook_setting
from tests.fixtures.app import TEST_SECRET


def test_setting_names_follow_the_source_kind() -> None:
    assert webhook_setting("google-cloud-monitoring", "TOKEN") == (
        "CHRONOSOPS_WEBHOOK_GOOGLE_CLOUD_MONITORING_TOKEN"
    )
    assert webhook_kind_of("webhook_google_cloud_status_token") == ("google-cloud-status", "TOKEN")
    assert webhook_kind_of("webhook_pagerduty_secret") == ("pagerduty", "SECRET")


def test_tokens_are_read_from_the_environment_and_blank_ones_are_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHRONOSOPS_WEBHOOK_ALERTMANAGER_TOKEN", "t" * 40)
    monkeypatch.setenv("CHRONOSOPS_WEBHOOK_GRAFANA_TOKEN", "  ")
    monkeypatch.setenv("CHRONOSOPS_WEBHOOK_PAGERDUTY_SECRET", "s" * 64)
    webhooks = Settings().webhooks
    assert webhooks.tokens == {"alertmanager": "t" * 40}
    assert webhooks.secrets == {"pagerduty": "s" * 64}
    assert webhooks.replay_window_hours == 24


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"webhook_grafana_token": "short"}, "CHRONOSOPS_WEBHOOK_GRAFANA_TOKEN is 5 characters"),
        ({"webhook_datadog_token": "changeme" * 5}, "CHRONOSOPS_WEBHOOK_DATADOG_TOKEN looks like a placeholder"),
        ({"webhook_pagerduty_secret": "abc"}, "CHRONOSOPS_WEBHOOK_PAGERDUTY_SECRET is 3 characters"),
    ],
)  # fmt: skip
def test_weak_webhook_credentials_stop_the_server_with_the_setting_named(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings(jwt_secret=TEST_SECRET, **overrides).check_runnable()  # type: ignore[arg-type]


def test_a_vendor_generated_signing_secret_is_checked_for_length_only() -> None:
    # PagerDuty generates its secrets; a random one may contain "todo" and is still fine.
    Settings(jwt_secret=TEST_SECRET, webhook_pagerduty_secret="xTODOx" * 10).check_runnable()  # type: ignore[arg-type]
