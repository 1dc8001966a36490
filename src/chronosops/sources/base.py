"""The adapter contract: what a native source is, and what normalising one of its payloads yields.

A source reads one vendor's webhook bodies. `Source.parse` is pure: the parsed JSON body and
the request headers in, a `Normalization` out — no database, no settings, no clock (the
receiving instant is passed in, for payloads that carry no time of their own). What a source
cannot read is a `SourcePayloadError` naming the field, never any other exception.

A payload becomes one `SourceEvent` per incident it speaks of (a batch from Alertmanager or
Grafana speaks of several). Each event says what happened to the incident:

- ``trigger``: the incident is open (or, for a full record with an end time, was open and is
  over); it carries the `IngestIncidentRequest` to ingest, which opens the incident or matches
  the open one with the same reference.
- ``acknowledge``: someone is on it; carries a request when the payload describes the whole
  incident (so a missed trigger is made good), otherwise only the reference.
- ``resolve``: the incident with this reference is over at ``resolved_at``. It never opens an
  incident: a resolve for an unknown reference is recorded and answered, nothing more.
- ``ignore``: the payload concerns the reference but not the incident's life (a note, a tag, a
  ping); recorded, nothing changes.

An event may also carry a ``lifecycle`` move that people made in the vendor's tool
(``acknowledge``, ``unacknowledge``, ``reopen``) and the ``actor`` who made it (or who resolved
it); ChronosOps applies the same lifecycle transition its own API would. An ``acknowledge``
action without one (PagerDuty's escalated, reassigned…) only keeps the incident open.

What normalisation had to bend (a defaulted severity, a truncated title, alerts the vendor left
out of a batch) is reported as `Note` values, so it can be shown and recorded.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from chronosops.core.errors import FieldError, InvalidInputError, NotFoundError
from chronosops.core.ingest_request import IngestIncidentRequest, SourceType
from chronosops.core.timestamps import format_instant

Action = Literal["trigger", "acknowledge", "resolve", "ignore"]
LifecycleMove = Literal["acknowledge", "unacknowledge", "reopen"]

NoteCode = Literal[
    "event-ignored",
    "severity-defaulted",
    "text-truncated",
    "alerts-truncated",
    "time-defaulted",
    "time-unreadable",
    "time-zone-assumed",
    "end-clamped",
    "ref-derived",
    "ref-shortened",
    "value-coerced",
]

_KIND = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Note:
    """One thing normalisation changed or assumed, and where in the payload."""

    code: NoteCode
    message: str
    path: str = ""

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}


@dataclass(frozen=True)
class SourceEvent:
    """What one payload says about one incident (see the module docstring for the actions)."""

    action: Action
    source_type: SourceType
    source_ref: str
    summary: str
    request: IngestIncidentRequest | None = None
    resolved_at: datetime | None = None
    notes: tuple[Note, ...] = ()
    lifecycle: LifecycleMove | None = None
    actor: str | None = None

    def __post_init__(self) -> None:
        if self.action == "trigger" and self.request is None:
            raise ValueError("a trigger carries the request to ingest")
        if self.action == "resolve" and self.resolved_at is None:
            raise ValueError("a resolve carries when the incident was over")

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "sourceType": self.source_type,
            "sourceRef": self.source_ref,
            "summary": self.summary,
            "resolvedAt": format_instant(self.resolved_at) if self.resolved_at else None,
            "lifecycle": self.lifecycle,
            "actor": self.actor,
            "notes": [note.to_json() for note in self.notes],
        }


@dataclass(frozen=True)
class Normalization:
    """A payload read: which of the source's shapes it was, its events, and payload-wide notes."""

    shape: str
    events: tuple[SourceEvent, ...]
    notes: tuple[Note, ...] = ()

    @classmethod
    def of(cls, shape: str, event: SourceEvent) -> Normalization:
        """Most payloads speak of one incident and carry no payload-wide notes."""
        return cls(shape=shape, events=(event,))

    @property
    def requests(self) -> list[IngestIncidentRequest]:
        return [event.request for event in self.events if event.request is not None]


@dataclass(frozen=True)
class Shape:
    """A payload format a source recognises, detected from the payload itself."""

    name: str
    description: str


@dataclass(frozen=True)
class WebhookAuth:
    """How a vendor can prove a delivery is its own; `auth.webhooks` does the checking.

    ``signature_header``: an HMAC-SHA256 signature of the raw body, keyed with the source's
    secret. ``token``: the source's token as a bearer token or as a basic-auth password.
    ``query_token``: the token as ``?token=`` (only for senders that can set no header).
    ``body_token_field``: a top-level JSON field carrying the token (PagerDuty's Events API
    ``routing_key``), for senders that speak a vendor protocol with its key in the body.
    """

    signature_header: str | None = None
    token: bool = True
    query_token: bool = False
    body_token_field: str | None = None

    @property
    def uses_secret(self) -> bool:
        return self.signature_header is not None


class SourcePayloadError(InvalidInputError):
    """The payload is not one the source can read; ``errors`` say where and why."""

    code = "source-payload-invalid"


class UnknownSourceError(NotFoundError):
    code = "unknown-source"

    def __init__(self, kind: str, known: list[str]) -> None:
        super().__init__(f"Unknown source {kind!r}; known sources: {', '.join(known)}")


def request_json(request: IngestIncidentRequest) -> dict[str, Any]:
    """A normalised request as JSON that ``POST /v1/incidents/ingest`` accepts as it is.

    Fields the source did not set are left out (the contract lets optional fields be absent
    but not null), so a dry run's output can be replayed through the generic API.
    """
    return request.model_dump(mode="json", by_alias=True, exclude_unset=True)


def payload_error(path: str, message: str, *, summary: str | None = None) -> SourcePayloadError:
    return SourcePayloadError(
        summary or f"Cannot read the payload: {path or 'the body'} {message}",
        [FieldError(path, message)],
    )


class Source(ABC):
    """One vendor. Subclasses set the class variables and implement `parse`."""

    kind: ClassVar[str]
    """Stable slug, the path segment of ``/v1/webhooks/{kind}``."""
    title: ClassVar[str]
    source_type: ClassVar[SourceType]
    shapes: ClassVar[tuple[Shape, ...]]
    auth: ClassVar[WebhookAuth]
    delivery_id_headers: ClassVar[tuple[str, ...]] = ()
    """Headers whose value names a delivery (the same on every retry of it)."""
    severity_mappings: ClassVar[tuple[tuple[str, Mapping[str, str]], ...]] = ()
    """Per vendor field: vendor value → ChronosOps severity (shown by ``GET /v1/sources``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = getattr(cls, "kind", None)
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise TypeError(f"{cls.__name__}.kind must be a lowercase slug, got {kind!r}")
        if not getattr(cls, "shapes", ()):
            raise TypeError(f"{cls.__name__} must list the payload shapes it accepts")

    @abstractmethod
    def parse(
        self, body: Any, *, headers: Mapping[str, str], received_at: datetime
    ) -> Normalization:
        """Normalise one delivery, or raise `SourcePayloadError`."""

    def describe_shapes(self) -> str:
        return ", ".join(shape.name for shape in self.shapes)

    def unrecognised(self) -> SourcePayloadError:
        article = "an" if self.title[:1].lower() in "aeiou" else "a"  # an Opsgenie payload
        return payload_error(
            "",
            f"is not {article} {self.title} payload this source reads; accepted shapes: "
            f"{self.describe_shapes()} (see GET /v1/sources)",
            summary=f"Not {article} {self.title} payload ChronosOps recognises",
        )
