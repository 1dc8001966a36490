"""Settings, read once from the environment (prefix ``CHRONOSOPS_``).

Only this module reads the environment. `bootstrap` calls `load_settings()` and hands each
service the section it needs. Every setting is documented in docs/configuration.md.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from chronosops.core.artifacts import ARTIFACT_KINDS
from chronosops.core.errors import AppError
from chronosops.core.secret_strength import (
    MIN_VENDOR_DISTINCT_CHARACTERS,
    MIN_VENDOR_SECRET_BITS,
    weakness,
)

DEFAULT_DATABASE_URL = "sqlite:///./data/chronosops.db"
MIN_SECRET_LENGTH = 32
MIN_VENDOR_SECRET_LENGTH = 16
_PLACEHOLDER_MARKERS = (
    "changeme",
    "change-me",
    "change_me",
    "changethis",
    "placeholder",
    "your-secret",
    "your_secret",
    "yoursecret",
    "example",
    "secret-here",
    "xxxx",
    "todo",
)


class ConfigurationError(AppError):
    """The configuration cannot run: the message says which setting and how to fix it."""

    code = "bad-configuration"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHRONOSOPS_", extra="ignore", frozen=True)

    # storage
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    # Every wait on the database is bounded (docs/operations.md#limits-timeouts-and-failures).
    database_connect_timeout_seconds: float = Field(
        default=5.0, gt=0, le=120, description="PostgreSQL: longest wait to open a connection"
    )
    database_pool_timeout_seconds: float = Field(
        default=5.0, gt=0, le=120, description="longest wait for a free pooled connection"
    )
    database_statement_timeout_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="PostgreSQL statement_timeout; 0 = no limit"
    )
    database_busy_timeout_seconds: float = Field(
        default=30.0, ge=0, le=600, description="SQLite: longest wait for the writer's lock"
    )
    database_probe_timeout_seconds: float = Field(
        default=1.0, gt=0, le=30, description="/v1/ready and /v1/health: longest database wait"
    )
    database_wal_limit_mb: float = Field(
        default=64.0,
        ge=0,
        le=65536,
        description="SQLite: past this size the writer starts the WAL over; 0 = no limit",
    )

    # serving
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(
        default=1, ge=1, le=64, description="server processes; more than one needs PostgreSQL"
    )
    public_url: str | None = Field(
        default=None, description="how clients reach this server; used in printed examples"
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_ingest_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="body limit of POST /v1/incidents/ingest, which carries evidence (2-3 MB is common)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    # authentication
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = Field(default="chronosops", description="iss of locally minted tokens")
    jwt_audience: str = Field(default="chronosops", description="aud of locally minted tokens")
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_jwks_cache_seconds: int = Field(default=300, ge=0)
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)

    # web console sign-in (docs/console.md)
    oidc_client_id: str | None = Field(
        default=None, description="console sign-in: the client registered with the provider"
    )
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_url: str | None = Field(
        default=None, description="console sign-in callback; default PUBLIC_URL/sign-in/callback"
    )
    oidc_scopes: str = "openid profile email"
    session_secret: SecretStr | None = None
    session_ttl_minutes: int = Field(default=480, ge=5, le=43200)
    sign_in_link_ttl_minutes: int = Field(default=15, ge=1, le=1440)
    console_refresh_seconds: int = Field(default=15, ge=0, le=3600)

    # rate limits, in the `limits` notation ("600/minute"); per authenticated principal
    rate_limit_enabled: bool = True
    rate_limit_ingest: str = "600/minute"
    rate_limit_read: str = "1200/minute"
    rate_limit_storage_url: str = Field(
        default="memory://", description="memory:// or redis://host:6379 to share limits"
    )
    # N API processes behave as one: rate limits and replayed answers live in Redis.
    redis_url: str | None = Field(
        default=None,
        description="redis://host:6379/0 to share rate limits and replay caches between processes",
    )
    redis_key_prefix: str = Field(default="chronosops", min_length=1, max_length=100)

    # reasoning: the built-in engine always runs; a language model can add a checked second opinion
    reasoner: Literal["builtin", "gemini", "openai"] = "builtin"
    gemini_api_key: SecretStr | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = Field(
        default=None, description="override the Gemini endpoint (a proxy, or a test server)"
    )
    openai_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint, e.g. http://vllm:8000/v1"
    )
    openai_api_key: SecretStr | None = None
    openai_model: str | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    llm_max_retries: int = Field(default=2, ge=0, le=5)
    llm_postmortem_prose: bool = Field(
        default=False,
        description="let the configured language model write the postmortem prose (checked)",
    )
    llm_max_prompt_chars: int = Field(default=40_000, ge=2_000)
    llm_max_output_tokens: int = Field(default=2_048, ge=256)
    llm_price_input_per_mtok: float = Field(
        default=0.30, ge=0, description="USD per million input tokens"
    )
    llm_price_output_per_mtok: float = Field(
        default=2.50, ge=0, description="USD per million output tokens"
    )

    # native sources (docs/sources.md): a source without a secret or token is switched off
    webhook_pagerduty_secret: SecretStr | None = Field(
        default=None, description="PagerDuty V3 webhook signing secret (X-PagerDuty-Signature)"
    )
    webhook_pagerduty_token: SecretStr | None = None
    webhook_datadog_token: SecretStr | None = None
    webhook_newrelic_token: SecretStr | None = None
    webhook_google_cloud_monitoring_token: SecretStr | None = None
    webhook_google_cloud_status_token: SecretStr | None = None
    webhook_alertmanager_token: SecretStr | None = None
    webhook_grafana_token: SecretStr | None = None
    webhook_opsgenie_token: SecretStr | None = None
    webhook_replay_window_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="how long a delivery is remembered as seen"
    )
    webhook_job_events: int = Field(
        default=20,
        ge=0,
        le=100_000,
        description="a delivery with more events than this is stored as a job and answered 202",
    )

    # alert grouping (docs/operations.md "Alert grouping")
    alert_grouping: bool = Field(
        default=True,
        description="alerts of one Alertmanager/Grafana group (groupKey) join one open incident",
    )
    alert_grouping_windows: dict[str, int] = Field(
        default_factory=dict,
        description="per sourceType, seconds within which an alert joins the open incident of "
        'the same service and environment, e.g. {"ALERTMANAGER": 600}; default off',
    )
    alert_grouping_reanalysis_delay_seconds: float = Field(
        default=30,
        ge=0,
        le=3600,
        description="how long an incident's re-analysis waits after an alert joins it (debounce)",
    )

    # pipeline
    analyze_on_ingest: bool = True
    scenarios_enabled: bool = Field(
        default=True,
        description="serve the demo scenarios (/v1/scenarios, /v1/incidents/analyze, SCENARIO evidence)",
    )

    # evidence collection (docs/collectors.md)
    collectors_file: Path | None = Field(
        default=None, description="TOML or YAML file naming the collector instances"
    )
    notifications_file: Path | None = Field(
        default=None,
        description="YAML or JSON file of notification receivers and rules (docs/operations.md)",
    )
    collectors_allow: str = Field(
        default="*", description="comma-separated instance names or backend kinds; * = all"
    )
    collectors_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    collectors_budget_seconds: float = Field(default=20.0, gt=0, le=300)
    collectors_max_window_hours: float = Field(default=6.0, gt=0, le=6)
    collectors_item_caps: dict[str, int] = Field(
        default_factory=dict, description='per artifact kind, e.g. {"log_template": 100}'
    )
    collectors_neighbour_hops: int = Field(
        default=2,
        ge=0,
        le=4,
        description="callers and callees this many calls from the incident's service are collected too",
    )
    collectors_max_neighbours: int = Field(
        default=10,
        ge=0,
        le=50,
        description="services collected besides the incident's, nearest first",
    )
    changes_lookback_minutes: int = Field(
        default=120, ge=0, le=1440, description="how far before the window changes still count"
    )
    # engine 3.13's statement history (docs/analysis.md "Engine 3.13")
    analysis_history: bool = Field(
        default=True,
        description="keep each analysed incident's log statements and read a code path that "
        "stopped against the same services' earlier incidents",
    )
    analysis_history_incidents: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="earlier incidents per service an analysis reads (at least 5 to ever name one)",
    )
    analysis_signals: dict[str, str] = Field(
        default_factory=dict,
        description='extra rows for the signal table, metric-name regex → kind, e.g. {"^shop_slowness$": "latency"}',
    )
    audit_chain_id: str = "chronosops"
    # audit checkpoints (docs/operations.md): the key never goes into the database
    audit_checkpoint_key: SecretStr | None = Field(
        default=None, description="HMAC key that signs the audit chain's head; keep it off the DB"
    )
    audit_checkpoint_every_events: int = Field(
        default=100, ge=0, le=1_000_000, description="sign the head every N events (0: never)"
    )
    audit_checkpoint_interval_minutes: int = Field(
        default=60,
        ge=0,
        le=10_080,
        description="and at an append when the last is older (0: never)",
    )
    idempotency_ttl_hours: int = Field(default=24, ge=1)

    # background jobs (docs/operations.md, "Jobs")
    job_runner: Literal["auto", "in-process", "procrastinate", "worker"] = Field(
        default="auto",
        description="who runs jobs: auto = in-process on SQLite, `chronosops worker` "
        "(Procrastinate) on PostgreSQL; worker = only `chronosops worker` processes, the API none "
        "(on SQLite they poll the jobs table)",
    )
    job_max_attempts: int = Field(default=3, ge=1, le=50)
    job_backoff_seconds: float = Field(default=5.0, ge=0, le=3600)
    job_stale_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="a running job silent this long is taken over"
    )
    job_concurrency: int = Field(default=4, ge=1, le=256, description="jobs run at once per runner")
    job_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    investigation_max_window_hours: float = Field(
        default=2.0,
        gt=0,
        le=6,
        description="the longest window an investigation may collect evidence for (at most 6 h)",
    )

    @property
    def uses_procrastinate(self) -> bool:
        if self.job_runner in ("auto", "worker"):
            return not self.database_url.startswith("sqlite")
        return self.job_runner == "procrastinate"

    @property
    def api_runs_jobs(self) -> bool:
        """Whether the API process runs jobs itself (an in-process runner started with it)."""
        return not self.uses_procrastinate and self.job_runner != "worker"

    @field_validator("collectors_item_caps")
    @classmethod
    def _known_kinds_and_positive_caps(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(ARTIFACT_KINDS))
        if unknown:
            raise ValueError(
                f"unknown artifact kind(s) {', '.join(unknown)}; known: {', '.join(ARTIFACT_KINDS)}"
            )
        if any(cap < 1 for cap in value.values()):
            raise ValueError("every cap must be at least 1")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator(
        "public_url", "oidc_jwks_url", "oidc_redirect_url", "gemini_base_url", "openai_base_url"
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value.strip()

    @field_validator("alert_grouping_windows")
    @classmethod
    def _known_sources_and_positive_windows(cls, value: dict[str, int]) -> dict[str, int]:
        # On use: the request models are no import of every command's start (`--help`).
        from chronosops.core.ingest_request import SOURCE_TYPES

        unknown = sorted(set(value) - set(SOURCE_TYPES))
        if unknown:
            raise ValueError(
                f"unknown sourceType(s) {', '.join(unknown)}; known: {', '.join(SOURCE_TYPES)}"
            )
        if any(seconds < 1 for seconds in value.values()):
            raise ValueError("every window must be at least 1 second")
        return value

    @field_validator("analysis_signals")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a regular expression: {error}") from error
        return value

    @property
    def collectors_allow_list(self) -> frozenset[str] | None:
        """None when every configured collector may run."""
        text = self.collectors_allow.strip()
        if text == "*":
            return None
        return frozenset(part.strip() for part in text.split(",") if part.strip())

    def collectors(self) -> CollectorsConfig:
        """The collectors file, validated, with credential references resolved."""
        if self.collectors_file is None:
            return CollectorsConfig()
        return load_collectors_file(self.collectors_file)

    @field_validator(
        "jwt_secret",
        "session_secret",
        "oidc_client_secret",
        "webhook_pagerduty_secret",
        "webhook_pagerduty_token",
        "webhook_datadog_token",
        "webhook_newrelic_token",
        "webhook_google_cloud_monitoring_token",
        "webhook_google_cloud_status_token",
        "webhook_alertmanager_token",
        "webhook_grafana_token",
        "webhook_opsgenie_token",
        "audit_checkpoint_key",
    )
    @classmethod
    def _empty_secret_is_absent(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_embedded_default(self) -> bool:
        return self.database_url == DEFAULT_DATABASE_URL

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        _, _, path = self.database_url.partition(":///")
        return Path(path) if path and path != ":memory:" else None

    @property
    def database(self) -> DatabaseSettings:
        return DatabaseSettings(
            url=self.database_url,
            connect_timeout_seconds=self.database_connect_timeout_seconds,
            pool_timeout_seconds=self.database_pool_timeout_seconds,
            statement_timeout_seconds=self.database_statement_timeout_seconds,
            busy_timeout_seconds=self.database_busy_timeout_seconds,
            probe_timeout_seconds=self.database_probe_timeout_seconds,
            wal_limit_bytes=round(self.database_wal_limit_mb * 1024 * 1024),
        )

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_jwks_url)

    @property
    def auth(self) -> AuthSettings:
        return AuthSettings(
            jwt_secret=self.jwt_secret.get_secret_value() if self.jwt_secret else None,
            jwt_issuer=self.jwt_issuer,
            jwt_audience=self.jwt_audience,
            oidc_issuer=self.oidc_issuer,
            oidc_audience=self.oidc_audience,
            oidc_jwks_url=self.oidc_jwks_url,
            oidc_jwks_cache_seconds=self.oidc_jwks_cache_seconds,
            leeway_seconds=self.oidc_leeway_seconds,
        )

    @property
    def base_url(self) -> str:
        """How clients reach this server, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def oidc_login_enabled(self) -> bool:
        return bool(self.oidc_client_id and self.oidc_issuer)

    @property
    def console(self) -> ConsoleSettings:
        return ConsoleSettings(
            session_secret=(
                self.session_secret.get_secret_value() if self.session_secret else None
            ),
            session_ttl_minutes=self.session_ttl_minutes,
            sign_in_link_ttl_minutes=self.sign_in_link_ttl_minutes,
            refresh_seconds=self.console_refresh_seconds,
            base_url=self.base_url,
            oidc_login=(
                OidcLoginSettings(
                    issuer=self.oidc_issuer or "",
                    client_id=self.oidc_client_id or "",
                    client_secret=(
                        self.oidc_client_secret.get_secret_value()
                        if self.oidc_client_secret
                        else None
                    ),
                    redirect_url=self.oidc_redirect_url or f"{self.base_url}/sign-in/callback",
                    scopes=self.oidc_scopes,
                    leeway_seconds=self.oidc_leeway_seconds,
                )
                if self.oidc_login_enabled
                else None
            ),
        )

    @property
    def limits(self) -> LimitSettings:
        return LimitSettings(
            enabled=self.rate_limit_enabled,
            ingest=self.rate_limit_ingest,
            read=self.rate_limit_read,
            storage_url=self.rate_limit_storage_url
            if self.rate_limit_storage_url != "memory://" or self.redis_url is None
            else self.redis_url,
            key_prefix=f"{self.redis_key_prefix}:limits",
        )

    @property
    def llm(self) -> LlmSettings:
        return LlmSettings(
            provider=self.reasoner,
            gemini_api_key=self.gemini_api_key.get_secret_value() if self.gemini_api_key else None,
            gemini_model=self.gemini_model,
            gemini_base_url=self.gemini_base_url,
            openai_base_url=self.openai_base_url,
            openai_api_key=self.openai_api_key.get_secret_value() if self.openai_api_key else None,
            openai_model=self.openai_model,
            timeout_seconds=self.llm_timeout_seconds,
            max_retries=self.llm_max_retries,
            max_prompt_chars=self.llm_max_prompt_chars,
            max_output_tokens=self.llm_max_output_tokens,
            price_input_per_mtok=self.llm_price_input_per_mtok,
            price_output_per_mtok=self.llm_price_output_per_mtok,
        )

    @property
    def webhooks(self) -> WebhookSettings:
        secrets: dict[str, str] = {}
        tokens: dict[str, str] = {}
        for name, value in self._webhook_values():
            kind, what = webhook_kind_of(name)
            (secrets if what == "SECRET" else tokens)[kind] = value
        return WebhookSettings(
            secrets=secrets,
            tokens=tokens,
            replay_window_hours=self.webhook_replay_window_hours,
        )

    def _webhook_values(self) -> list[tuple[str, str]]:
        found = []
        for name in type(self).model_fields:
            if name.startswith(WEBHOOK_PREFIX) and name.endswith(("_secret", "_token")):
                value = getattr(self, name)
                if value is not None:
                    found.append((name, value.get_secret_value()))
        return found

    def check_runnable(self) -> None:
        """Raise `ConfigurationError` unless a server could authenticate anyone safely."""
        for name, value in self._webhook_values():
            if name.endswith("_token"):
                check_secret(f"CHRONOSOPS_{name.upper()}", value)
            elif len(value) < MIN_VENDOR_SECRET_LENGTH:
                # Signing secrets are generated by the vendor: no placeholder check (a random
                # one may contain "todo"), a lower bar for guessability.
                raise ConfigurationError(
                    f"CHRONOSOPS_{name.upper()} is {len(value)} characters; paste the whole "
                    "signing secret the vendor generated"
                )
            elif problem := weakness(
                value,
                min_bits=MIN_VENDOR_SECRET_BITS,
                min_distinct=MIN_VENDOR_DISTINCT_CHARACTERS,
            ):
                raise ConfigurationError(
                    f"CHRONOSOPS_{name.upper()} {problem}; paste the whole signing secret the "
                    "vendor generated"
                )
        if self.oidc_issuer and not self.oidc_jwks_url:
            raise ConfigurationError(
                "CHRONOSOPS_OIDC_ISSUER is set but CHRONOSOPS_OIDC_JWKS_URL is not: "
                "set the JWKS URL of your identity provider"
            )
        if self.oidc_enabled and not self.oidc_audience:
            raise ConfigurationError(
                "OIDC needs an audience: set CHRONOSOPS_OIDC_AUDIENCE to the client id tokens "
                "are issued for"
            )
        if self.oidc_client_id and not self.oidc_issuer:
            raise ConfigurationError(
                "CHRONOSOPS_OIDC_CLIENT_ID is set but CHRONOSOPS_OIDC_ISSUER is not: console "
                "sign-in discovers the provider from its issuer"
            )
        if self.oidc_scopes.split().count("openid") != 1:
            raise ConfigurationError(
                "CHRONOSOPS_OIDC_SCOPES must contain 'openid' once (e.g. 'openid profile email')"
            )
        if self.audit_checkpoint_key is not None:
            check_secret(
                "CHRONOSOPS_AUDIT_CHECKPOINT_KEY", self.audit_checkpoint_key.get_secret_value()
            )
        if self.session_secret is not None:
            check_secret("CHRONOSOPS_SESSION_SECRET", self.session_secret.get_secret_value())
        elif self.oidc_login_enabled and self.jwt_secret is None:
            raise ConfigurationError(
                "Console sign-in with OIDC needs a key for session cookies: set "
                "CHRONOSOPS_SESSION_SECRET (at least "
                f"{MIN_SECRET_LENGTH} random characters, e.g. `openssl rand -hex 32`), the same "
                "on every replica"
            )
        if self.reasoner == "gemini" and self.gemini_api_key is None:
            raise ConfigurationError(
                "CHRONOSOPS_REASONER=gemini needs CHRONOSOPS_GEMINI_API_KEY (or use "
                "CHRONOSOPS_REASONER=builtin, which works offline)"
            )
        if self.reasoner == "openai" and not (self.openai_base_url and self.openai_model):
            raise ConfigurationError(
                "CHRONOSOPS_REASONER=openai needs CHRONOSOPS_OPENAI_BASE_URL and "
                "CHRONOSOPS_OPENAI_MODEL (an OpenAI-compatible server such as vLLM or Ollama)"
            )
        if self.jwt_secret is None:
            if not self.oidc_enabled:
                raise ConfigurationError(
                    "No way to authenticate callers: set CHRONOSOPS_JWT_SECRET (at least "
                    f"{MIN_SECRET_LENGTH} random characters, e.g. `openssl rand -hex 32`) or "
                    "configure OIDC (CHRONOSOPS_OIDC_ISSUER, _AUDIENCE, _JWKS_URL). `make run` "
                    "generates a secret for the embedded default."
                )
            return
        check_secret("CHRONOSOPS_JWT_SECRET", self.jwt_secret.get_secret_value())


