"""The public Google Cloud status feed: entries of ``https://status.cloud.google.com/incidents.json``.

A delivery is one entry or the whole feed (a list of entries); each entry is one incident,
ended when it has an ``end`` or when its latest update says ``AVAILABLE``. The feed's own
vocabulary is read as it is (the earlier implementation expected other words and mapped
nothing): ``severity`` high / medium / low, and ``status_impact`` ``SERVICE_OUTAGE``,
``SERVICE_DISRUPTION``, ``SERVICE_INFORMATION`` when the severity is missing. ``uri`` is
relative in the feed (``incidents/abc``) and is stored as an absolute URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chronosops.core.ingest_request import Severity
from chronosops.sources.base import (
    Normalization,
    Shape,
    Source,
    SourceEvent,
    WebhookAuth,
    payload_error,
)
from chronosops.sources.builder import RequestBuilder
from chronosops.sources.fields import at, first_text, items, names, text

STATUS_PAGE = "https://status.cloud.google.com/"
FEED_URL = f"{STATUS_PAGE}incidents.json"

FEED_SEVERITY: dict[str, Severity] = {"high": "high", "medium": "medium", "low": "low"}
STATUS_IMPACT: dict[str, Severity] = {
    "service_outage": "critical",
    "service_disruption": "high",
    "service_information": "info",
}


MULTIPLE_PRODUCTS = "multiple products"


def is_entry(value: Any) -> bool:
    return isinstance(value, Mapping) and (
        "external_desc" in value or ("begin" in value and "service_name" in value)
    )


class GoogleCloudStatusSource(Source):
    kind = "google-cloud-status"
    title = "Google Cloud status feed"
    source_type = "GOOGLE_CLOUD"
    shapes = (
        Shape(
            "feed-entry",
            "One entry of the incidents.json feed: {id, number, begin, end, created, "
            "external_desc, severity, status_impact, service_name, affected_products, "
            "currently_affected_locations, most_recent_update, uri …}.",
        ),
        Shape("feed", "The whole incidents.json feed: a list of entries, one incident each."),
    )
    auth = WebhookAuth(token=True)
    severity_mappings = (
        ("severity", FEED_SEVERITY),
        ("status_impact when no severity", {k.upper(): v for k, v in STATUS_IMPACT.items()}),
    )

    def parse(
        self, body: Any, *, headers: Mapping[str, str], received_at: datetime
    ) -> Normalization:
        if is_entry(body):
            return Normalization.of("feed-entry", _entry(body, "", received_at))
        if isinstance(body, list) and (not body or any(is_entry(item) for item in body)):
            events = []
            for index, item in enumerate(body):
                if not is_entry(item):
                    raise payload_error(
                        f"[{index}]", "is not a status-feed entry (needs external_desc or begin)"
                    )
                events.append(_entry(item, f"[{index}].", received_at))
            return Normalization(shape="feed", events=tuple(events))
        raise self.unrecognised()


def _entry(entry: Mapping[str, Any], prefix: str, received_at: datetime) -> SourceEvent:
    builder = RequestBuilder("GOOGLE_CLOUD", received_at=received_at)
    ref = builder.ref(first_text(entry.get("id")), f"{prefix}id", derive_from=entry)
    latest = entry.get("most_recent_update")
    latest_status = text(at(latest, "status"))
    end = builder.instant(entry.get("end"), f"{prefix}end")
    if end is None and latest_status == "AVAILABLE":
        end = builder.first_instant(
            (at(latest, "when"), f"{prefix}most_recent_update.when"),
            (at(latest, "created"), f"{prefix}most_recent_update.created"),
        )
    severity_word = text(entry.get("severity"))
    impact = text(entry.get("status_impact"))
    if severity_word is not None and severity_word.strip().lower() in FEED_SEVERITY:
        severity = builder.severity(severity_word, FEED_SEVERITY, f"{prefix}severity")
    else:
        severity = builder.severity(impact, STATUS_IMPACT, f"{prefix}status_impact")
    locations = [
        location
        for location in items(entry.get("currently_affected_locations"))
        + items(entry.get("previously_affected_locations"))
        if isinstance(location, Mapping)
    ]
    location_ids = list(dict.fromkeys(names(locations, "id")))
    products = names(entry.get("affected_products"), "title")
    uri = text(entry.get("uri"))
    url = None
    if uri is not None:
        url = uri if uri.startswith(("http://", "https://")) else STATUS_PAGE + uri.lstrip("/")
    # An incident spanning several products is filed under "Multiple Products", which names no
    # system a collector could query; the first affected product does.
    service_name = text(entry.get("service_name"))
    if service_name is not None and service_name.casefold() == MULTIPLE_PRODUCTS:
        service_name = None
    service = first_text(service_name, products[0] if products else None)
    request = builder.build(
        source_ref=ref,
        title=builder.title(
            (entry.get("external_desc"), f"{prefix}external_desc"),
            fallback=f"Google Cloud incident {ref}",
        ),
        start=builder.start((entry.get("begin"), f"{prefix}begin")),
        end=end,
        detected_at=builder.instant(entry.get("created"), f"{prefix}created"),
        resolved_at=end,
        severity=severity,
        description=text(at(latest, "text")),
        description_path=f"{prefix}most_recent_update.text",
        service=builder.name(service, f"{prefix}service_name"),
        region=builder.name(location_ids[0] if location_ids else None, f"{prefix}locations"),
        tags={
            key: value
            for key, value in (
                ("severity", severity_word),
                ("status_impact", impact),
                ("status", latest_status),
            )
            if value is not None
        }
        or None,
        custom_fields={
            key: value
            for key, value in (
                ("number", text(entry.get("number"))),
                ("url", url),
                ("serviceKey", text(entry.get("service_key"))),
                ("affectedProducts", products or None),
                ("affectedLocations", location_ids or None),
                ("modified", text(entry.get("modified"))),
                ("updates", len(items(entry.get("updates"))) or None),
            )
            if value is not None
        },
        source_payload=dict(entry),
    )
    summary = f"Google Cloud status incident ({'ended' if end else 'ongoing'})"
    return builder.event("trigger", ref, summary, request=request)
