"""The scenario library: incidents with a known root cause, on small realistic topologies.

The first ten keep the ids (and services, times and stories) of the reference spec §12; the
rest add the causes it lacked and the hard cases where the loudest symptom is not the cause:
an outage that shows up as errors in its callers, and deploys that happened but did nothing.

Every scenario names its ground truth: a hypothesis id of `chronosops.analysis.CATALOG` and the
culprit service (the service whose fault it is, where the fix goes).
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
    ServiceNode,
    Shape,
    Topology,
)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _gateway(name: str, rps: float, *calls: Call, op: str) -> ServiceNode:
    return ServiceNode(
        key="edge",
        name=name,
        kind="edge",
        operations=(Operation(op, 1.0, 4.0, calls),),
        rps=rps,
        cpu=0.25,
    )


def _db(key: str, name: str, *ops: str, work_ms: float = 6.0, cpu: float = 0.2) -> ServiceNode:
    return ServiceNode(
        key=key,
        name=name,
        kind="database",
        operations=tuple(Operation(op, 1.0 / len(ops), work_ms) for op in ops),
        cpu=cpu,
        error_ratio=0.0001,
    )


LATENCY_SPIKE = Scenario(
    id="latency-spike",
    title="Production latency spike after deployment",
    description=(
        "Checkout latency jumped minutes after {svc:checkout} 1.8.3 shipped: the new order-history "
        "query runs without an index on {svc:db}."
    ),
    category="latency",
    severity="high",
    hypothesis_id="DB_QUERY_REGRESSION",
    culprit="checkout",
    reported="checkout",
    onset=_at("2026-01-01T13:12:00"),
    tags=("latency", "deployment", "production", "regression"),
    topology=Topology(
        (
            _gateway(
                "api-gateway",
                120,
                Call("checkout", "POST /checkout", timeout_ms=5000),
                op="POST /checkout",
            ),
            ServiceNode(
                key="checkout",
                name="checkout-api",
                kind="api",
                operations=(
                    Operation(
                        "POST /checkout",
                        1.0,
                        35.0,
                        (
                            Call("db", "SELECT orders", 2.0),
                            Call("payments", "POST /charge"),
                        ),
                    ),
                ),
                pool_size=80,
            ),
            ServiceNode(
                key="payments",
                name="payments-api",
                kind="api",
                operations=(Operation("POST /charge", 1.0, 60.0),),
            ),
            _db("db", "postgres", "SELECT orders", "INSERT orders"),
        )
    ),
    effects=(Effect("db", "latency_ms", 230.0, Shape(start=0, ramp=2), operation="SELECT orders"),),
    logs=(
        LogRule(
            "db",
            "WARN",
            "duration: {ms} ms  statement: SELECT o.* FROM orders o WHERE o.customer_id = $1 ORDER BY o.created_at DESC",
            "slow",
            per_event=0.2,
            operation="SELECT orders",
            threshold_ms=100.0,
        ),
    ),
    changes=(
        ChangeSpec(
            "checkout",
            "deploy",
            -3,
            "Order history: load recent orders with the new sort",
            "1.8.2",
            "1.8.3",
            author="maria.chen",
        ),
    ),
    explanation=(
        "The 1.8.3 deploy of the checkout service issues an order-history query without an index; "
        "each checkout now waits ~230 ms per query on the database."
    ),
)

ERROR_SPIKE_CONFIG = Scenario(
    id="error-spike-config",
    title="Error spike after config change",
    description=(
        "Token requests to {svc:auth} started failing right after a configuration rollout changed "
        "the signing algorithm to one the policy forbids."
    ),
    category="errors",
    severity="critical",
    hypothesis_id="CONFIG_REGRESSION",
    culprit="auth",
    reported="auth",
    onset=_at("2026-01-01T15:05:00"),
    tags=("errors", "config", "auth", "production"),
    topology=Topology(
        (
            _gateway("api-gateway", 140, Call("auth", "POST /token"), op="POST /login"),
            ServiceNode(
                key="auth",
                name="auth-api",
                kind="api",
                operations=(
                    Operation(
                        "POST /token",
                        1.0,
                        30.0,
                        (Call("cache", "GET session"), Call("db", "SELECT users")),
                    ),
                ),
            ),
            ServiceNode(
                key="cache",
                name="session-cache",
                kind="cache",
                operations=(Operation("GET session", 1.0, 0.8),),
            ),
            _db("db", "users-db", "SELECT users"),
        )
    ),
    effects=(Effect("auth", "error_ratio", 0.05, Shape(start=0, ramp=1)),),
    logs=(
        LogRule(
            "auth",
            "ERROR",
            "failed to issue session: invalid configuration value for TOKEN_SIGNING_ALG: HS512 is not permitted by the key policy",
            "own_errors",
        ),
    ),
    changes=(
        ChangeSpec(
            "auth",
            "config",
            -1,
            "Set TOKEN_SIGNING_ALG=HS512",
            "2.3.0",
            "2.3.0+config",
            author="ops-config-sync",
        ),
    ),
    explanation="A config rollout set a signing algorithm the key policy forbids; token issuance fails.",
)

GRADUAL_DEGRADATION = Scenario(
    id="gradual-degradation",
    title="Gradual performance degradation over time",
    description=(
        "{svc:payments} has been getting slower for two hours: connections are not returned to "
        "its pool promptly, and at the alert the pool is full."
    ),
    category="latency",
    severity="medium",
    hypothesis_id="CAPACITY_SATURATION",
    culprit="payments",
    reported="payments",
    onset=_at("2026-01-02T10:00:00"),
    duration_minutes=30,
    tags=("latency", "capacity", "memory", "gradual"),
    topology=Topology(
        (
            _gateway(
                "api-gateway",
                200,
                Call("payments", "POST /payments", timeout_ms=8000),
                op="POST /pay",
            ),
            ServiceNode(
                key="payments",
                name="payment-service",
                kind="api",
                operations=(
                    Operation(
                        "POST /payments",
                        1.0,
                        40.0,
                        (
                            Call("db", "INSERT payments"),
                            Call("db", "SELECT accounts"),
                            Call("fraud", "POST /score"),
                        ),
                    ),
                ),
                pool_size=30,
            ),
            ServiceNode(
                key="fraud",
                name="fraud-check",
                kind="api",
                operations=(Operation("POST /score", 1.0, 25.0),),
            ),
            _db("db", "payments-db", "INSERT payments", "SELECT accounts", work_ms=9.0),
        )
    ),
    effects=(Effect("payments", "pool_hold_ms", 160.0, Shape(start=-110, ramp=130)),),
    logs=(
        LogRule(
            "payments",
            "WARN",
            "connection held for {ms}ms without being returned to the pool (possible leak)",
            "requests",
            per_event=0.01,
            shape=Shape(start=-110, ramp=130),
        ),
    ),
    explanation=(
        "Connections are held longer and longer (a leak in error handling); the pool of 30 fills "
        "slowly until requests queue and time out."
    ),
)

DB_POOL_EXHAUSTION = Scenario(
    id="db-pool-exhaustion",
    title="Database connection pool exhaustion",
    description=(
        "{svc:orders} ran out of database connections when an export job started holding them "
        "during a traffic peak; requests wait for a connection and time out."
    ),
    category="errors",
    severity="critical",
    hypothesis_id="CAPACITY_SATURATION",
    culprit="orders",
    reported="orders",
    onset=_at("2026-01-03T14:30:00"),
    tags=("database", "timeout", "connection-pool", "critical"),
    topology=Topology(
        (
            _gateway(
                "api-gateway",
                80,
                Call("orders", "POST /orders", timeout_ms=10000),
                op="POST /orders",
            ),
            ServiceNode(
                key="orders",
                name="order-service",
                kind="api",
                operations=(
                    Operation(
                        "POST /orders",
                        1.0,
                        30.0,
                        (
                            Call("db", "SELECT orders"),
                            Call("db", "INSERT orders"),
                            Call("inventory", "POST /reserve"),
                        ),
                    ),
                ),
                pool_size=25,
            ),
            ServiceNode(
                key="inventory",
                name="inventory-api",
                kind="api",
                operations=(Operation("POST /reserve", 1.0, 20.0),),
            ),
            _db("db", "orders-db", "SELECT orders", "INSERT orders", work_ms=12.0),
        )
    ),
    effects=(
        Effect("orders", "pool_hold_ms", 300.0, Shape(start=0, ramp=2)),
        Effect("edge", "traffic", 0.35, Shape(start=-5, ramp=5)),
    ),
    logs=(
        LogRule(
            "orders",
            "WARN",
            "export job orders-export-{id} is holding {n} database connections",
            "after_onset",
            per_event=2.0,
        ),
    ),
    changes=(
        ChangeSpec(
            "orders",
            "deploy",
            -40,
            "Fix typo in the order confirmation e-mail",
            "2.5.1",
            "2.5.2",
            innocent=True,
        ),
    ),
    explanation=(
        "An export job holds connections for seconds while traffic is 35 % above normal; the pool "
        "of 25 is exhausted. The 2.5.2 deploy forty minutes earlier changed an e-mail template."
    ),
)

CACHE_MISS_STORM = Scenario(
    id="cache-miss-storm",
    title="Cache miss storm after cache invalidation",
    description=(
        "{svc:catalog} 1.2.1 changed the cache key prefix: every product read missed the cache "
        "and went to {svc:db}, which saturated."
    ),
    category="latency",
    severity="high",
    hypothesis_id="CACHE_MISS_STORM",
    culprit="catalog",
    reported="catalog",
    onset=_at("2026-01-04T09:00:00"),
    tags=("cache", "database", "latency", "high-traffic"),
    topology=Topology(
        (
            _gateway(
                "storefront", 500, Call("catalog", "GET /products/{id}"), op="GET /product-page"
            ),
            ServiceNode(
                key="catalog",
                name="product-catalog",
                kind="api",
                operations=(
                    Operation(
                        "GET /products/{id}",
                        1.0,
                        8.0,
                        (
                            Call("cache", "GET product"),
                            Call("db", "SELECT products", on_cache_miss=True),
                        ),
                    ),
                ),
                cache_hit=0.95,
                pool_size=120,
            ),
            ServiceNode(
                key="cache",
                name="catalog-cache",
                kind="cache",
                operations=(Operation("GET product", 1.0, 0.6),),
            ),
            _db("db", "catalog-db", "SELECT products", work_ms=8.0, cpu=0.065),
        )
    ),
    effects=(Effect("catalog", "cache_hit", -0.8, Shape(start=0, ramp=1, end=2, recover=45)),),
    logs=(
        LogRule(
            "catalog",
            "INFO",
            "cache miss for key catalog:v2:product:{id}, loading from database",
            "cache_misses",
            per_event=0.002,
        ),
    ),
    changes=(
        ChangeSpec(
            "catalog",
            "deploy",
            -1,
            "Move product cache keys to the v2 prefix",
            "1.2.0",
            "1.2.1",
            author="dev.kim",
        ),
    ),
    explanation=(
        "The deploy changed the cache key prefix, so the warm cache became unreachable; misses "
        "multiplied database reads by about sixteen until the new keys filled in."
    ),
)

NETWORK_PARTITION = Scenario(
    id="network-partition",
    title="Network partition causing service unavailability",
    description=(
        "{svc:edge} lost connectivity to the backends in one zone: connections to {svc:orders} "
        "and {svc:users} time out."
    ),
    category="availability",
    severity="critical",
    hypothesis_id="NETWORK_DNS_ISSUE",
    culprit="edge",
    reported="edge",
    onset=_at("2026-01-05T16:20:00"),
    duration_minutes=15,
    tags=("network", "infrastructure", "timeout", "critical"),
    topology=Topology(
        (
            ServiceNode(
                key="edge",
                name="api-gateway",
                kind="edge",
                operations=(
                    Operation(
                        "GET /orders", 0.5, 3.0, (Call("orders", "GET /orders", timeout_ms=3000),)
                    ),
                    Operation(
                        "GET /me", 0.5, 3.0, (Call("users", "GET /users/me", timeout_ms=3000),)
                    ),
                ),
                rps=300,
                cpu=0.25,
            ),
            ServiceNode(
                key="orders",
                name="orders-api",
                kind="api",
                operations=(Operation("GET /orders", 1.0, 30.0, (Call("db", "SELECT orders"),)),),
            ),
            ServiceNode(
                key="users",
                name="user-api",
                kind="api",
                operations=(Operation("GET /users/me", 1.0, 15.0, (Call("db", "SELECT users"),)),),
            ),
            _db("db", "postgres-main", "SELECT orders", "SELECT users"),
        )
    ),
    effects=(
        Effect("orders", "unreachable", 0.6, Shape(start=0, end=12, recover=1)),
        Effect("users", "unreachable", 0.6, Shape(start=0, end=12, recover=1)),
    ),
    logs=(
        LogRule(
            "edge",
            "WARN",
            "marking endpoint {ip}:8080 unhealthy after {n} consecutive connect failures",
            "after_onset",
            per_event=3.0,
            shape=Shape(start=0, end=12),
        ),
    ),
    explanation=(
        "The gateway's zone lost its route to the zone holding most backend pods; calls to them "
        "hang until the 3 s timeout."
    ),
)

RATE_LIMIT_TRIGGERED = Scenario(
    id="rate-limit-triggered",
    title="Rate limiting triggered by traffic spike",
    description=(
        "A client retry storm pushed traffic to {svc:users} far above its 600 requests/s limit; "
        "it answers 429 to most requests."
    ),
    category="errors",
    severity="medium",
    hypothesis_id="RATE_LIMIT_THROTTLING",
    culprit="users",
    reported="users",
    onset=_at("2026-01-06T11:00:00"),
    duration_minutes=12,
    tags=("rate-limit", "traffic", "429", "throttling"),
    topology=Topology(
        (
            _gateway("api-gateway", 150, Call("users", "GET /users/{id}"), op="GET /profile"),
            ServiceNode(
                key="users",
                name="user-api",
                kind="api",
                operations=(
                    Operation("GET /users/{id}", 1.0, 12.0, (Call("db", "SELECT users"),)),
                ),
                rate_limit_rps=600,
                cpu=0.2,
            ),
            _db("db", "users-db", "SELECT users"),
        )
    ),
    effects=(Effect("edge", "traffic", 5.7, Shape(start=0, ramp=1, end=10, recover=2)),),
    explanation="Traffic rose almost sevenfold; the service's rate limiter rejects the excess with 429.",
)

MEMORY_LEAK = Scenario(
    id="memory-leak",
    title="Memory leak causing OOM kills",
    description=(
        "{svc:worker} leaks memory while processing events; it is OOM-killed about every "
        "fifteen minutes and loses the work in flight each time."
    ),
    category="latency",
    severity="high",
    hypothesis_id="CAPACITY_SATURATION",
    culprit="worker",
    reported="worker",
    onset=_at("2026-01-07T07:30:00"),
    duration_minutes=30,
    tags=("memory", "oom", "resource-leak", "gradual"),
    topology=Topology(
        (
            ServiceNode(
                key="worker",
                name="analytics-processor",
                kind="worker",
                operations=(
                    Operation("consume events", 1.0, 60.0, (Call("db", "INSERT events"),)),
                ),
                rps=50,
                memory_mb=600,
                memory_limit_mb=1024,
                cpu=0.4,
            ),
            _db("db", "events-db", "INSERT events"),
        )
    ),
    effects=(Effect("worker", "memory_leak_mb", 28.0, Shape(start=-45)),),
    logs=(
        LogRule(
            "worker",
            "ERROR",
            "java.lang.OutOfMemoryError: Java heap space at com.acme.analytics.SessionWindow.add(SessionWindow.java:{n})",
            "restarts",
            per_event=3.0,
        ),
        LogRule(
            "worker",
            "WARN",
            "GC overhead: {n}% of the last minute spent in garbage collection",
            "after_onset",
            per_event=6.0,
            shape=Shape(start=-45),
        ),
    ),
    changes=(
        ChangeSpec(
            "worker",
            "deploy",
            25,
            "Add heap dump on OOM",
            "2.1.0",
            "2.1.1",
            author="sre-oncall",
            innocent=True,
        ),
    ),
    explanation=(
        "Session windows are never evicted; the heap fills in about fifteen minutes and the "
        "container is OOM-killed, again and again. The 2.1.1 deploy came after the onset."
    ),
)

DOWNSTREAM_OUTAGE = Scenario(
    id="downstream-outage",
    title="Downstream service outage causing cascading failures",
    description=(
        "{svc:recs} reports errors, but the failure is below it: {svc:features} lost its "
        "replicas and answers 503, and the errors cascade up."
    ),
    category="errors",
    severity="critical",
    hypothesis_id="DOWNSTREAM_OUTAGE",
    culprit="features",
    reported="recs",
    onset=_at("2026-01-08T13:00:00"),
    tags=("dependency", "outage", "cascading-failure", "critical"),
    hard_case=True,
    topology=Topology(
        (
            _gateway("storefront", 200, Call("recs", "GET /recommendations"), op="GET /home"),
            ServiceNode(
                key="recs",
                name="recommendation-engine",
                kind="api",
                operations=(
                    Operation(
                        "GET /recommendations",
                        1.0,
                        25.0,
                        (
                            Call("features", "GET /features", timeout_ms=800),
                            Call("model", "POST /predict", timeout_ms=800),
                        ),
                    ),
                ),
            ),
            ServiceNode(
                key="features",
                name="feature-store",
                kind="api",
                operations=(Operation("GET /features", 1.0, 12.0, (Call("db", "GET features"),)),),
            ),
            ServiceNode(
                key="model",
                name="model-server",
                kind="api",
                operations=(Operation("POST /predict", 1.0, 45.0),),
            ),
            _db("db", "feature-db", "GET features", work_ms=3.0),
        )
    ),
    effects=(Effect("features", "error_ratio", 0.92, Shape(start=0, ramp=1), mode="unavailable"),),
    logs=(
        LogRule(
            "features",
            "ERROR",
            "shard {n} unavailable: no healthy replicas (0/3 ready)",
            "own_errors",
            per_event=0.05,
        ),
        LogRule(
            "recs",
            "WARN",
            "circuit breaker feature-store-client is OPEN; serving fallback recommendations",
            "after_onset",
            per_event=4.0,
            shape=Shape(start=1),
        ),
    ),
    changes=(
        ChangeSpec(
            "recs",
            "deploy",
            -12,
            "Update ranking weights",
            "1.5.0",
            "1.5.1",
            innocent=True,
        ),
    ),
    explanation=(
        "The feature store lost all replicas and fails nine requests in ten; the recommendation "
        "engine, which the alert names, only passes the failure on. Its own deploy twelve minutes "
        "earlier changed ranking weights and is innocent."
    ),
)

CPU_SATURATION = Scenario(
    id="cpu-saturation",
    title="CPU saturation from inefficient code path",
    description=(
        "{svc:search} 3.2.1 expands fuzzy queries exponentially; CPU saturates and requests queue. "
        "The saturation is the symptom, the deploy the cause."
    ),
    category="latency",
    severity="high",
    hypothesis_id="DEPLOY_BUG",
    culprit="search",
    reported="search",
    onset=_at("2026-01-09T15:30:00"),
    tags=("cpu", "performance", "regression", "saturation"),
    topology=Topology(
        (
            _gateway(
                "api-gateway", 300, Call("search", "GET /search", timeout_ms=2000), op="GET /search"
            ),
            ServiceNode(
                key="search",
                name="search-service",
                kind="api",
                operations=(Operation("GET /search", 1.0, 25.0, (Call("index", "POST /query"),)),),
                cpu=0.3,
            ),
            ServiceNode(
                key="index",
                name="search-index",
                kind="api",
                operations=(Operation("POST /query", 1.0, 15.0),),
            ),
        )
    ),
    effects=(Effect("search", "cpu_cost", 2.15, Shape(start=0, ramp=2)),),
    logs=(
        LogRule(
            "search",
            "WARN",
            "query parser: fuzzy expansion produced {n} clauses in {ms}ms",
            "requests",
            per_event=0.002,
            shape=Shape(start=0),
        ),
    ),
    changes=(
        ChangeSpec(
            "search",
            "deploy",
            -2,
            "Fuzzy matching for misspelled queries",
            "3.2.0",
            "3.2.1",
            author="alex.okafor",
        ),
    ),
    explanation=(
        "3.2.1 made every query three times as expensive; at unchanged traffic the CPU saturates. "
        "Rolling back fixes it; adding capacity would only hide it."
    ),
)

BAD_DEPLOY_ERRORS = Scenario(
    id="bad-deploy-error-spike",
    title="Errors after a deploy introduced a bug",
    description="{svc:cart} 4.3.0 fails adding items priced in some currencies with a TypeError.",
    category="errors",
    severity="high",
    hypothesis_id="DEPLOY_BUG",
    culprit="cart",
    reported="cart",
    onset=_at("2026-01-10T10:20:00"),
    tags=("deploy", "errors", "regression"),
    topology=Topology(
        (
            _gateway("storefront", 180, Call("cart", "POST /cart/items"), op="POST /add-to-cart"),
            ServiceNode(
                key="cart",
                name="cart-service",
                kind="api",
                operations=(
                    Operation(
                        "POST /cart/items",
                        1.0,
                        18.0,
                        (Call("db", "UPSERT carts"), Call("pricing", "GET /prices")),
                    ),
                ),
            ),
            ServiceNode(
                key="pricing",
                name="pricing-api",
                kind="api",
                operations=(Operation("GET /prices", 1.0, 10.0),),
            ),
            _db("db", "carts-db", "UPSERT carts"),
        )
    ),
    effects=(
        Effect("cart", "error_ratio", 0.18, Shape(start=0, ramp=1), operation="POST /cart/items"),
    ),
    logs=(
        LogRule(
            "cart",
            "ERROR",
            "TypeError: Cannot read properties of undefined (reading 'currency') at PriceFormatter.format (price-formatter.js:{n}:{n})",
            "own_errors",
        ),
    ),
    changes=(
        ChangeSpec(
            "cart",
            "deploy",
            -2,
            "Show prices in the shopper's currency",
            "4.2.0",
            "4.3.0",
            author="sam.rivera",
        ),
    ),
    explanation="The 4.3.0 deploy dereferences a currency that items from older catalogues lack.",
)

FEATURE_FLAG_REGRESSION = Scenario(
    id="feature-flag-regression",
    title="Quote errors after a feature flag was switched on",
    description=(
        "{svc:checkout} reports failing quotes; {svc:pricing} enabled the new tax engine flag, "
        "whose rule set lacks rates for some regions."
    ),
    category="errors",
    severity="high",
    hypothesis_id="CONFIG_REGRESSION",
    culprit="pricing",
    reported="checkout",
    onset=_at("2026-01-11T18:40:00"),
    tags=("feature-flag", "config", "errors"),
    hard_case=True,
    topology=Topology(
        (
            _gateway(
                "web-frontend", 160, Call("checkout", "POST /quote"), op="POST /checkout/quote"
            ),
            ServiceNode(
                key="checkout",
                name="checkout-api",
                kind="api",
                operations=(Operation("POST /quote", 1.0, 20.0, (Call("pricing", "GET /quote"),)),),
            ),
            ServiceNode(
                key="pricing",
                name="pricing-service",
                kind="api",
                operations=(Operation("GET /quote", 1.0, 15.0, (Call("db", "SELECT tax_rules"),)),),
            ),
            _db("db", "pricing-db", "SELECT tax_rules"),
        )
    ),
    effects=(
        Effect("pricing", "error_ratio", 0.14, Shape(start=0, ramp=1)),
        Effect("pricing", "latency_ms", 60.0, Shape(start=0, ramp=1)),
    ),
    logs=(
        LogRule(
            "pricing",
            "ERROR",
            "tax rule set v2 has no rate for region {n}; check the configuration behind flag new-tax-engine",
            "own_errors",
        ),
    ),
    changes=(
        ChangeSpec(
            "pricing",
            "feature_flag",
            -1,
            "new-tax-engine: enabled for 100% of traffic",
            author="pricing-team",
        ),
    ),
    explanation="Switching the new tax engine on for everyone exposed regions missing from its rule set.",
)

TRAFFIC_SURGE = Scenario(
    id="traffic-surge-saturation",
    title="Flash-sale traffic saturates the catalog",
    description=(
        "A flash sale tripled traffic; {svc:catalog} ran out of CPU and its latency and timeouts "
        "climbed. Nothing was deployed."
    ),
    category="saturation",
    severity="high",
    hypothesis_id="CAPACITY_SATURATION",
    culprit="catalog",
    reported="edge",
    onset=_at("2026-01-12T12:00:00"),
    tags=("traffic", "capacity", "cpu"),
    topology=Topology(
        (
            _gateway(
                "storefront", 220, Call("catalog", "GET /listings", timeout_ms=2500), op="GET /sale"
            ),
            ServiceNode(
                key="catalog",
                name="catalog-api",
                kind="api",
                operations=(
                    Operation("GET /listings", 1.0, 35.0, (Call("db", "SELECT listings"),)),
                ),
                cpu=0.33,
            ),
            _db("db", "catalog-db", "SELECT listings", cpu=0.2),
        )
    ),
    effects=(Effect("edge", "traffic", 2.0, Shape(start=0, ramp=6)),),
    logs=(
        LogRule(
            "catalog",
            "WARN",
            "worker pool saturated: {n} requests queued for a free worker",
            "slow",
            per_event=0.02,
            threshold_ms=500.0,
        ),
    ),
    explanation="Three times the usual traffic; the catalog's CPU is the bottleneck, the code is fine.",
)

DNS_FAILURE = Scenario(
    id="dns-resolution-failure",
    title="Name resolution failures across services",
    description=(
        "{svc:orders} cannot reach its dependencies: lookups against {svc:dns} time out or fail "
        "after its upstream resolvers became unreachable."
    ),
    category="errors",
    severity="critical",
    hypothesis_id="NETWORK_DNS_ISSUE",
    culprit="dns",
    reported="orders",
    onset=_at("2026-01-13T03:15:00"),
    tags=("dns", "network", "errors"),
    hard_case=True,
    topology=Topology(
        (
            ServiceNode(
                key="edge",
                name="api-gateway",
                kind="edge",
                operations=(
                    Operation(
                        "POST /orders",
                        1.0,
                        3.0,
                        (Call("orders", "POST /orders"), Call("dns", "A lookup", 0.2)),
                    ),
                ),
                rps=140,
                cpu=0.25,
            ),
            ServiceNode(
                key="orders",
                name="orders-service",
                kind="api",
                operations=(
                    Operation(
                        "POST /orders",
                        1.0,
                        25.0,
                        (
                            Call("payments", "POST /charge"),
                            Call("inventory", "POST /reserve"),
                            Call("dns", "A lookup", 0.6),
                        ),
                    ),
                ),
            ),
            ServiceNode(
                key="payments",
                name="payments-api",
                kind="api",
                operations=(Operation("POST /charge", 1.0, 50.0),),
            ),
            ServiceNode(
                key="inventory",
                name="inventory-api",
                kind="api",
                operations=(Operation("POST /reserve", 1.0, 20.0),),
            ),
            ServiceNode(
                key="dns",
                name="coredns",
                kind="dns",
                operations=(Operation("A lookup", 1.0, 0.4),),
                address="10.96.0.10",
                port=53,
            ),
        )
    ),
    effects=(Effect("dns", "error_ratio", 0.7, Shape(start=0, ramp=2), mode="dns"),),
    logs=(
        LogRule(
            "dns",
            "ERROR",
            "[ERROR] plugin/errors: 2 payments-api.prod.svc.cluster.local. A: read udp {ip}:{n}->169.254.169.254:53: i/o timeout",
            "own_errors",
            per_event=0.05,
        ),
    ),
    changes=(
        ChangeSpec(
            "orders",
            "infrastructure",
            -35,
            "Node pool default-pool scaled from 6 to 8 nodes",
            author="cluster-autoscaler",
            innocent=True,
        ),
    ),
    explanation="The cluster DNS lost its upstream resolvers; services fail when cached entries expire.",
)

THIRD_PARTY_RATE_LIMIT = Scenario(
    id="third-party-rate-limit",
    title="SMS provider throttles notification sends",
    description=(
        "A campaign tripled {svc:notify}'s sends; the SMS provider {svc:sms} allows 100 requests/s "
        "and answers the rest with 429."
    ),
    category="errors",
    severity="medium",
    hypothesis_id="RATE_LIMIT_THROTTLING",
    culprit="notify",
    reported="notify",
    onset=_at("2026-01-14T09:30:00"),
    tags=("rate-limit", "third-party", "429"),
    topology=Topology(
        (
            ServiceNode(
                key="notify",
                name="notification-service",
                kind="worker",
                operations=(
                    Operation(
                        "send notification",
                        1.0,
                        8.0,
                        (
                            Call("sms", "POST /2010-04-01/Messages.json", timeout_ms=5000),
                            Call("db", "INSERT deliveries"),
                        ),
                    ),
                ),
                rps=45,
            ),
            ServiceNode(
                key="sms",
                name="twilio-api",
                kind="external",
                operations=(Operation("POST /2010-04-01/Messages.json", 1.0, 180.0),),
                rate_limit_rps=100,
            ),
            _db("db", "notifications-db", "INSERT deliveries"),
        )
    ),
    effects=(Effect("notify", "traffic", 2.2, Shape(start=0, ramp=2)),),
    logs=(
        LogRule(
            "notify",
            "INFO",
            "campaign spring-sale-{id} batch {n} queued: {n} recipients",
            "after_onset",
            per_event=1.0,
        ),
    ),
    explanation="Sends exceed the provider's account limit; the provider is healthy, the sender is over quota.",
)

EXPIRED_CERTIFICATE = Scenario(
    id="expired-certificate",
    title="TLS handshakes fail after a certificate expired",
    description=(
        "Calls to {svc:accounts} fail with certificate errors from midnight: its serving "
        "certificate expired and was not renewed."
    ),
    category="errors",
    severity="critical",
    hypothesis_id="AUTH_OIDC_ISSUE",
    culprit="accounts",
    reported="edge",
    onset=_at("2026-01-15T00:00:00"),
    tags=("tls", "certificate", "auth"),
    hard_case=True,
    topology=Topology(
        (
            _gateway("api-gateway", 150, Call("accounts", "GET /accounts/me"), op="GET /account"),
            ServiceNode(
                key="accounts",
                name="accounts-api",
                kind="api",
                operations=(
                    Operation("GET /accounts/me", 1.0, 15.0, (Call("db", "SELECT accounts"),)),
                ),
                cert_days=0.0,
            ),
            ServiceNode(
                key="billing",
                name="billing-api",
                kind="worker",
                operations=(
                    Operation(
                        "run invoices", 1.0, 40.0, (Call("accounts", "GET /accounts/me", 1.0),)
                    ),
                ),
                rps=20,
                cert_days=61.0,
            ),
            _db("db", "accounts-db", "SELECT accounts"),
        )
    ),
    effects=(Effect("accounts", "tls_failure", 1.0, Shape(start=0)),),
    changes=(
        ChangeSpec(
            "billing",
            "deploy",
            -20,
            "Invoice PDF layout tweaks",
            "7.4.0",
            "7.4.1",
            innocent=True,
        ),
    ),
    explanation="The serving certificate of the accounts service expired at midnight; every handshake fails.",
)

INNOCENT_DEPLOY = Scenario(
    id="innocent-deploy-pool-exhaustion",
    title="Checkout errors right after a frontend deploy",
    description=(
        "{svc:edge} was deployed six minutes before its errors began, but the errors come from "
        "{svc:inventory}, whose reconciliation job exhausted its connection pool."
    ),
    category="errors",
    severity="high",
    hypothesis_id="CAPACITY_SATURATION",
    culprit="inventory",
    reported="edge",
    onset=_at("2026-01-16T19:10:00"),
    tags=("deploy", "red-herring", "connection-pool"),
    hard_case=True,
    topology=Topology(
        (
            _gateway(
                "checkout-web",
                150,
                Call("inventory", "POST /reserve", timeout_ms=6000),
                op="POST /place-order",
            ),
            ServiceNode(
                key="inventory",
                name="inventory-service",
                kind="api",
                operations=(
                    Operation(
                        "POST /reserve",
                        1.0,
                        15.0,
                        (Call("db", "UPDATE stock"), Call("db", "SELECT stock")),
                    ),
                ),
                pool_size=20,
            ),
            _db("db", "inventory-db", "UPDATE stock", "SELECT stock", work_ms=5.0),
        )
    ),
    effects=(Effect("inventory", "pool_hold_ms", 220.0, Shape(start=0, ramp=2)),),
    logs=(
        LogRule(
            "inventory",
            "INFO",
            "stock reconciliation run {id} started: {n} SKUs to verify",
            "after_onset",
            per_event=0.5,
        ),
    ),
    changes=(
        ChangeSpec(
            "edge",
            "deploy",
            -6,
            "Copy changes on the payment page",
            "2.4.0",
            "2.4.1",
            author="web-team",
            innocent=True,
        ),
    ),
    explanation=(
        "A reconciliation job in the inventory service holds database connections; its pool of 20 "
        "is exhausted and reservations fail. The frontend deploy changed copy only."
    ),
)

SLOW_DEPENDENCY = Scenario(
    id="slow-dependency-cascade",
    title="Checkout stalls on a slow payment provider",
    description=(
        "{svc:checkout} shows a full connection pool and timeouts, but only because it waits on "
        "{svc:provider}, whose API slowed from 300 ms to seconds."
    ),
    category="latency",
    severity="critical",
    hypothesis_id="DOWNSTREAM_OUTAGE",
    culprit="provider",
    reported="checkout",
    onset=_at("2026-01-17T14:45:00"),
    tags=("dependency", "third-party", "latency", "cascade"),
    hard_case=True,
    topology=Topology(
        (
            _gateway(
                "web-frontend", 60, Call("checkout", "POST /pay", timeout_ms=15000), op="POST /pay"
            ),
            ServiceNode(
                key="checkout",
                name="checkout-api",
                kind="api",
                operations=(
                    Operation(
                        "POST /pay",
                        1.0,
                        20.0,
                        (
                            Call("db", "INSERT payments"),
                            Call(
                                "provider",
                                "POST /v1/charges",
                                timeout_ms=10000,
                                holds_connection=True,
                            ),
                        ),
                    ),
                ),
                pool_size=40,
            ),
            ServiceNode(
                key="provider",
                name="stripe-api",
                kind="external",
                operations=(Operation("POST /v1/charges", 1.0, 300.0),),
            ),
            _db("db", "payments-db", "INSERT payments"),
        )
    ),
    effects=(Effect("provider", "latency_ms", 3200.0, Shape(start=0, ramp=3)),),
    explanation=(
        "The payment provider slowed down; checkout holds a database connection during each "
        "charge, so its pool drains and it looks saturated. The cause is the provider."
    ),
)

SCENARIOS: tuple[Scenario, ...] = (
    LATENCY_SPIKE,
    ERROR_SPIKE_CONFIG,
    GRADUAL_DEGRADATION,
    DB_POOL_EXHAUSTION,
    CACHE_MISS_STORM,
    NETWORK_PARTITION,
    RATE_LIMIT_TRIGGERED,
    MEMORY_LEAK,
    DOWNSTREAM_OUTAGE,
    CPU_SATURATION,
    BAD_DEPLOY_ERRORS,
    FEATURE_FLAG_REGRESSION,
    TRAFFIC_SURGE,
    DNS_FAILURE,
    THIRD_PARTY_RATE_LIMIT,
    EXPIRED_CERTIFICATE,
    INNOCENT_DEPLOY,
    SLOW_DEPENDENCY,
)

BY_ID: dict[str, Scenario] = {scenario.id: scenario for scenario in SCENARIOS}
