"""The built-in collectors, by backend kind: one explicit line each, nothing discovered.

``build`` turns a configured instance into a collector, refusing (with a message naming the
instance and the field) a kind that does not exist or options that do not fit it.
"""

from __future__ import annotations

import httpx

from chronosops.collectors.base import Collector, CollectorConfigError, CollectorSpec, check_name
from chronosops.collectors.datadog import DatadogCollector
from chronosops.collectors.google_cloud import GoogleCloudCollector
from chronosops.collectors.google_cloud_status import GoogleCloudStatusCollector
from chronosops.collectors.loki import LokiCollector
from chronosops.collectors.newrelic import NewRelicCollector
from chronosops.collectors.prometheus import PrometheusCollector
from chronosops.core.clock import Clock

BUILTIN: dict[str, type[Collector]] = {
    collector.kind: collector
    for collector in (
        PrometheusCollector,
        LokiCollector,
        GoogleCloudCollector,
        DatadogCollector,
        NewRelicCollector,
        GoogleCloudStatusCollector,
    )
}


def kinds() -> list[str]:
    return sorted(BUILTIN)


def get(kind: str) -> type[Collector]:
    try:
        return BUILTIN[kind]
    except KeyError:
        raise CollectorConfigError(
            f"unknown collector backend {kind!r}; known: {', '.join(kinds())}"
        ) from None


def build(spec: CollectorSpec, *, http: httpx.AsyncClient, clock: Clock) -> Collector:
    check_name(spec.name)
    return get(spec.backend)(spec, http=http, clock=clock)
