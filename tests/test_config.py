"""Settings: webhook secrets per source, collector settings and the collectors file."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from chronosops.config import (
    ConfigurationError,
    Settings,
    load_collectors_file,
    load_settings,
    webhook_kind_of,
    webhook_setting,
)
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.webhooks import webhook_settings


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


def test_a_vendor_generated_signing_secret_may_contain_a_placeholder_word() -> None:
    # PagerDuty generates its secrets; a random one may contain "todo" and is still fine.
    secret = "Zq8TODOv3LkP1x9WmB4cRt7YhN2sJd6F"
    Settings(jwt_secret=TEST_SECRET, webhook_pagerduty_secret=secret).check_runnable()  # type: ignore[arg-type]


WEAK = ("a" * 32, "1234567890" * 4, "password" * 4, "abcdefghijklmnopqrstuvwxyzabcdefghijkl")


@pytest.mark.parametrize("weak", WEAK)
@pytest.mark.parametrize(
    ("field", "setting"),
    [
        ("jwt_secret", "CHRONOSOPS_JWT_SECRET"),
        ("session_secret", "CHRONOSOPS_SESSION_SECRET"),
        ("webhook_grafana_token", "CHRONOSOPS_WEBHOOK_GRAFANA_TOKEN"),
        ("webhook_pagerduty_secret", "CHRONOSOPS_WEBHOOK_PAGERDUTY_SECRET"),
    ],
)
def test_guessable_secrets_stop_the_server_with_the_setting_named(
    weak: str, field: str, setting: str
) -> None:
    values = {"jwt_secret": TEST_SECRET, field: weak}
    with pytest.raises(ConfigurationError, match=rf"^{setting} (uses only|is too predictable)"):
        Settings(**values).check_runnable()  # type: ignore[arg-type]


def test_a_vendor_secret_of_repeated_junk_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="PAGERDUTY_SECRET uses only 4 distinct"):
        Settings(jwt_secret=TEST_SECRET, webhook_pagerduty_secret="xTODOx" * 10).check_runnable()  # type: ignore[arg-type]


def test_generated_secrets_and_the_test_fixtures_pass() -> None:
    for _ in range(200):
        Settings(
            jwt_secret=SecretStr(secrets.token_hex(32))
        ).check_runnable()  # the `make run` secret
        Settings(jwt_secret=SecretStr(secrets.token_hex(16))).check_runnable()
    Settings(jwt_secret=TEST_SECRET, **webhook_settings()).check_runnable()  # type: ignore[arg-type]


TOML = """
[[collectors]]
name = "prom"
backend = "prometheus"
endpoint = "http://prometheus:9090"
timeout_seconds = 5

[collectors.options]
service_label = "job"

[[collectors]]
name = "dd"
backend = "datadog"
endpoint = "https://api.datadoghq.eu"
[collectors.credentials]
api_key = "env:TEST_DD_API_KEY"
app_key = "env:TEST_DD_APP_KEY"

[[collectors]]
name = "old-loki"
backend = "loki"
enabled = false

[topology]
checkout-api = ["postgres", "payments-api"]
"""

YAML = """
collectors:
  - name: prom
    backend: prometheus
    endpoint: http://prometheus:9090
    options: {service_label: job}
  - name: dd
    backend: datadog
    credentials: {api_key: "env:TEST_DD_API_KEY", app_key: "env:TEST_DD_APP_KEY"}
topology:
  checkout-api: [postgres, payments-api]