def check_secret(name: str, value: str) -> None:
    """Refuse secrets that are short, look copied from an example, or are easy to guess."""
    lowered = value.lower()
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        raise ConfigurationError(
            f"{name} looks like a placeholder; set it to a random value "
            "(e.g. `openssl rand -hex 32`)"
        )
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"{name} is {len(value)} characters; use at least {MIN_SECRET_LENGTH} random "
            "characters (e.g. `openssl rand -hex 32`)"
        )
    problem = weakness(value)
    if problem is not None:
        raise ConfigurationError(
            f"{name} {problem}; set it to a random value (e.g. `openssl rand -hex 32`)"
        )


@dataclass(frozen=True)
class DatabaseSettings:
    """Where the database is and how long any wait on it may last (seconds)."""

    url: str
    connect_timeout_seconds: float = 5.0
    pool_timeout_seconds: float = 5.0
    statement_timeout_seconds: float = 30.0
    busy_timeout_seconds: float = 30.0
    probe_timeout_seconds: float = 1.0
    # SQLite: the WAL's size past which the writer starts it over (0: no limit).
    wal_limit_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class AuthSettings:
    jwt_secret: str | None
    jwt_issuer: str
    jwt_audience: str
    oidc_issuer: str | None
    oidc_audience: str | None
    oidc_jwks_url: str | None
    oidc_jwks_cache_seconds: int
    leeway_seconds: int


