"""The composition root: settings in, a wired set of services out.

Only this module builds engines, clients and registries from settings; everything below it
receives its collaborators. `web`, `cli` and the tests call `build_services`.
"""

from __future__ import annotations

import secrets
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

import httpx

from chronosops import __version__
from chronosops.analysis.models import SignalRuleInput
from chronosops.audit import AuditLog, CheckpointPolicy
from chronosops.auth import (
    LocalTokenIssuer,
    OidcLogin,
    RateLimiter,
    SessionCodec,
    SignInLinks,
    SignOuts,
    TokenVerifier,
    WebhookVerifier,
    derive_session_key,
)
from chronosops.changes import ChangeService
from chronosops.collectors import Collector, CollectorConfigError, CollectorSpec, registry
from chronosops.config import CollectorsConfig, ConfigurationError, Settings
from chronosops.core.clock import Clock, SystemClock
from chronosops.core.ids import IdFactory, RandomIds
from chronosops.core.metrics import OperatorMetrics
from chronosops.evidence import (
    DEFAULT_ITEM_CAPS,
    CollectionPolicy,
    CollectorRunner,
    EvidenceService,
)
from chronosops.incidents import AlertGrouping, IncidentService
from chronosops.investigation import (
    EvidenceGatherer,
    Explanations,
    Gate,
    IncidentDetails,
    IncidentExports,
    IncidentLifecycle,
    IncidentTimelines,
    IngestPipeline,
    Investigations,
    JobRunner,
    ModelProseWriter,
    Notifier,
    Once,
    Silencing,
    SourceIntake,
)
from chronosops.jobs import JobPolicy, JobService
from chronosops.notifications import NotificationService, load_notifications
from chronosops.postmortem import PostmortemService
from chronosops.reasoning import (
    BuiltinReasoner,
    GeminiClient,
    LanguageModelReasoner,
    ModelClient,
    OpenAICompatibleClient,
    Reasoner,
    ReasoningService,
)
from chronosops.silences import SilenceService
from chronosops.storage import Database, Liveness, SharedState, metadata, process_name

__all__ = [
    "Services",
    "build_collectors",
    "build_reasoner",
    "build_services",
    "metadata",
]

USER_AGENT = f"ChronosOps/{__version__}"


