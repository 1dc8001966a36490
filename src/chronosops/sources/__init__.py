"""Native sources: one adapter per vendor, turning its webhook payloads into incidents.

Pure: a payload and its headers in, normalised events out (see `base`); no database, no
settings, no HTTP framework. `registry` lists the built-in sources.
"""

from chronosops.sources import registry
from chronosops.sources.base import (
    Action,
    LifecycleMove,
    Normalization,
    Note,
    Shape,
    Source,
    SourceEvent,
    SourcePayloadError,
    UnknownSourceError,
    WebhookAuth,
    request_json,
)
from chronosops.sources.builder import NORMALIZATION_FIELD
from chronosops.sources.google_cloud_status import FEED_URL as GOOGLE_CLOUD_STATUS_FEED_URL

__all__ = [
    "GOOGLE_CLOUD_STATUS_FEED_URL",
    "NORMALIZATION_FIELD",
    "Action",
    "LifecycleMove",
    "Normalization",
    "Note",
    "Shape",
    "Source",
    "SourceEvent",
    "SourcePayloadError",
    "UnknownSourceError",
    "WebhookAuth",
    "registry",
    "request_json",
]