WEBHOOK_PREFIX = "webhook_"


def webhook_setting(kind: str, what: Literal["SECRET", "TOKEN"]) -> str:
    """The environment variable of a source's secret or token: ``google-cloud-monitoring`` →
    ``CHRONOSOPS_WEBHOOK_GOOGLE_CLOUD_MONITORING_TOKEN``."""
    return f"CHRONOSOPS_WEBHOOK_{kind.upper().replace('-', '_')}_{what}"


def webhook_kind_of(field_name: str) -> tuple[str, Literal["SECRET", "TOKEN"]]:
    """``webhook_google_cloud_monitoring_token`` → (``google-cloud-monitoring``, ``TOKEN``)."""
    stem = field_name.removeprefix(WEBHOOK_PREFIX)
    stem, _, what = stem.rpartition("_")
    return stem.replace("_", "-"), "SECRET" if what == "secret" else "TOKEN"


@dataclass(frozen=True)
class WebhookSettings:
    """Per source kind: the HMAC signing secret and the shared token, when configured."""

    secrets: dict[str, str]
    tokens: dict[str, str]
    replay_window_hours: int


@dataclass(frozen=True)
class OidcLoginSettings:
    issuer: str
    client_id: str
    client_secret: str | None
    redirect_url: str
    scopes: str
    leeway_seconds: int