"""


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DD_API_KEY", "dd-api-0123")
    monkeypatch.setenv("TEST_DD_APP_KEY", "dd-app-4567")


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize(("suffix", "text"), [(".toml", TOML), (".yaml", YAML), (".yml", YAML)])
def test_a_collectors_file_reads_the_same_in_toml_and_yaml(
    tmp_path: Path, suffix: str, text: str
) -> None:
    path = tmp_path / f"collectors{suffix}"
    path.write_text(text)
    config = load_collectors_file(path)
    assert [c.name for c in config.collectors] == ["prom", "dd"]
    prom, datadog = config.collectors
    assert prom.options == {"service_label": "job"}
    assert prom.endpoint == "http://prometheus:9090"
    assert datadog.credentials["api_key"].get_secret_value() == "dd-api-0123"
    assert "dd-api-0123" not in repr(datadog)
    assert config.topology == {"checkout-api": ["postgres", "payments-api"]}


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[collectors]]\nname="dd"\nbackend="datadog"\n[collectors.credentials]\napi_key="abc123"\n',
            "credential api_key must be an environment reference such as env:API_KEY",
        ),
        (
            '[[collectors]]\nname="dd"\nbackend="datadog"\n[collectors.credentials]\napi_key="env:NOT_SET_ANYWHERE"\n',
            "reads the environment variable NOT_SET_ANYWHERE, which is not set",
        ),
        (
            '[[collectors]]\nname="a"\nbackend="loki"\n[[collectors]]\nname="a"\nbackend="loki"\n',
            "two collectors are named 'a'",
        ),
        ('[[collectors]]\nname="a"\nbackend="loki"\ncolour="red"\n', "collectors.0.colour"),
        ('[[collectors]]\nbackend="loki"\n', "collectors.0.name: Field required"),
        ("[[collectors]\n", "does not parse"),
    ],
)
def test_bad_collectors_files_are_refused_by_name_never_echoing_a_secret(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "collectors.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_collectors_file(path)
    assert message in caught.value.message
    assert "abc123" not in caught.value.message


def test_a_missing_file_or_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_collectors_file(tmp_path / "absent.toml")
    ini = tmp_path / "collectors.ini"
    ini.write_text("[collectors]")
    with pytest.raises(ConfigurationError, match=r"must end in \.toml, \.yaml or \.yml"):
        load_collectors_file(ini)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("*", None), ("prom, loki ,", frozenset({"prom", "loki"})), ("", frozenset())],
)
def test_the_allow_list_is_everything_a_list_or_nothing(
    value: str, expected: frozenset[str] | None
) -> None:
    assert Settings(collectors_allow=value).collectors_allow_list == expected


def test_item_caps_name_known_kinds_with_positive_caps() -> None:
    assert Settings(collectors_item_caps={"log_template": 10}).collectors_item_caps == {
        "log_template": 10
    }
    with pytest.raises(ValidationError, match="unknown artifact kind"):
        Settings(collectors_item_caps={"logs": 10})
    with pytest.raises(ValidationError, match="at least 1"):
        Settings(collectors_item_caps={"log_template": 0})


def test_the_window_limit_cannot_exceed_six_hours() -> None:
    with pytest.raises(ValidationError):
        Settings(collectors_max_window_hours=7)


@pytest.mark.parametrize("key", ["short", "changeme-changeme-changeme-changeme-0"])
def test_a_weak_audit_checkpoint_key_stops_the_server_with_the_setting_named(key: str) -> None:
    with pytest.raises(ConfigurationError, match="CHRONOSOPS_AUDIT_CHECKPOINT_KEY"):
        Settings(jwt_secret=TEST_SECRET, audit_checkpoint_key=key).check_runnable()  # type: ignore[arg-type]


def test_analysis_signals_must_be_regular_expressions() -> None:
    with pytest.raises(ValidationError, match="not a regular expression"):
        Settings(analysis_signals={"(unclosed": "latency"})


def test_analysis_signals_reach_the_engine_as_rows_and_unknown_kinds_are_refused() -> None:
    from chronosops.bootstrap import signal_rules

    rows = signal_rules({"^shop_slowness$": "latency"})
    assert [(r.pattern, r.kind) for r in rows] == [("^shop_slowness$", "latency")]
    with pytest.raises(ValueError, match="CHRONOSOPS_ANALYSIS_SIGNALS"):
        signal_rules({"^x$": "vibes"})


def test_jobs_run_in_process_on_sqlite_and_in_workers_on_postgresql_by_default() -> None:
    sqlite = Settings(database_url="sqlite:///x.db", jwt_secret=TEST_SECRET)  # type: ignore[arg-type]
    postgres = Settings(database_url="postgresql+psycopg://h/d", jwt_secret=TEST_SECRET)  # type: ignore[arg-type]
    assert (sqlite.uses_procrastinate, postgres.uses_procrastinate) == (False, True)
    assert (sqlite.api_runs_jobs, postgres.api_runs_jobs) == (True, False)


def test_a_worker_job_runner_leaves_every_job_to_workers_on_either_database() -> None:
    sqlite = Settings(database_url="sqlite:///x.db", jwt_secret=TEST_SECRET, job_runner="worker")  # type: ignore[arg-type]
    postgres = Settings(
        database_url="postgresql+psycopg://h/d",
        jwt_secret=TEST_SECRET,  # type: ignore[arg-type]
        job_runner="worker",
    )
    # On SQLite the workers poll the jobs table; on PostgreSQL Procrastinate wakes them.
    assert (sqlite.uses_procrastinate, postgres.uses_procrastinate) == (False, True)
    assert (sqlite.api_runs_jobs, postgres.api_runs_jobs) == (False, False)
    in_process = Settings(
        database_url="postgresql+psycopg://h/d",
        jwt_secret=TEST_SECRET,  # type: ignore[arg-type]
        job_runner="in-process",
    )
    assert (in_process.uses_procrastinate, in_process.api_runs_jobs) == (False, True)


def test_every_setting_is_documented_in_the_configuration_guide() -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    missing = [
        name for name in Settings.model_fields if f"`CHRONOSOPS_{name.upper()}`" not in guide
    ]
    assert missing == []


def test_a_redis_url_must_name_a_redis_scheme_and_an_empty_one_means_none() -> None:
    assert Settings(jwt_secret=SecretStr(TEST_SECRET), redis_url="").redis_url is None
    shared = Settings(jwt_secret=SecretStr(TEST_SECRET), redis_url="redis://cache:6379/2")
    assert shared.limits.storage_url == "redis://cache:6379/2"
    with pytest.raises(ValidationError, match="redis://"):
        Settings(jwt_secret=SecretStr(TEST_SECRET), redis_url="http://cache:6379")


@pytest.mark.parametrize(
    "setting",
    [
        "CHRONOSOPS_COLLECTORS_ITEM_CAPS",
        "CHRONOSOPS_ALERT_GROUPING_WINDOWS",
        "CHRONOSOPS_ANALYSIS_SIGNALS",
    ],
)
def test_a_json_setting_that_is_not_json_is_a_configuration_error_naming_it(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(setting, "log_template=100")
    with pytest.raises(ConfigurationError, match=f"{setting} is not valid JSON"):
        load_settings()


@pytest.mark.parametrize(
    "name",
    ["public_url", "oidc_jwks_url", "oidc_redirect_url", "gemini_base_url", "openai_base_url"],
)
@pytest.mark.parametrize("value", ["ops.example.test", "ftp://ops.example.test", "http://"])
def test_a_url_setting_must_be_an_http_url_with_a_host(name: str, value: str) -> None:
    def settings(url: str) -> Settings:
        return Settings.model_validate({name: url})

    with pytest.raises(ValidationError, match="must be an http:// or https:// URL with a host"):
        settings(value)
    assert getattr(settings("https://ops.example.test/x"), name) == "https://ops.example.test/x"
    assert getattr(settings(""), name) is None


def test_alert_grouping_windows_name_known_sources_with_windows_of_a_second_or_more() -> None:
    assert Settings(alert_grouping_windows={"ALERTMANAGER": 600}).alert_grouping_windows == {
        "ALERTMANAGER": 600
    }
    with pytest.raises(ValidationError, match="unknown sourceType"):
        Settings(alert_grouping_windows={"alertmanager": 600})
    with pytest.raises(ValidationError, match="at least 1 second"):
        Settings(alert_grouping_windows={"DATADOG": -300})
