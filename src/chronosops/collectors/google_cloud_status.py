"""The Google Cloud status feed: provider incidents overlapping the window, in the region.

The public feed (``incidents.json``) lists every incident Google has published. Those that
overlap the incident window, touch the incident's region (or are global / multi-regional
around it) and, when configured, the products the service depends on, become
``provider_status`` artifacts. The feed is fetched at most once per ``cache_seconds`` per
collector; every ingest in between reads the cached copy.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import Field

from chronosops.collectors.base import (
    Collected,
    Collector,
    CollectorOptions,
    CollectorQuery,
    CollectorSpec,
    parse_time,
)
from chronosops.core.artifacts import Artifact, ProviderStatus, ProviderUpdate
from chronosops.core.clock import Clock
from chronosops.core.redaction import redact_text

STATUS_PAGE = "https://status.cloud.google.com"
UPDATES_KEPT = 5


class GoogleCloudStatusOptions(CollectorOptions):
    cache_seconds: int = Field(default=300, ge=0, le=86_400)
    products: list[str] = Field(
        default_factory=list,
        description="product titles or ids to keep (e.g. Cloud SQL); empty keeps every product",
    )
    include_global: bool = Field(
        default=True, description="keep incidents Google marks as global or multi-regional"
    )


def _names(entries: Any) -> list[str]:
    names: list[str] = []
    for entry in entries or []:
        if isinstance(entry, dict):
            for key in ("title", "id"):
                if entry.get(key):
                    names.append(str(entry[key]))
    return names


def _locations(incident: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for key in ("currently_affected_locations", "previously_affected_locations"):
        found += [x for x in incident.get(key) or [] if isinstance(x, dict)]
    return found


class GoogleCloudStatusCollector(Collector):
    kind = "google-cloud-status"
    options_model = GoogleCloudStatusOptions
    default_endpoint = STATUS_PAGE

    def __init__(self, spec: CollectorSpec, *, http: httpx.AsyncClient, clock: Clock) -> None:
        super().__init__(spec, http=http, clock=clock)
        self._feed: list[dict[str, Any]] | None = None
        self._fetched_at: datetime | None = None
        self._lock = asyncio.Lock()

    @property
    def settings(self) -> GoogleCloudStatusOptions:
        assert isinstance(self.options, GoogleCloudStatusOptions)
        return self.options

    async def feed(self) -> list[dict[str, Any]]:
        """The feed, from the cache while it is fresh."""
        async with self._lock:
            now = self.clock.now()
            fresh = (
                self._feed is not None
                and self._fetched_at is not None
                and now - self._fetched_at < timedelta(seconds=self.settings.cache_seconds)
            )
            if not fresh:
                body = await self.get_json(
                    f"{self.endpoint}/incidents.json", headers={"Accept": "application/json"}
                )
                if not isinstance(body, list) or not all(isinstance(x, dict) for x in body):
                    raise self.malformed("incidents.json is not a list of incidents")
                self._feed, self._fetched_at = body, now
            assert self._feed is not None
            return self._feed

    async def collect(self, query: CollectorQuery) -> Collected:
        artifacts: list[Artifact] = []
        for incident in await self.feed():
            status = self._status(incident, query)
            if status is not None:
                artifacts.append(status)
        artifacts.sort(key=lambda a: a.artifact_id)
        return Collected(artifacts=artifacts[: query.max_items])

    def _matches_region(self, incident: dict[str, Any], region: str | None) -> bool:
        if region is None:
            return True
        wanted = region.lower()
        for location in _locations(incident):
            for name in (str(location.get("id") or ""), str(location.get("title") or "")):
                name = name.lower()
                if not name:
                    continue
                if name == wanted or wanted.startswith(f"{name}-"):
                    return True  # exact, or a multi-region (us) around the region (us-east1)
                if self.settings.include_global and name in ("global", "multi-region"):
                    return True
        return False

    def _matches_products(self, incident: dict[str, Any]) -> bool:
        wanted = {p.lower() for p in self.settings.products}
        if not wanted:
            return True
        return bool(wanted & {n.lower() for n in _names(incident.get("affected_products"))})

    def _status(self, incident: dict[str, Any], query: CollectorQuery) -> ProviderStatus | None:
        try:
            began = parse_time(incident["begin"])
            ended = parse_time(incident["end"]) if incident.get("end") else None
            identity = str(incident["id"])
        except (KeyError, TypeError, ValueError):
            raise self.malformed("an incident without id or begin") from None
        if began > query.window.end or (ended is not None and ended < query.window.start):
            return None
        if not self._matches_region(incident, query.region) or not self._matches_products(incident):
            return None
        latest = incident.get("most_recent_update") or {}
        updates = []
        for update in (incident.get("updates") or [])[:UPDATES_KEPT]:
            try:
                updates.append(
                    ProviderUpdate(
                        ts=parse_time(update.get("when") or update["created"]),
                        status=update.get("status"),
                        text=redact_text(str(update.get("text") or ""))[:1000],
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue
        uri = str(incident.get("uri") or f"incidents/{identity}")
        products = list(
            dict.fromkeys(
                str(product.get("title") or product.get("id"))
                for product in incident.get("affected_products") or []
                if isinstance(product, dict) and (product.get("title") or product.get("id"))
            )
        )
        title = str(incident.get("external_desc") or (products[0] if products else identity))
        status = str(latest.get("status") or incident.get("status_impact") or "UNKNOWN")
        return ProviderStatus(
            artifact_id=f"status:{self.name}:{identity}",
            title=title[:200],
            summary=(
                f"{status} ({incident.get('severity') or 'unknown'} severity) on "
                f"{', '.join(products) or 'Google Cloud'}"
            )[:500],
            source=self.source,
            provider="google-cloud",
            incident_ref=identity,
            status=status,
            severity=str(incident["severity"]) if incident.get("severity") else None,
            began_at=began,
            ended_at=ended,
            updated_at=parse_time(incident["modified"]) if incident.get("modified") else None,
            products=products,
            locations=sorted({str(x.get("id") or x.get("title")) for x in _locations(incident)}),
            description=redact_text(str(incident.get("external_desc") or title))[:4000],
            # The feed gives a relative uri (reference spec defect: kept relative, it broke links).
            link=uri if uri.startswith("http") else f"{STATUS_PAGE}/{uri.lstrip('/')}",
            updates=updates,
        )
