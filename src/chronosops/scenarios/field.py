"""Field incidents: a second library, written in conventions the default one never uses.

The default library grew up with the engine, so its names and phrases are the engine's own
vocabulary. These scenarios are written the way incidents arrive from other teams' systems:
services named `ordersvc` or `pricing_engine`, always in a seeded mix of languages and
exporters (`conventions`, `phrasebook`), third parties that appear only inside log lines and
URLs, and the change that matters made on a neighbour (a database's rotated password, another
service's config) rather than on the service the alert names. They cover the misses that were
measured on independently written incidents: a traffic surge answered with
`RejectedExecutionException` or "server overloaded", a circuit breaker open on a third-party
API, a rotated database credential.

Ground truths use the analysis catalog's ids, with the same meaning of culprit as the default
library: the service whose fault it is, where the fix goes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chronosops.scenarios.model import (
    Call,
    ChangeSpec,
    Effect,
    LogRule,
    Operation,
    Scenario,
    ServiceKind,
    ServiceNode,
    Shape,
    Topology,
)

# Variant names for field topologies: other teams name their services their own way.
FIELD_NAME_POOLS: dict[ServiceKind, tuple[str, ...]] = {
    "edge": ("web-bff", "edge", "gw-public", "frontdoor", "mobile_gateway", "nginx-ingress"),
    "api": (
        "ordersvc",
        "catalog_svc",
        "shipping_quotes",
        "pricing_engine",
        "invoicing_api",
        "inventory_svc",
        "product_svc",
        "accounts",
        "paymentsvc",
        "loyalty_api",
        "tax_calc",
        "quotes",
        "basket",
        "fulfil_svc",
    ),
    "worker": (
        "ledger_consumer",
        "geo_enricher",
        "outbox-relay",
        "reindexer",
        "mailer_worker",
        "settlement-batch",
    ),
    "database": ("pg-orders-01", "mysql-catalog", "pg-ledger", "aurora-main", "pg-billing-02"),
    "cache": ("redis-sessions", "redis-products", "memcached-01", "valkey-cache"),
    "external": (
        "carrier-rates-partner",
        "maps-partner",
        "tax-partner",
        "kyc-vendor",
        "fx-feed",
        "login-idp",
        "legacy-billing",
    ),
    "dns": ("node-local-dns", "kube-dns", "unbound"),
}
FIELD_BYSTANDERS = (
    "audit_sink",
    "prefs-svc",
    "banner_api",
    "telemetry-relay",
    "consent",
    "search_suggest",
)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _edge(name: str, rps: float, *calls: Call, op: str) -> ServiceNode:
    return ServiceNode(
        key="edge", name=name, kind="edge", operations=(Operation(op, 1.0, 5.0, calls),), rps=rps
    )


def _db(key: str, name: str, *ops: str, work_ms: float = 5.0) -> ServiceNode:
    return ServiceNode(
        key=key,
        name=name,
        kind="database",
        operations=tuple(Operation(op, 1.0 / len(ops), work_ms) for op in ops),
        cpu=0.2,
        error_ratio=0.0001,
    )


SURGE_REJECTIONS = Scenario(
    id="field-surge-rejections",
    title="Catalog rejects requests during a marketing push",
    description=(
        "A push notification tripled traffic through {svc:edge}; {svc:catalog}'s worker threads "
        "filled and it started rejecting work. Nothing was deployed."
    ),
    category="saturation",
    severity="high",
    hypothesis_id="CAPACITY_SATURATION",
    culprit="catalog",
    reported="edge",
    onset=_at("2026-03-03T18:00:00"),
    tags=("traffic", "capacity", "threads", "field"),
    family="field",
    topology=Topology(
        (
            _edge(
                "web-bff", 190, Call("catalog", "GET /products", timeout_ms=3000), op="GET /home"
            ),
            ServiceNode(
                key="catalog",
                name="catalog_svc",
                kind="api",
                operations=(
                    Operation("GET /products", 1.0, 30.0, (Call("db", "SELECT products"),)),
                ),
                cpu=0.32,
            ),
            _db("db", "mysql-catalog", "SELECT products"),
        )
    ),
    effects=(
        Effect("edge", "traffic", 2.0, Shape(start=0, ramp=5)),
        Effect("catalog", "error_ratio", 0.12, Shape(start=4, ramp=3), mode="unavailable"),
    ),
    logs=(LogRule("catalog", "ERROR", "@rejected", "own_errors", per_event=0.5),),
    explanation=(
        "Three times the usual traffic; the catalog's worker pool and CPU are the bottleneck and "
        "it sheds what it cannot queue. The code and the database are fine."
    ),
)

PARTNER_BREAKER = Scenario(
    id="field-partner-breaker-open",
    title="Shipping quotes fail: circuit breaker open on the carrier API",
    description=(
        "{svc:shipping} cannot quote: calls to the carrier's rate API time out and its circuit "
        "breaker opened. The carrier exports nothing to us."
    ),
    category="errors",
    severity="high",
    hypothesis_id="DOWNSTREAM_OUTAGE",
    culprit="partner",
    reported="shipping",
    onset=_at("2026-03-05T10:20:00"),
    tags=("third-party", "circuit-breaker", "field"),
    hard_case=True,
    family="field",
    topology=Topology(
        (
            _edge(
                "checkout-web", 70, Call("shipping", "GET /quote", timeout_ms=5000), op="GET /cart"
            ),
            ServiceNode(
                key="shipping",
                name="shipping_quotes",
                kind="api",
                operations=(
                    Operation(
                        "GET /quote",
                        1.0,
                        15.0,
                        (
                            Call("partner", "GET /v2/rates", timeout_ms=3000),
                            Call("db", "SELECT zones"),
                        ),
                    ),
                ),
            ),
            ServiceNode(
                key="partner",
                name="carrier-rates-partner",
                kind="external",
                operations=(Operation("GET /v2/rates", 1.0, 220.0),),
            ),
            _db("db", "pg-orders-01", "SELECT zones"),
        )
    ),
    effects=(Effect("partner", "error_ratio", 0.85, Shape(start=0, ramp=1), mode="timeout"),),
    logs=(
        LogRule(
            "shipping",
            "ERROR",
            "@breaker_open:partner",
            "requests",
            per_event=0.2,
            shape=Shape(start=1.5),
        ),
    ),
    changes=(
        ChangeSpec(
            "shipping",
            "deploy",
            -35,
            "Translate quote page strings",
            "4.2.0",
            "4.2.1",
            author="release-train",
            innocent=True,
        ),
    ),
    explanation=(
        "The carrier's rate API stopped answering in time; the breaker in front of it opened. "
        "The fault is the third party's; the shipping service only reports it."
    ),
)

ROTATED_CREDENTIAL = Scenario(
    id="field-rotated-db-credential",
    title="Orders fail after the database password was rotated",
    description=(
        "A scheduled rotation changed the password of {svc:db}'s application role; {svc:orders} "
        "kept the old one, and each new connection it opens is refused."
    ),
    category="errors",
    severity="critical",
    hypothesis_id="CONFIG_REGRESSION",
    culprit="db",
    reported="orders",
    onset=_at("2026-03-09T02:00:00"),
    tags=("credentials", "config", "database", "field"),
    hard_case=True,
    family="field",
    topology=Topology(
        (
            _edge("frontdoor", 90, Call("orders", "POST /orders"), op="POST /orders"),
            ServiceNode(
                key="orders",
                name="ordersvc",
                kind="api",
                operations=(
                    Operation("POST /orders", 1.0, 25.0, (Call("db", "INSERT orders", 2.0),)),
                ),
                pool_size=30,
            ),
            _db("db", "pg-orders-01", "INSERT orders"),
        )
    ),
    # Pooled connections keep working until they are recycled, so failures grow over minutes.
    effects=(Effect("orders", "error_ratio", 0.55, Shape(start=0, ramp=5)),),
    logs=(LogRule("orders", "ERROR", "@db_auth:db", "own_errors", per_event=0.6),),
    changes=(
        ChangeSpec(
            "db",
            "config",
            -1,
            "Rotate password of role app_rw (secret orders-db-credentials, version 14)",
            author="vault-rotation",
        ),
        ChangeSpec(
            "edge",
            "deploy",
            -40,
            "Bump TLS ciphers list",
            "2026.3.1",
            "2026.3.2",
            author="platform-bot",
            innocent=True,
        ),
    ),
    explanation=(
        "The credential rotation on the database was not propagated to the service's secret; "
        "it is a configuration change on a neighbour, not an identity-provider problem."
    ),
)

NEIGHBOUR_CONFIG = Scenario(
    id="field-neighbour-config",
    title="Basket totals fail after a pricing config push",
    description=(
        "{svc:basket} returns errors; the pricing service it calls got a configuration push "
        "with a rounding mode its code does not know."
    ),
    category="errors",
    severity="high",
    hypothesis_id="CONFIG_REGRESSION",
    culprit="pricing",
    reported="basket",
    onset=_at("2026-03-11T16:40:00"),
    tags=("config", "neighbour", "field"),
    hard_case=True,
    family="field",
    topology=Topology(
        (
            _edge("gw-public", 110, Call("basket", "GET /basket"), op="GET /basket"),
            ServiceNode(
                key="basket",
                name="basket",
                kind="api",
                operations=(
                    Operation(
                        "GET /basket",
                        1.0,
                        12.0,
                        (Call("pricing", "POST /price"), Call("cache", "GET basket")),
                    ),
                ),
            ),
            ServiceNode(
                key="pricing",
                name="pricing_engine",
                kind="api",
                operations=(Operation("POST /price", 1.0, 18.0),),
            ),
            ServiceNode(
                key="cache",
                name="redis-sessions",
                kind="cache",
                operations=(Operation("GET basket", 1.0, 0.7),),
            ),
        )
    ),
    effects=(Effect("pricing", "error_ratio", 0.35, Shape(start=0, ramp=1)),),
    logs=(LogRule("pricing", "ERROR", "@config_invalid", "own_errors", per_event=0.5),),
    changes=(
        ChangeSpec(
            "pricing",
            "config",
            -2,
            "pricing.rounding-mode: HALF_EVEN -> HALF_AWAY",
            author="config-repo-sync",
        ),
        ChangeSpec(
            "basket",
            "deploy",
            -9,
            "Show delivery estimate in basket",
            "7.0.3",
            "7.1.0",
            author="release-train",
            innocent=True,
        ),
    ),
    explanation=(
        "The pricing service's new rounding mode is not one its code accepts; pricing fails "
        "and the basket passes the failures on. The basket's own deploy did nothing."
    ),
)

PYTHON_DEPLOY = Scenario(
    id="field-deploy-none-error",
    title="Invoices fail after a release",
    description="{svc:invoicing} throws on a missing field since its latest release.",
    category="errors",
    severity="high",
    hypothesis_id="DEPLOY_BUG",
    culprit="invoicing",
    reported="invoicing",
    onset=_at("2026-03-13T09:05:00"),
    tags=("deploy", "code", "field"),
    family="field",
    topology=Topology(
        (
            _edge("edge", 60, Call("invoicing", "POST /invoices"), op="POST /invoices"),
            ServiceNode(
                key="invoicing",
                name="invoicing_api",
                kind="api",
                operations=(
                    Operation("POST /invoices", 1.0, 40.0, (Call("db", "INSERT invoices"),)),
                ),
            ),
            _db("db", "pg-billing-02", "INSERT invoices"),
        )
    ),
    effects=(Effect("invoicing", "error_ratio", 0.18, Shape(start=0, ramp=1)),),
    logs=(LogRule("invoicing", "ERROR", "@null_error", "own_errors", per_event=0.7),),
    changes=(
        ChangeSpec(
            "invoicing",
            "deploy",
            -2,
            "Support multi-currency invoices",
            "3.14.2",
            "3.15.0",
            author="dana.k",
        ),
        ChangeSpec(
            "db",
            "config",
            -30,
            "Raise work_mem to 16MB",
            author="dba-team",
            innocent=True,
        ),
    ),
    explanation="The 3.15.0 release dereferences a field older invoices do not have.",
)

HEAP_EXHAUSTION = Scenario(
    id="field-heap-exhaustion",
    title="Ledger consumer keeps restarting",
    description=(
        "{svc:consumer} grows its heap until the container is killed, then starts over; lag "
        "builds up on the topic."
    ),
    category="saturation",
    severity="high",
    hypothesis_id="CAPACITY_SATURATION",
    culprit="consumer",
    reported="consumer",
    onset=_at("2026-03-16T04:10:00"),
    duration_minutes=30,
    tags=("memory", "oom", "field"),
    family="field",
    topology=Topology(
        (
            ServiceNode(
                key="consumer",
                name="ledger_consumer",
                kind="worker",
                operations=(
                    Operation("consume ledger-events", 1.0, 45.0, (Call("db", "INSERT entries"),)),
                ),
                rps=40,
                memory_mb=700,
                memory_limit_mb=1536,
                cpu=0.35,
            ),
            _db("db", "pg-ledger", "INSERT entries"),
        )
    ),
    effects=(Effect("consumer", "memory_leak_mb", 42.0, Shape(start=-40)),),
    logs=(
        LogRule(
            "consumer",
            "WARN",
            "@gc_pressure",
            "after_onset",
            per_event=5.0,
            shape=Shape(start=-40),
        ),
    ),
    changes=(
        ChangeSpec(
            "db",
            "config",
            12,
            "Enable pg_stat_statements sampling",
            author="dba-team",
            innocent=True,
        ),
    ),
    explanation=(
        "An unbounded in-memory map fills the heap in about twenty minutes; the container is "
        "killed at its limit, again and again. The database change came after the onset."
    ),
)

ZONE_PACKET_LOSS = Scenario(
    id="field-zone-packet-loss",
    title="Orders time out talking to inventory",
    description=(
        "Calls to {svc:inventory} are reset or never connect: its pods sit on nodes in a zone "
        "with a faulty network."
    ),
    category="availability",
    severity="high",
    hypothesis_id="NETWORK_DNS_ISSUE",
    culprit="inventory",
    reported="orders",
    onset=_at("2026-03-18T13:30:00"),
    tags=("network", "field"),
    hard_case=True,
    family="field",
    topology=Topology(
        (
            # Two callers reach inventory; both lose calls to it, while orders still reaches
            # its database: the common factor is inventory's side of the network.
            _edge(
                "mobile_gateway",
                120,
                Call("orders", "POST /checkout"),
                Call("inventory", "GET /stock", per_request=0.5, timeout_ms=1500),
                op="POST /checkout",
            ),
            ServiceNode(
                key="orders",
                name="ordersvc",
                kind="api",
                operations=(
                    Operation(
                        "POST /checkout",
                        1.0,
                        20.0,
                        (
                            Call("inventory", "POST /reservations", timeout_ms=2000),
                            Call("db", "INSERT orders"),
                        ),
                    ),
                ),
            ),
            ServiceNode(
                key="inventory",
                name="inventory_svc",
                kind="api",
                operations=(
                    Operation("POST /reservations", 0.6, 15.0),
                    Operation("GET /stock", 0.4, 6.0),
                ),
            ),
            _db("db", "pg-orders-01", "INSERT orders"),
        )
    ),
    effects=(Effect("inventory", "unreachable", 0.3, Shape(start=0, ramp=1)),),
    changes=(
        ChangeSpec(
            "orders",
            "deploy",
            -14,
            "Retry reservations once",
            "12.4.0",
            "12.5.0",
            author="release-train",
            innocent=True,
        ),
    ),
    explanation=(
        "A third of connections to the inventory pods are lost in the network; inventory "
        "itself is healthy and quiet because the calls never reach it."
    ),
)

ORM_SLOW_QUERY = Scenario(
    id="field-orm-slow-query",
    title="Order history slow after a release",
    description=(
        "{svc:orders}' new release loads order history with a query the database cannot serve "
        "from an index."
    ),
    category="latency",
    severity="high",
    hypothesis_id="DB_QUERY_REGRESSION",
    culprit="orders",
    reported="orders",
    onset=_at("2026-03-20T11:15:00"),
    tags=("database", "latency", "deploy", "field"),
    family="field",
    topology=Topology(
        (
            _edge(
                "web-bff", 100, Call("orders", "GET /orders", timeout_ms=5000), op="GET /account"
            ),
            ServiceNode(
                key="orders",
                name="ordersvc",
                kind="api",
                operations=(
                    Operation("GET /orders", 1.0, 25.0, (Call("db", "SELECT orders", 2.0),)),
                ),
                pool_size=60,
            ),
            _db("db", "aurora-main", "SELECT orders", "INSERT orders"),
        )
    ),
    effects=(Effect("db", "latency_ms", 260.0, Shape(start=0, ramp=2), operation="SELECT orders"),),
    logs=(
        LogRule(
            "orders",
            "WARN",
            "@slow_query:db",
            "slow",
            per_event=0.15,
            threshold_ms=300.0,
        ),
    ),
    changes=(
        ChangeSpec(
            "orders",
            "deploy",
            -3,
            "Order history: sort by created date",
            "2.30.1",
            "2.31.0",
            author="li.wei",
        ),
    ),
    explanation=(
        "The release's order-history query sorts without an index; every page waits a quarter "
        "of a second per query on the database."
    ),
)

CACHE_FLUSH = Scenario(
    id="field-cache-flush",
    title="Product pages slow after a cache flush",
    description=(
        "A maintenance job flushed {svc:cache}; {svc:products} now reads nearly everything from "
        "{svc:db}, which slows under the load."
    ),
    category="latency",
    severity="medium",
    hypothesis_id="CACHE_MISS_STORM",
    culprit="products",
    reported="products",
    onset=_at("2026-03-23T07:45:00"),
    tags=("cache", "field"),
    family="field",
    topology=Topology(
        (
            _edge("edge", 150, Call("products", "GET /product"), op="GET /p"),
            ServiceNode(
                key="products",
                name="product_svc",
                kind="api",
                operations=(
                    Operation(
                        "GET /product",
                        1.0,
                        10.0,
                        (
                            Call("cache", "GET product"),
                            Call("db", "SELECT product", on_cache_miss=True),
                        ),
                    ),
                ),
                cache_hit=0.95,
            ),
            ServiceNode(
                key="cache",
                name="redis-products",
                kind="cache",
                operations=(Operation("GET product", 1.0, 0.6),),
            ),
            _db("db", "mysql-catalog", "SELECT product", work_ms=12.0),
        )
    ),
    effects=(Effect("products", "cache_hit", -0.7, Shape(start=0, ramp=1, end=14, recover=10)),),
    logs=(LogRule("products", "INFO", "@cache_miss:db", "cache_misses", per_event=0.01),),
    changes=(
        ChangeSpec(
            "cache",
            "config",
            -1,
            "Maintenance: FLUSHALL before the eviction policy change",
            author="ops-runbook",
        ),
    ),
    explanation=(
        "The flushed cache sends nearly every read to the database; the products service's "
        "cache-aside reads are where the fix (warming, request coalescing) goes."
    ),
)

PARTNER_THROTTLING = Scenario(
    id="field-partner-throttling",
    title="Geo enrichment backlog: the maps partner answers 429",
    description=(
        "A backfill doubled {svc:enricher}'s calls; the maps partner allows a fixed request rate "
        "and throttles the rest."
    ),
    category="errors",
    severity="medium",
    hypothesis_id="RATE_LIMIT_THROTTLING",
    culprit="enricher",
    reported="enricher",
    onset=_at("2026-03-25T20:00:00"),
    tags=("rate-limit", "third-party", "field"),
    family="field",
    topology=Topology(
        (
            ServiceNode(
                key="enricher",
                name="geo_enricher",
                kind="worker",
                operations=(
                    Operation(
                        "enrich address",
                        1.0,
                        6.0,
                        (
                            Call("maps", "GET /geocode/v1/json", timeout_ms=4000),
                            Call("db", "UPDATE addresses"),
                        ),
                    ),
                ),
                rps=35,
            ),
            ServiceNode(
                key="maps",
                name="maps-partner",
                kind="external",
                operations=(Operation("GET /geocode/v1/json", 1.0, 120.0),),
                rate_limit_rps=50,
            ),
            _db("db", "pg-orders-01", "UPDATE addresses"),
        )
    ),
    effects=(Effect("enricher", "traffic", 1.6, Shape(start=0, ramp=2)),),
    explanation=(
        "The backfill pushes the enricher over the partner's request quota; the partner is "
        "healthy, the caller is over its limit."
    ),
)

IDP_KEY_ROLLOVER = Scenario(
    id="field-idp-key-rollover",
    title="Sign-ins and payments answer 401 after the identity provider rolled its keys",
    description=(
        "The identity provider's key rollover left token introspection rejecting valid tokens; "
        "{svc:accounts} and {svc:payments} answer 401 to most users."
    ),
    category="errors",
    severity="critical",
    hypothesis_id="AUTH_OIDC_ISSUE",
    culprit="idp",
    reported="edge",
    onset=_at("2026-03-27T08:00:00"),
    tags=("auth", "oidc", "third-party", "field"),
    hard_case=True,
    family="field",
    topology=Topology(
        (
            _edge(
                "gw-public",
                130,
                Call("accounts", "GET /me"),
                Call("payments", "POST /pay", per_request=0.3),
                op="GET /app",
            ),
            ServiceNode(
                key="accounts",
                name="accounts",
                kind="api",
                operations=(
                    Operation(
                        "GET /me",
                        1.0,
                        10.0,
                        (
                            Call("idp", "POST /oauth2/introspect", timeout_ms=2000),
                            Call("db", "SELECT profiles"),
                        ),
                    ),
                ),
            ),
            ServiceNode(
                key="payments",
                name="paymentsvc",
                kind="api",
                operations=(
                    Operation(
                        "POST /pay",
                        1.0,
                        30.0,
                        (Call("idp", "POST /oauth2/introspect", timeout_ms=2000),),
                    ),
                ),
            ),
            ServiceNode(
                key="idp",
                name="login-idp",
                kind="external",
                operations=(Operation("POST /oauth2/introspect", 1.0, 40.0),),
            ),
            _db("db", "pg-billing-02", "SELECT profiles"),
        )
    ),
    effects=(Effect("idp", "error_ratio", 0.65, Shape(start=0, ramp=1), mode="unauthorized"),),
    changes=(
        ChangeSpec(
            "accounts",
            "deploy",
            -20,
            "Profile page: show linked devices",
            "5.8.0",
            "5.9.0",
            author="release-train",
            innocent=True,
        ),
    ),
    explanation=(
        "The identity provider's signing-key rollover broke introspection of tokens it had "
        "issued; every service that checks tokens with it answers 401. Nothing of ours changed."
    ),
)

LEGACY_DEPENDENCY = Scenario(
    id="field-legacy-dependency",
    title="Orders and settlement fail on the legacy billing service",
    description=(
        "{svc:orders} and {svc:settlement} get 503s from the legacy billing service, which "
        "exports no metrics or traces; only its callers' logs name it."
    ),
    category="errors",
    severity="high",
    hypothesis_id="DOWNSTREAM_OUTAGE",
    culprit="legacy",
    reported="orders",
    onset=_at("2026-03-30T15:30:00"),
    tags=("dependency", "uninstrumented", "field"),
    hard_case=True,
    family="field",
    topology=Topology(
        (
            _edge("frontdoor", 80, Call("orders", "POST /orders"), op="POST /orders"),
            ServiceNode(
                key="orders",
                name="ordersvc",
                kind="api",
                operations=(
                    Operation(
                        "POST /orders",
                        1.0,
                        25.0,
                        (
                            Call("db", "INSERT orders"),
                            Call("legacy", "POST /soap/BillingService", timeout_ms=4000),
                        ),
                    ),
                ),
            ),
            ServiceNode(
                key="settlement",
                name="settlement-batch",
                kind="worker",
                operations=(
                    Operation(
                        "settle batch",
                        1.0,
                        50.0,
                        (Call("legacy", "POST /soap/BillingService", timeout_ms=10000),),
                    ),
                ),
                rps=8,
            ),
            ServiceNode(
                key="legacy",
                name="legacy-billing",
                kind="external",  # ours, but uninstrumented: it exports nothing
                operations=(Operation("POST /soap/BillingService", 1.0, 90.0),),
            ),
            _db("db", "pg-orders-01", "INSERT orders"),
        )
    ),
    effects=(Effect("legacy", "error_ratio", 0.8, Shape(start=0, ramp=2), mode="unavailable"),),
    changes=(
        ChangeSpec(
            "orders",
            "deploy",
            -6,
            "Checkout: new address form",
            "12.9.0",
            "12.10.0",
            author="release-train",
            innocent=True,
        ),
    ),
    explanation=(
        "The legacy billing service is down; both of its callers fail on it. The orders deploy "
        "six minutes earlier did not cause it (the batch job, which did not change, fails too)."
    ),
)

DNS_UPSTREAM = Scenario(
    id="field-node-dns-timeouts",
    title="Lookups time out on the node-local DNS cache",
    description=(
        "{svc:orders} fails to reach its dependencies by name: the node-local DNS cache "
        "{svc:dns} lost its upstream and lookups time out."
    ),
    category="errors",
    severity="critical",
    hypothesis_id="NETWORK_DNS_ISSUE",
    culprit="dns",
    reported="orders",
    onset=_at("2026-04-01T01:10:00"),
    tags=("dns", "network", "field"),
    hard_case=True,
    family="field",
    topology=Topology(
        (
            ServiceNode(
                key="edge",
                name="mobile_gateway",
                kind="edge",
                operations=(
                    Operation(
                        "POST /checkout",
                        1.0,
                        4.0,
                        (Call("orders", "POST /checkout"), Call("dns", "A lookup", 0.2)),
                    ),
                ),
                rps=110,
            ),
            ServiceNode(
                key="orders",
                name="ordersvc",
                kind="api",
                operations=(
                    Operation(
                        "POST /checkout",
                        1.0,
                        22.0,
                        (
                            Call("tax", "POST /tax"),
                            Call("inventory", "POST /reservations"),
                            Call("dns", "A lookup", 0.6),
                        ),
                    ),
                ),
            ),
            ServiceNode(
                key="tax",
                name="tax_calc",
                kind="api",
                operations=(Operation("POST /tax", 1.0, 12.0),),
            ),
            ServiceNode(
                key="inventory",
                name="inventory_svc",
                kind="api",
                operations=(Operation("POST /reservations", 1.0, 15.0),),
            ),
            ServiceNode(
                key="dns",
                name="node-local-dns",
                kind="dns",
                operations=(Operation("A lookup", 1.0, 0.3),),
                address="169.254.20.10",
                port=53,
            ),
        )
    ),
    effects=(Effect("dns", "error_ratio", 0.6, Shape(start=0, ramp=2), mode="dns"),),
    logs=(
        LogRule(
            "dns",
            "ERROR",
            "[ERROR] plugin/errors: 2 {svc:tax}.prod.svc.cluster.local. AAAA: read udp {ip}:{n}->10.96.0.10:53: i/o timeout",
            "own_errors",
            per_event=0.05,
        ),
    ),
    changes=(
        ChangeSpec(
            "orders",
            "config",
            -25,
            "Raise HTTP client pool to 64 connections",
            author="config-repo-sync",
            innocent=True,
        ),
    ),
    explanation=(
        "The node-local DNS cache lost its upstream; lookups time out once cached entries "
        "expire, and every service on those nodes fails to reach its dependencies by name."
    ),
)

FIELD_SCENARIOS: tuple[Scenario, ...] = (
    SURGE_REJECTIONS,
    PARTNER_BREAKER,
    ROTATED_CREDENTIAL,
    NEIGHBOUR_CONFIG,
    PYTHON_DEPLOY,
    HEAP_EXHAUSTION,
    ZONE_PACKET_LOSS,
    ORM_SLOW_QUERY,
    CACHE_FLUSH,
    PARTNER_THROTTLING,
    IDP_KEY_ROLLOVER,
    LEGACY_DEPENDENCY,
    DNS_UPSTREAM,
)

FIELD_BY_ID: dict[str, Scenario] = {scenario.id: scenario for scenario in FIELD_SCENARIOS}
