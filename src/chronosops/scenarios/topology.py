"""Topology variants: the same incident on differently named, differently sized systems.

Variant 0 keeps a scenario's canonical names (the reference spec's, where it has them). Other
variants rename every service from a pool for its kind and add healthy bystander services, so
a benchmark cannot pass by remembering names, and has to see past services that are merely busy.
"""

from __future__ import annotations

import random
from dataclasses import replace

from chronosops.scenarios.model import Call, Operation, ServiceKind, ServiceNode, Topology

NAME_POOLS: dict[ServiceKind, tuple[str, ...]] = {
    "edge": ("api-gateway", "edge-proxy", "web-frontend", "storefront", "mobile-bff", "ingress"),
    "api": (
        "checkout-api",
        "orders-api",
        "billing-service",
        "cart-service",
        "accounts-api",
        "catalog-api",
        "pricing-service",
        "shipping-api",
        "ledger-service",
        "profile-api",
        "search-api",
        "booking-service",
        "quote-service",
        "wallet-api",
    ),
    "worker": (
        "analytics-processor",
        "etl-worker",
        "email-dispatcher",
        "report-builder",
        "indexer",
        "event-consumer",
    ),
    "database": ("postgres-main", "orders-db", "mysql-primary", "ledger-db", "catalog-db"),
    "cache": ("redis-cache", "memcached", "session-cache", "catalog-cache"),
    "external": ("stripe-api", "twilio-api", "sendgrid-api", "maps-provider", "fx-rates-api"),
    "dns": ("coredns", "kube-dns", "resolver"),
}

BYSTANDER_NAMES = (
    "feature-flags",
    "audit-log-writer",
    "recommendations-lite",
    "geo-lookup",
    "consent-service",
    "metrics-relay",
)

REGIONS = ("us-east1", "us-central1", "europe-west1", "asia-southeast1", "us-west2", "europe-west4")


def _rng(scenario_id: str, variant: int) -> random.Random:
    # A seed string, not hash(): Python randomises str hashes per process.
    return random.Random(f"{scenario_id}/topology/{variant}")


def _addressed(node: ServiceNode, index: int, variant: int) -> ServiceNode:
    return replace(node, address=f"10.{8 + variant}.{index + 1}.{(index * 37 + 11) % 250 + 2}")


def variant_topology(
    scenario_id: str,
    topology: Topology,
    variant: int,
    *,
    pools: dict[ServiceKind, tuple[str, ...]] = NAME_POOLS,
    bystander_names: tuple[str, ...] = BYSTANDER_NAMES,
) -> Topology:
    """The scenario's topology as variant ``variant`` names and sizes it (names from ``pools``)."""
    if variant == 0:
        return Topology(tuple(_addressed(node, i, 0) for i, node in enumerate(topology.services)))
    rng = _rng(scenario_id, variant)
    used: set[str] = set()
    renamed: list[ServiceNode] = []
    for index, node in enumerate(topology.services):
        pool = [name for name in pools[node.kind] if name not in used]
        name = rng.choice(pool) if pool else f"{node.name}-{variant}"
        used.add(name)
        scale = rng.uniform(0.6, 1.6)  # busier or quieter systems, same story
        renamed.append(
            _addressed(
                replace(
                    node,
                    name=name,
                    rps=round(node.rps * scale, 2),
                    pool_size=node.pool_size,
                ),
                index,
                variant,
            )
        )
    bystanders = variant % 3
    entry_index = next((i for i, n in enumerate(renamed) if n.rps > 0), 0)
    entry = renamed[entry_index]
    extra_calls: list[Call] = []
    for b in range(bystanders):
        pool = [name for name in bystander_names if name not in used]
        name = rng.choice(pool)
        used.add(name)
        key = f"bystander{b + 1}"
        renamed.append(
            _addressed(
                ServiceNode(
                    key=key,
                    name=name,
                    kind="api",
                    operations=(Operation(_route(name), 1.0, rng.uniform(5, 25)),),
                    cpu=round(rng.uniform(0.15, 0.45), 2),
                ),
                len(renamed),
                variant,
            )
        )
        extra_calls.append(Call(key, _route(name), per_request=0.3, propagation=0.2))
    if extra_calls:
        first, *rest = entry.operations
        renamed[entry_index] = replace(
            entry,
            operations=(replace(first, calls=first.calls + tuple(extra_calls)), *rest),
        )
    return Topology(tuple(renamed))


def _route(name: str) -> str:
    return f"GET /v1/{name.replace('_', '-').split('-')[0]}"


def variant_region(region: str, variant: int) -> str:
    return (
        region
        if variant == 0
        else REGIONS[(REGIONS.index(region) + variant) % len(REGIONS)]
        if region in REGIONS
        else REGIONS[variant % len(REGIONS)]
    )