@dataclass(frozen=True)
class ConsoleSettings:
    session_secret: str | None
    session_ttl_minutes: int
    sign_in_link_ttl_minutes: int
    refresh_seconds: int
    base_url: str
    oidc_login: OidcLoginSettings | None


@dataclass(frozen=True)
class LlmSettings:
    provider: str
    gemini_api_key: str | None
    gemini_model: str
    gemini_base_url: str | None
    openai_base_url: str | None
    openai_api_key: str | None
    openai_model: str | None
    timeout_seconds: float
    max_retries: int
    max_prompt_chars: int
    max_output_tokens: int
    price_input_per_mtok: float
    price_output_per_mtok: float


@dataclass(frozen=True)
class LimitSettings:
    enabled: bool
    ingest: str
    read: str
    storage_url: str
    # Names the counters in a shared store (several deployments can share one Redis).
    key_prefix: str = "chronosops:limits"


class CollectorInstance(BaseModel):
    """One ``[[collectors]]`` entry of the collectors file, before its backend checks it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=63)
    backend: str = Field(min_length=1, max_length=63)
    endpoint: str | None = None
    enabled: bool = True
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)
    credentials: dict[str, str] = Field(
        default_factory=dict, description='name → "env:VARIABLE"; never the secret itself'
    )
    options: dict[str, Any] = Field(default_factory=dict)


class CollectorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    collectors: list[CollectorInstance] = Field(default_factory=list)
    topology: dict[str, list[str]] = Field(
        default_factory=dict, description="service → the services it depends on"
    )


@dataclass(frozen=True)
class ResolvedCollector:
    name: str
    backend: str
    endpoint: str | None
    timeout_seconds: float | None
    options: dict[str, Any]
    credentials: dict[str, SecretStr]


@dataclass(frozen=True)
class CollectorsConfig:
    collectors: tuple[ResolvedCollector, ...] = ()
    topology: dict[str, list[str]] = field(default_factory=dict)


ENV_REFERENCE = "env:"


def _read_collectors_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"CHRONOSOPS_COLLECTORS_FILE: cannot read {path}: {exc.strerror or exc}"
        ) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"CHRONOSOPS_COLLECTORS_FILE: {path} does not parse: {exc}"
        ) from None
    raise ConfigurationError(f"CHRONOSOPS_COLLECTORS_FILE: {path} must end in .toml, .yaml or .yml")


def load_collectors_file(path: Path) -> CollectorsConfig:
    """Collector instances from a TOML or YAML file, credentials read from the environment.

    Credentials are references (``env:DATADOG_API_KEY``), never values: a file that carries a
    secret inline is refused, so the file can live in version control. Error messages name the
    collector, the credential and the variable, never a value.
    """
    data = _read_collectors_file(path)
    try:
        parsed = CollectorsFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigurationError(f"CHRONOSOPS_COLLECTORS_FILE {path}: {problems}") from None
    seen: set[str] = set()
    resolved: list[ResolvedCollector] = []
    for instance in parsed.collectors:
        if instance.name in seen:
            raise ConfigurationError(
                f"CHRONOSOPS_COLLECTORS_FILE {path}: two collectors are named {instance.name!r}"
            )
        seen.add(instance.name)
        if not instance.enabled:
            continue
        credentials: dict[str, SecretStr] = {}
        for key, reference in sorted(instance.credentials.items()):
            if not reference.startswith(ENV_REFERENCE):
                raise ConfigurationError(
                    f"collector {instance.name}: credential {key} must be an environment "
                    f"reference such as env:{key.upper()}; secrets are never written in the file"
                )
            variable = reference.removeprefix(ENV_REFERENCE).strip()
            value = os.environ.get(variable, "")
            if not variable or not value.strip():
                raise ConfigurationError(
                    f"collector {instance.name}: credential {key} reads the environment "
                    f"variable {variable or '(none)'}, which is not set"
                )
            credentials[key] = SecretStr(value.strip())
        resolved.append(
            ResolvedCollector(
                name=instance.name,
                backend=instance.backend,
                endpoint=instance.endpoint,
                timeout_seconds=instance.timeout_seconds,
                options=dict(instance.options),
                credentials=credentials,
            )
        )
    return CollectorsConfig(collectors=tuple(resolved), topology=dict(parsed.topology))


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides winning (used by the CLI).

    A value pydantic-settings cannot even decode (a JSON setting that is not JSON) is a
    `ConfigurationError` naming the variable, as a value that breaks a rule is a
    ``ValidationError`` naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:
        found = re.search(r'field "([a-z0-9_]+)"', str(exc))
        name = f"CHRONOSOPS_{found.group(1).upper()}" if found else "a CHRONOSOPS_* setting"
        raise ConfigurationError(
            f"{name} is not valid JSON; write it as a JSON object, e.g. {_JSON_EXAMPLES.get(name, '{}')}"
        ) from None


_JSON_EXAMPLES = {
    "CHRONOSOPS_COLLECTORS_ITEM_CAPS": '{"log_template": 100}',
    "CHRONOSOPS_ALERT_GROUPING_WINDOWS": '{"ALERTMANAGER": 600}',
    "CHRONOSOPS_ANALYSIS_SIGNALS": '{"^shop_checkout_slowness$": "latency"}',
}
