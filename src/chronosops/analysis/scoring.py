"""Weighing signals for each hypothesis of the catalog.

A hypothesis scores the weighted sum of the strongest signal of each kind it cares about.
Weights say how specific a signal is to a cause: "connection pool exhausted" points at
saturation far more than "errors went up" does, which every cause produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chronosops.analysis.models import Signal

WEIGHTS: dict[str, dict[str, float]] = {
    "DEPLOY_BUG": {
        "recent_deploy": 2.0,
        "new_error_signature": 0.8,
        "log_code_bug": 1.5,
        "errors_up": 0.5,
        "latency_up": 0.3,
        "span_errors": 0.4,
    },
    "CONFIG_REGRESSION": {
        "config_changed": 2.5,
        "log_config": 1.5,
        "errors_up": 0.4,
        "new_error_signature": 0.4,
    },
    "DB_QUERY_REGRESSION": {
        "log_db": 1.5,
        "latency_up": 0.6,
        "log_timeout": 0.4,
        "recent_deploy": 0.5,
        "span_slow": 0.5,
    },
    "CAPACITY_SATURATION": {
        "saturation_up": 2.0,
        "log_pool_exhausted": 2.2,
        "log_oom": 2.2,
        "restarts_up": 1.5,
        "traffic_up": 0.4,
        "latency_up": 0.3,
    },
    "DOWNSTREAM_OUTAGE": {
        "log_upstream_5xx": 1.5,
        "log_connection_refused": 1.2,
        "log_circuit_open": 1.8,
        "log_timeout": 0.6,
        "span_errors": 0.6,
        "traffic_down": 0.5,
    },
    "NETWORK_DNS_ISSUE": {
        "log_dns": 2.6,
        "log_connection_refused": 0.6,
        "log_timeout": 0.5,
    },
    "CACHE_MISS_STORM": {
        "log_cache_miss": 2.2,
        "cache_degraded": 2.4,
        "latency_up": 0.3,
    },
    "RATE_LIMIT_THROTTLING": {
        "log_rate_limited": 2.6,
        "traffic_up": 0.8,
        "errors_up": 0.2,
    },
    "AUTH_OIDC_ISSUE": {
        "log_auth": 2.4,
        "log_tls": 1.4,
        "errors_up": 0.2,
    },
}

# A hypothesis needs at least this much support to be offered ahead of UNKNOWN.
DECISIVE_SCORE = 1.2
# A hypothesis is only considered when one of its specific signals (weight at least this) is
# present: "errors went up" alone is what every cause looks like, so it names none of them.
KEY_WEIGHT = 1.0


@dataclass(frozen=True)
class Score:
    hypothesis_id: str
    score: float
    support: tuple[Signal, ...]


def score_hypotheses(signals: Sequence[Signal]) -> list[Score]:
    strongest: dict[str, Signal] = {}
    for signal in signals:  # already strongest-first
        strongest.setdefault(signal.kind, signal)
    scores: list[Score] = []
    for hypothesis_id, weights in WEIGHTS.items():
        support = [strongest[kind] for kind in weights if kind in strongest]
        if not any(weights[s.kind] >= KEY_WEIGHT for s in support):
            support = []
        total = sum(weights[s.kind] * s.strength for s in support)
        support.sort(key=lambda s: -weights[s.kind] * s.strength)
        scores.append(Score(hypothesis_id, round(total, 6), tuple(support)))
    scores.sort(key=lambda s: (-s.score, s.hypothesis_id))
    return scores
