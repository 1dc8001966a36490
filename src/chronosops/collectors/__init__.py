"""Evidence collectors: one adapter per backend, fetching artifacts for an incident's window.

Pure adapters: an injected ``httpx.AsyncClient``, typed artifacts out, client errors translated
at the boundary (`CollectorError`), no storage, no settings. `registry.build` makes a collector
from a configured instance; the evidence runner runs them in parallel under a policy.
"""

from chronosops.collectors import registry
from chronosops.collectors.base import (
    Collected,
    Collector,
    CollectorAuthError,
    CollectorConfigError,
    CollectorError,
    CollectorNotApplicableError,
    CollectorOptions,
    CollectorQuery,
    CollectorRateLimitedError,
    CollectorResponseError,
    CollectorSpec,
    CollectorTimeoutError,
    CollectorUnavailableError,
)

__all__ = [
    "Collected",
    "Collector",
    "CollectorAuthError",
    "CollectorConfigError",
    "CollectorError",
    "CollectorNotApplicableError",
    "CollectorOptions",
    "CollectorQuery",
    "CollectorRateLimitedError",
    "CollectorResponseError",
    "CollectorSpec",
    "CollectorTimeoutError",
    "CollectorUnavailableError",
    "registry",
]