@dataclass
class Services:
    settings: Settings
    clock: Clock
    ids: IdFactory
    database: Database
    http: httpx.AsyncClient
    audit: AuditLog
    incidents: IncidentService
    evidence: EvidenceService
    changes: ChangeService
    reasoning: ReasoningService
    postmortems: PostmortemService
    pipeline: IngestPipeline
    jobs: JobService
    runner: JobRunner
    details: IncidentDetails
    explanations: Explanations
    exports: IncidentExports
    investigations: Investigations
    intake: SourceIntake
    lifecycle: IncidentLifecycle
    timelines: IncidentTimelines
    silences: SilenceService
    silencing: Silencing
    metrics: OperatorMetrics
    notifications: NotificationService
    once: Once
    verifier: TokenVerifier
    webhooks: WebhookVerifier
    limiter: RateLimiter
    sessions: SessionCodec
    sign_in_links: SignInLinks
    sign_outs: SignOuts
    oidc_login: OidcLogin | None = None
    issuer: LocalTokenIssuer | None = None
    # Redis, when CHRONOSOPS_REDIS_URL shares rate limits and replay caches between processes.
    shared: SharedState | None = None
    _owns_http: bool = field(default=True, repr=False)

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()
        if self.incidents.liveness is not None:
            self.incidents.liveness.close()
        if self.shared is not None:
            await self.shared.close()
        await self.database.dispose()


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR), built once
    per process: loading the CA bundle takes ~40 ms of CPU, which every `build_services` paid
    again (once per test in the suite)."""
    return httpx.create_ssl_context()


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: IdFactory | None = None,
    reasoner: Reasoner | None = None,
    http: httpx.AsyncClient | None = None,
) -> Services:
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    owns_http = http is None
    http = http or httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT}, timeout=10.0, verify=tls_context()
    )
    database = Database(settings.database)
    shared = (
        SharedState(settings.redis_url, key_prefix=settings.redis_key_prefix)
        if settings.redis_url
        else None
    )
    audit = AuditLog(
        chain_id=settings.audit_chain_id,
        clock=clock,
        ids=ids,
        checkpoints=_checkpoint_policy(settings),
    )
    name = process_name()
    liveness = Liveness(
        name=name,
        database_url=None
        if database.is_sqlite
        else "postgresql://" + settings.database_url.split("://", 1)[1],
    )
    incidents = IncidentService(
        clock=clock,
        ids=ids,
        idempotency_ttl=timedelta(hours=settings.idempotency_ttl_hours),
        liveness=liveness,
    )
    collectors_config = settings.collectors()
    settings_caps = {**DEFAULT_ITEM_CAPS, **settings.collectors_item_caps}
    evidence = EvidenceService(
        clock=clock,
        runner=build_collectors(settings, collectors_config, http, clock),
        history_incidents=settings.analysis_history_incidents if settings.analysis_history else 0,
    )
    changes = ChangeService(clock=clock, ids=ids)
    reasoning = ReasoningService(
        reasoner=reasoner or build_reasoner(settings, http), clock=clock, ids=ids
    )
    postmortems = PostmortemService(clock=clock, ids=ids, prose=build_prose_writer(settings, http))
    auth = settings.auth
    console = settings.console
    verifier = TokenVerifier(auth, http=http)
    sessions = SessionCodec(
        _session_key(settings), clock=clock, ttl=timedelta(minutes=console.session_ttl_minutes)
    )
    silences = SilenceService(clock=clock, ids=ids)
    metrics = OperatorMetrics()
    jobs = JobService(
        clock=clock,
        ids=ids,
        owner=name,
        policy=JobPolicy(
            max_attempts=settings.job_max_attempts,
            backoff_seconds=settings.job_backoff_seconds,
            stale_after=timedelta(seconds=settings.job_stale_seconds),
        ),
        procrastinate=settings.uses_procrastinate,
        liveness=liveness,
    )
    notifications = NotificationService(
        clock=clock,
        ids=ids,
        config=load_notifications(settings.notifications_file),
        http=http,
    )
    notifier = Notifier(
        database=database,
        notifications=notifications,
        jobs=jobs,
        public_url=settings.base_url,
        metrics=metrics,
    )
    lifecycle = IncidentLifecycle(
        database=database, incidents=incidents, audit=audit, notifier=notifier
    )
    pipeline = IngestPipeline(
        database=database,
        jobs=jobs,
        incidents=incidents,
        evidence=evidence,
        gatherer=EvidenceGatherer(
            database=database,
            evidence=evidence,
            changes=changes,
            scenarios_enabled=settings.scenarios_enabled,
            topology=collectors_config.topology,
            neighbour_hops=settings.collectors_neighbour_hops,
            max_neighbours=settings.collectors_max_neighbours,
            changes_lookback=timedelta(minutes=settings.changes_lookback_minutes),
            max_changes=settings_caps["change_event"],
        ),
        reasoning=reasoning,
        audit=audit,
        analyze_on_ingest=settings.analyze_on_ingest,
        postmortems=postmortems,
        signal_rules=signal_rules(settings.analysis_signals),
        silences=silences,
        metrics=metrics,
        notifier=notifier,
        grouping=AlertGrouping(
            clock=clock,
            ids=ids,
            windows={
                source: timedelta(seconds=seconds)
                for source, seconds in settings.alert_grouping_windows.items()
                if seconds > 0
            },
        )
        if settings.alert_grouping
        else None,
        regroup_delay=timedelta(seconds=settings.alert_grouping_reanalysis_delay_seconds),
    )
    intake = SourceIntake(
        database=database,
        incidents=incidents,
        audit=audit,
        pipeline=pipeline,
        jobs=jobs,
        lifecycle=lifecycle,
        clock=clock,
    )
    investigations = Investigations(
        database=database,
        incidents=incidents,
        evidence=evidence,
        reasoning=reasoning,
        pipeline=pipeline,
        jobs=jobs,
        audit=audit,
        clock=clock,
        ids=ids,
        gate=Gate(max_window=timedelta(hours=settings.investigation_max_window_hours)),
    )
    runner = JobRunner(
        database=database,
        jobs=jobs,
        pipeline=pipeline,
        intake=intake,
        concurrency=settings.job_concurrency,
        poll_seconds=settings.job_poll_seconds,
        investigations=investigations,
        notifier=notifier,
        metrics=metrics,
    )
    exports = IncidentExports(
        incidents=incidents,
        evidence=evidence,
        reasoning=reasoning,
        postmortems=postmortems,
        audit=audit,
    )
    exports.investigations = investigations.export_section
    return Services(
        settings=settings,
        clock=clock,
        ids=ids,
        database=database,
        http=http,
        audit=audit,
        incidents=incidents,
        evidence=evidence,
        changes=changes,
        reasoning=reasoning,
        postmortems=postmortems,
        pipeline=pipeline,
        jobs=jobs,
        runner=runner,
        details=IncidentDetails(incidents=incidents, evidence=evidence, reasoning=reasoning),
        explanations=Explanations(reasoning=reasoning, evidence=evidence),
        exports=exports,
        investigations=investigations,
        intake=intake,
        once=Once(
            database=database,
            incidents=incidents,
            replay_window=timedelta(hours=settings.webhook_replay_window_hours),
            shared=shared,
        ),
        lifecycle=lifecycle,
        timelines=IncidentTimelines(
            database=database,
            incidents=incidents,
            evidence=evidence,
            reasoning=reasoning,
            audit=audit,
        ),
        silences=silences,
        silencing=Silencing(database=database, silences=silences, audit=audit),
        metrics=metrics,
        notifications=notifications,
        verifier=verifier,
        webhooks=WebhookVerifier(settings.webhooks),
        limiter=RateLimiter(settings.limits),
        shared=shared,
        sessions=sessions,
        sign_in_links=SignInLinks(
            clock=clock, ttl=timedelta(minutes=console.sign_in_link_ttl_minutes)
        ),
        sign_outs=SignOuts(clock=clock, shared=shared),
        oidc_login=(
            OidcLogin(
                console.oidc_login,
                http=http,
                verifier=verifier,
                jwks_cache_seconds=settings.oidc_jwks_cache_seconds,
            )
            if console.oidc_login
            else None
        ),
        issuer=LocalTokenIssuer(auth, clock=clock, ids=ids) if auth.jwt_secret else None,
        _owns_http=owns_http,
    )


def _checkpoint_policy(settings: Settings) -> CheckpointPolicy | None:
    if settings.audit_checkpoint_key is None:
        return None
    minutes = settings.audit_checkpoint_interval_minutes
    return CheckpointPolicy(
        key=settings.audit_checkpoint_key.get_secret_value().encode(),
        every_events=settings.audit_checkpoint_every_events,
        interval=timedelta(minutes=minutes) if minutes else None,
    )


def _session_key(settings: Settings) -> bytes:
    """The console's cookie key: configured, derived from the JWT secret, or per process.

    A per-process key only happens when neither secret is set (OIDC bearer tokens without
    console sign-in); sessions then end with the process, which is all such a setup can use.
    """
    console = settings.console
    if console.session_secret:
        return console.session_secret.encode()
    if settings.auth.jwt_secret:
        return derive_session_key(settings.auth.jwt_secret)
    return secrets.token_bytes(32)


def build_collectors(
    settings: Settings, config: CollectorsConfig, http: httpx.AsyncClient, clock: Clock
) -> CollectorRunner:
    """The configured collectors and the policy they run under.

    Raises `ConfigurationError` naming the instance and the field when one cannot work.
    """
    collectors: list[Collector] = []
    for instance in config.collectors:
        try:
            collectors.append(
                registry.build(
                    CollectorSpec(
                        name=instance.name,
                        backend=instance.backend,
                        endpoint=instance.endpoint,
                        options=instance.options,
                        credentials=instance.credentials,
                        timeout_seconds=instance.timeout_seconds,
                    ),
                    http=http,
                    clock=clock,
                )
            )
        except CollectorConfigError as error:
            raise ConfigurationError(f"CHRONOSOPS_COLLECTORS_FILE: {error.message}") from None
    policy = CollectionPolicy(
        allow=settings.collectors_allow_list,
        timeout_seconds=settings.collectors_timeout_seconds,
        budget_seconds=settings.collectors_budget_seconds,
        max_window=timedelta(hours=settings.collectors_max_window_hours),
        item_caps={**DEFAULT_ITEM_CAPS, **settings.collectors_item_caps},
    )
    return CollectorRunner(collectors, policy)


def build_model_client(settings: Settings, http: httpx.AsyncClient) -> ModelClient | None:
    """The configured language model's client, if one is configured."""
    llm = settings.llm
    if llm.provider == "gemini" and llm.gemini_api_key:
        return GeminiClient(
            api_key=llm.gemini_api_key, model=llm.gemini_model, base_url=llm.gemini_base_url
        )
    if llm.provider == "openai" and llm.openai_base_url and llm.openai_model:
        return OpenAICompatibleClient(
            base_url=llm.openai_base_url,
            model=llm.openai_model,
            api_key=llm.openai_api_key,
            http=http,
        )
    return None


