"""Building one `IngestIncidentRequest` from vendor values, bending them to the contract's rules.

The contract rejects what is too long, unzoned or out of order; a vendor payload must not be
rejected for it, because the vendor cannot change what it sends. So the builder truncates
(titles keep whole characters and whole emoji), reads every time format, defaults what is
missing, and records each of these as a `Note` — in the result, and in the incident's
``metadata.customFields.normalization`` so it stays visible on the incident.

Tags: vendors send ``key:value`` strings (Datadog, Opsgenie). A tag without a colon becomes
``{tag: ""}`` — the tag's presence is the information, and an empty value cannot be mistaken
for a real one (the earlier implementation produced ``"undefined"``). A tag is split at its
first colon only (``url:http://x`` keeps ``http://x``). A key seen twice keeps every value,
comma-joined in order.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from chronosops.core.errors import FieldError
from chronosops.core.ingest_request import (
    DESCRIPTION_MAX,
    METADATA_TEXT_MAX,
    SOURCE_REF_MAX,
    TITLE_MAX,
    IngestIncidentRequest,
    Severity,
    SourceType,
)
from chronosops.core.timestamps import format_instant
from chronosops.sources.base import (
    Action,
    LifecycleMove,
    Note,
    NoteCode,
    SourceEvent,
    SourcePayloadError,
)
from chronosops.sources.fields import flat_text, text
from chronosops.sources.instants import read_instant

DEFAULT_SEVERITY: Severity = "medium"
ELLIPSIS = "…"
NORMALIZATION_FIELD = "normalization"

# Words monitoring tools use for severity, for sources whose vendor has no fixed vocabulary
# (Alertmanager and Grafana labels). Documented in docs/sources.md.
LABEL_SEVERITY: dict[str, Severity] = {
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "emerg": "critical",
    "alert": "critical",
    "page": "critical",
    "disaster": "critical",
    "p1": "critical",
    "high": "high",
    "error": "high",
    "err": "high",
    "major": "high",
    "p2": "high",
    "medium": "medium",
    "warning": "medium",
    "warn": "medium",
    "average": "medium",
    "moderate": "medium",
    "p3": "medium",
    "low": "low",
    "minor": "low",
    "p4": "low",
    "info": "info",
    "informational": "info",
    "information": "info",
    "notice": "info",
    "none": "info",
    "debug": "info",
    "p5": "info",
}

_ZWJ = "\u200d"


def _joins_previous(char: str) -> bool:
    """True for a character that belongs to the grapheme before it (so a cut must not fall before it)."""
    code = ord(char)
    return (
        char == _ZWJ
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (subdivision flags)
    )


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def clip(value: str, limit: int) -> str:
    """``value`` shortened to at most ``limit`` characters, ending in "…", never mid-grapheme."""
    if len(value) <= limit:
        return value
    keep = limit - len(ELLIPSIS)
    while keep > 0 and (_joins_previous(value[keep]) or value[keep - 1] == _ZWJ):
        keep -= 1
    if keep > 0 and _is_regional(value[keep]):
        run = 0
        while keep - run - 1 >= 0 and _is_regional(value[keep - run - 1]):
            run += 1
        if run % 2 == 1:  # the cut would split a flag (a pair of regional indicators)
            keep -= 1
    return value[:keep] + ELLIPSIS


def digest(value: Any) -> str:
    """SHA-256 hex of a JSON-ish value, stable across key order."""
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def _field_errors(error: ValidationError) -> list[FieldError]:
    found = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        found.append(FieldError(path, str(item["msg"]).removeprefix("Value error, ")))
    return found


class RequestBuilder:
    """Gathers one incident's values and the notes on how they were bent."""

    def __init__(self, source_type: SourceType, *, received_at: datetime) -> None:
        self.source_type = source_type
        self.received_at = received_at
        self.notes: list[Note] = []

    def note(self, code: NoteCode, message: str, path: str = "") -> None:
        self.notes.append(Note(code=code, message=message, path=path))

    def event(
        self,
        action: Action,
        source_ref: str,
        summary: str,
        *,
        request: IngestIncidentRequest | None = None,
        resolved_at: datetime | None = None,
        lifecycle: LifecycleMove | None = None,
        actor: str | None = None,
    ) -> SourceEvent:
        """The event for this builder's incident, with the notes gathered so far.

        The notes are copied now, so this comes after the last note: one added later is lost.
        """
        return SourceEvent(
            action=action,
            source_type=self.source_type,
            source_ref=source_ref,
            summary=summary,
            request=request,
            resolved_at=resolved_at,
            notes=tuple(self.notes),
            lifecycle=lifecycle,
            actor=clip(actor, METADATA_TEXT_MAX) if actor else None,
        )

    def clip(self, value: str | None, limit: int, path: str) -> str | None:
        if value is None:
            return None
        clipped = clip(value, limit)
        if clipped != value:
            self.note(
                "text-truncated", f"{len(value)} characters cut to the limit of {limit}", path
            )
        return clipped

    def instant(self, value: Any, path: str) -> datetime | None:
        read = read_instant(value)
        if read.problem is not None:
            self.note("time-unreadable", f"{read.problem}; left out", path)
        elif read.assumed_utc:
            self.note("time-zone-assumed", "the time has no zone; read as UTC", path)
        return read.value

    def first_instant(self, *candidates: tuple[Any, str]) -> datetime | None:
        for value, path in candidates:
            found = self.instant(value, path)
            if found is not None:
                return found
        return None

    def start(self, *candidates: tuple[Any, str]) -> datetime:
        """The incident's start; the receiving time when the payload carries none."""
        found = self.first_instant(*candidates)
        if found is not None:
            return found
        where = ", ".join(path for _, path in candidates) or "the payload"
        self.note(
            "time-defaulted",
            f"no start time in {where}; used the time ChronosOps received the payload",
        )
        return self.received_at

    def severity(self, raw: Any, mapping: Mapping[str, Severity], path: str) -> Severity:
        word = text(raw)
        if word is not None:
            mapped = mapping.get(word.strip().lower())
            if mapped is not None:
                return mapped
            self.note(
                "severity-defaulted",
                f"{word[:64]!r} is not a known severity; used {DEFAULT_SEVERITY!r}",
                path,
            )
        else:
            self.note("severity-defaulted", f"no severity given; used {DEFAULT_SEVERITY!r}", path)
        return DEFAULT_SEVERITY

    def ref(self, raw: str | None, path: str, *, derive_from: Any) -> str:
        """The source reference: as sent, shortened with a hash if too long, derived if absent."""
        if raw is None:
            derived = f"sha256:{digest(derive_from)[:32]}"
            self.note(
                "ref-derived",
                f"no identifier in {path}; the reference is a hash of the payload's content",
                path,
            )
            return derived
        if len(raw) <= SOURCE_REF_MAX:
            return raw
        suffix = f"…sha256:{digest(raw)[:32]}"
        self.note(
            "ref-shortened",
            f"{len(raw)} characters shortened to {SOURCE_REF_MAX}, ending in a hash of the whole",
            path,
        )
        return raw[: SOURCE_REF_MAX - len(suffix)] + suffix

    def title(self, *candidates: tuple[Any, str], fallback: str) -> str:
        for value, path in candidates:
            found = text(value)
            if found is not None:
                return self.clip(found, TITLE_MAX, path) or fallback
        self.note(
            "value-coerced",
            f"no title in {', '.join(path for _, path in candidates)}; used {fallback!r}",
        )
        return clip(fallback, TITLE_MAX)

    def tags(self, value: Any, path: str) -> dict[str, str] | None:
        """``key:value`` strings (a list, or one comma-separated string) or an object, as a map."""
        if isinstance(value, Mapping):
            return self.labels(value, path)
        if isinstance(value, str):
            parts: Iterable[Any] = [part for part in value.split(",") if part.strip()]
        elif isinstance(value, list):
            parts = value
        else:
            return None
        found: dict[str, list[str]] = {}
        for index, part in enumerate(parts):
            tag = text(part)
            if tag is None:
                if part is None or (isinstance(part, str) and not part.strip()):
                    continue
                # Not text: the whole value, as JSON, is the tag's name (never split).
                self.note("value-coerced", "not a text tag; kept as JSON", f"{path}[{index}]")
                found.setdefault(flat_text(part), [""])
                continue
            key, colon, rest = tag.strip().partition(":")
            key, rest = key.strip(), rest.strip()
            if not colon or not key:
                key, rest = tag.strip(), ""
            values = found.setdefault(key, [])
            if rest not in values:
                values.append(rest)
        return {key: ",".join(values) for key, values in found.items()} or None

    def labels(self, value: Any, path: str) -> dict[str, str] | None:
        """An object of labels as text: numbers as digits, anything else as JSON (noted)."""
        if not isinstance(value, Mapping):
            return None
        found: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, str):
                found[str(key)] = item
                continue
            found[str(key)] = flat_text(item)
            if not isinstance(item, int | float) or isinstance(item, bool):
                self.note("value-coerced", "not text; kept as JSON text", f"{path}.{key}")
        return found or None

    def name(self, value: Any, path: str) -> str | None:
        """A metadata name (service, region …) within the 256-character index limit."""
        return self.clip(text(value), METADATA_TEXT_MAX, path)

    def build(
        self,
        *,
        source_ref: str,
        title: str,
        start: datetime,
        source_payload: Any,
        severity: Severity | None = None,
        end: datetime | None = None,
        detected_at: datetime | None = None,
        resolved_at: datetime | None = None,
        description: str | None = None,
        description_path: str = "description",
        service: str | None = None,
        region: str | None = None,
        environment: str | None = None,
        team: str | None = None,
        tags: dict[str, str] | None = None,
        custom_fields: dict[str, Any] | None = None,
    ) -> IngestIncidentRequest:
        end = self._not_before(end, start, "end")
        resolved_at = self._not_before(resolved_at, start, "resolvedAt")
        description = self.clip(description, DESCRIPTION_MAX, description_path)
        timeline: dict[str, Any] = {"start": start, "end": end, "resolvedAt": resolved_at}
        if detected_at is not None:
            timeline["detectedAt"] = detected_at
        metadata: dict[str, Any] = {
            key: value
            for key, value in (
                ("service", service),
                ("region", region),
                ("environment", environment),
                ("team", team),
                ("tags", tags),
            )
            if value is not None
        }
        fields = dict(custom_fields or {})
        if self.notes:
            fields[NORMALIZATION_FIELD] = [note.to_json() for note in self.notes]
        if fields:
            metadata["customFields"] = fields
        data: dict[str, Any] = {
            "sourceType": self.source_type,
            "sourceRef": source_ref,
            "title": title,
            "timeline": timeline,
            "description": description,
            "sourcePayload": source_payload,
        }
        if severity is not None:
            data["severity"] = severity
        if metadata:
            data["metadata"] = metadata
        try:
            return IngestIncidentRequest.model_validate(data)
        except ValidationError as error:  # a source let through what the contract refuses
            raise SourcePayloadError(
                "The payload normalises to an invalid incident", _field_errors(error)
            ) from None

    def _not_before(self, value: datetime | None, start: datetime, name: str) -> datetime | None:
        if value is None or value >= start:
            return value
        self.note(
            "end-clamped",
            f"{format_instant(value)} is before the start {format_instant(start)}; used the start",
            f"timeline.{name}",
        )
        return start
