"""The built-in sources, by kind. Explicit, so that ``grep`` finds every one of them."""

from __future__ import annotations

from types import MappingProxyType

from chronosops.sources.alertmanager import AlertmanagerSource
from chronosops.sources.base import Source, UnknownSourceError
from chronosops.sources.datadog import DatadogSource
from chronosops.sources.google_cloud_monitoring import GoogleCloudMonitoringSource
from chronosops.sources.google_cloud_status import GoogleCloudStatusSource
from chronosops.sources.grafana import GrafanaSource
from chronosops.sources.newrelic import NewRelicSource
from chronosops.sources.opsgenie import OpsgenieSource
from chronosops.sources.pagerduty import PagerDutySource


def _index(*sources: Source) -> MappingProxyType[str, Source]:
    found: dict[str, Source] = {}
    for source in sources:
        if source.kind in found:
            raise RuntimeError(f"two sources claim the kind {source.kind!r}")
        found[source.kind] = source
    return MappingProxyType(found)


_SOURCES = _index(
    PagerDutySource(),
    DatadogSource(),
    NewRelicSource(),
    GoogleCloudMonitoringSource(),
    GoogleCloudStatusSource(),
    AlertmanagerSource(),
    GrafanaSource(),
    OpsgenieSource(),
)


def kinds() -> list[str]:
    return list(_SOURCES)


def get(kind: str) -> Source:
    """The source of ``kind``, or `UnknownSourceError` (a 404) naming the known ones."""
    try:
        return _SOURCES[kind]
    except KeyError:
        raise UnknownSourceError(kind[:64], kinds()) from None