def build_reasoner(settings: Settings, http: httpx.AsyncClient) -> Reasoner:
    """The configured reasoner: the built-in engine, alone or with a language model beside it."""
    client = build_model_client(settings, http)
    if client is None:
        return BuiltinReasoner()
    return LanguageModelReasoner(client, settings=settings.llm)


def build_prose_writer(settings: Settings, http: httpx.AsyncClient) -> ModelProseWriter | None:
    """The language model that writes the postmortem prose, when one is configured and asked to."""
    client = build_model_client(settings, http)
    if client is None or not settings.llm_postmortem_prose:
        return None
    llm = settings.llm
    return ModelProseWriter(
        client,
        timeout_seconds=llm.timeout_seconds,
        max_retries=llm.max_retries,
        max_output_tokens=llm.max_output_tokens,
        price_input_per_mtok=llm.price_input_per_mtok,
        price_output_per_mtok=llm.price_output_per_mtok,
    )


def signal_rules(rows: dict[str, str]) -> list[SignalRuleInput]:
    """CHRONOSOPS_ANALYSIS_SIGNALS as rows for the engine's signal table; an unknown kind is a
    configuration error naming the setting and the kinds there are."""
    from chronosops.analysis.signals import KIND_DIRECTION

    unknown = sorted({kind for kind in rows.values() if kind not in KIND_DIRECTION})
    if unknown:
        raise ValueError(
            f"CHRONOSOPS_ANALYSIS_SIGNALS: unknown signal kind(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(KIND_DIRECTION))}"
        )
    return [SignalRuleInput(pattern=pattern, kind=kind) for pattern, kind in rows.items()]
