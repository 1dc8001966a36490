"""Taking an incident's record away, and checking it offline.

An export holds the incident, its bundles (their full stored content, so each can be re-hashed to
its id), analyses, postmortems, investigations, prompt traces (in full for admins, hashes only
otherwise) and its audit events with the verification result and the chain's head. Redaction
follows the caller's role, as everywhere: non-admins get sensitive payload values replaced and no
raw source payload; such a bundle cannot be re-hashed, and `verify_export` says so rather than
calling it tampered.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit import GENESIS, AuditLog, hash_input
from chronosops.core.canonical import content_hash
from chronosops.core.ids import BUNDLE_PREFIX
from chronosops.core.redaction import REDACTED
from chronosops.core.timestamps import format_instant, parse_instant
from chronosops.evidence import EvidenceService
from chronosops.incidents import IncidentService
from chronosops.postmortem import PostmortemService
from chronosops.reasoning import ReasoningService

EXPORT_KIND = "CHRONOSOPS_INCIDENT_EXPORT"
EXPORT_VERSION = 1
ALL_ANALYSES = 10_000

# More to add to an export (the investigation sessions), kept apart so each owner fills its part.
ExtraSection = Callable[[AsyncSession, str], Awaitable[list[dict[str, Any]]]]


class IncidentExports:
    def __init__(
        self,
        *,
        incidents: IncidentService,
        evidence: EvidenceService,
        reasoning: ReasoningService,
        postmortems: PostmortemService,
        audit: AuditLog,
    ) -> None:
        self.incidents = incidents
        self.evidence = evidence
        self.reasoning = reasoning
        self.postmortems = postmortems
        self.audit = audit
        self.investigations: ExtraSection | None = None

    async def export(
        self,
        session: AsyncSession,
        incident_id: str,
        *,
        admin: bool,
        by: str | None,
        at: datetime,
    ) -> dict[str, Any]:
        incident = await self.incidents.get(session, incident_id)
        bundles = []
        for link in await self.evidence.for_incident(session, incident_id):
            bundle = await self.evidence.get(session, link.bundle_id, redact=not admin)
            bundles.append(
                {
                    "bundleId": bundle.bundle_id,
                    "windowStart": format_instant(link.window_start),
                    "windowEnd": format_instant(link.window_end),
                    "attachedAt": format_instant(link.attached_at),
                    "redacted": bundle.redacted,
                    # Exactly what was sealed: re-hashing it gives the id back.
                    "content": {
                        "hashAlgo": bundle.hash_algo,
                        "hashInputVersion": bundle.hash_input_version,
                        "sources": bundle.sources,
                        "synthetic": bundle.synthetic,
                        "artifacts": bundle.artifacts,
                        "collection": bundle.collection,
                        # Sealed only when some source said what it read (`evidence.bundle`).
                        **({"coverage": bundle.coverage} if bundle.coverage else {}),
                    },
                }
            )
        analyses = [
            (await self.reasoning.get(session, summary.analysis_id)).model_dump(mode="json")
            for summary in reversed(
                await self.reasoning.for_incident(session, incident_id, limit=ALL_ANALYSES)
            )
        ]
        traces = await self.reasoning.traces_for_incident(session, incident_id)
        events = await self.audit.events_for_incident(session, incident_id)
        verification = await self.audit.verify_incident(session, incident_id)
        head = await self.audit.head(session)
        document: dict[str, Any] = {
            "kind": EXPORT_KIND,
            "exportVersion": EXPORT_VERSION,
            "exportedAt": format_instant(at),
            "exportedBy": by,
            "redacted": not admin,
            "incident": incident.model_dump(mode="json"),
            "bundles": bundles,
            "analyses": analyses,
            "postmortems": [
                p.model_dump(mode="json")
                for p in reversed(await self.postmortems.all_for_incident(session, incident_id))
            ],
            "investigations": (
                await self.investigations(session, incident_id) if self.investigations else []
            ),
            "promptTraces": [
                ((await self.reasoning.trace(session, t.trace_id)) if admin else t).model_dump(
                    mode="json"
                )
                for t in traces
            ],
            "audit": {
                "events": [e.model_dump(mode="json") for e in events],
                "verification": verification.model_dump(mode="json"),
                "incidentHead": {"seq": events[-1].incident_seq, "hash": events[-1].hash}
                if events
                else None,
                "chainHead": {"seq": head[0], "hash": head[1]} if head else None,
            },
        }
        if admin:
            document["sourcePayload"] = await self.incidents.source_payload(session, incident_id)
        return document


def export_zip(document: dict[str, Any]) -> bytes:
    """The export as a zip: ``export.json``, each bundle's JSON, each postmortem's Markdown."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", json.dumps(document, indent=2, ensure_ascii=False))
        for bundle in document["bundles"]:
            archive.writestr(
                f"bundles/{bundle['bundleId']}.json",
                json.dumps(bundle, indent=2, ensure_ascii=False),
            )
        for postmortem in document["postmortems"]:
            archive.writestr(f"postmortems/v{postmortem['version']}.md", postmortem["markdown"])
    return buffer.getvalue()


@dataclass
class ExportVerification:
    ok: bool = True
    bundles_verified: int = 0
    bundles_redacted: int = 0
    events_verified: int = 0
    postmortems_verified: int = 0
    problems: list[str] = field(default_factory=list)
    incident_head: dict[str, Any] | None = None

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)


class UnreadableExportError(ValueError):
    """The file is not an export this version can read."""


def read_export(data: bytes) -> dict[str, Any]:
    """An export from a JSON file or a zip made by `export_zip`."""
    try:
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                data = archive.read("export.json")
        document = json.loads(data)
    except (KeyError, zipfile.BadZipFile, ValueError) as error:
        raise UnreadableExportError(f"not a ChronosOps export: {error}") from None
    if not isinstance(document, dict) or document.get("kind") != EXPORT_KIND:
        raise UnreadableExportError(f"not a ChronosOps export (kind is not {EXPORT_KIND})")
    return document


def _contains_redaction(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_contains_redaction(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_redaction(v) for v in value)
    return bool(value == REDACTED)


def verify_export(document: dict[str, Any]) -> ExportVerification:
    """Re-hash every bundle, postmortem and audit event, and walk the incident's audit links."""
    result = ExportVerification()
    try:
        for bundle in document["bundles"]:
            expected = str(bundle["bundleId"]).removeprefix(BUNDLE_PREFIX)
            if content_hash(bundle["content"]) == expected:
                result.bundles_verified += 1
            elif bundle.get("redacted") and _contains_redaction(bundle["content"]):
                result.bundles_redacted += 1
            else:
                result.fail(f"bundle {bundle['bundleId']}: content does not hash to its id")
        for postmortem in document["postmortems"]:
            if content_hash(postmortem["content"]) == postmortem["contentHash"]:
                result.postmortems_verified += 1
            else:
                result.fail(
                    f"postmortem {postmortem['postmortemId']}: content does not match its hash"
                )
        previous = GENESIS
        for position, event in enumerate(document["audit"]["events"], start=1):
            recomputed = content_hash(
                hash_input(
                    chain_id=event["chainId"],
                    seq=event["seq"],
                    prev_hash=event["prevHash"],
                    incident_id=event["incidentId"],
                    incident_seq=event["incidentSeq"],
                    incident_prev_hash=event["incidentPrevHash"],
                    event_type=event["eventType"],
                    entity_type=event["entityType"],
                    entity_id=event["entityId"],
                    entity_ref=event["entityRef"],
                    actor=event["actor"],
                    occurred_at=parse_instant(event["occurredAt"]),
                    payload=event["payload"],
                )
            )
            if recomputed != event["hash"]:
                result.fail(f"audit event seq {event['seq']}: hash mismatch (modified)")
                break
            if event["incidentSeq"] != position or event["incidentPrevHash"] != previous:
                result.fail(
                    f"audit event seq {event['seq']}: incident link broken (an event is missing "
                    "or out of order)"
                )
                break
            previous = event["hash"]
            result.events_verified += 1
        head = document["audit"].get("incidentHead")
        if result.ok and head is not None and head.get("hash") != previous:
            result.fail("audit: the incident head recorded in the export is not the last event")
        result.incident_head = head
    except (KeyError, TypeError, ValueError) as error:
        result.fail(f"malformed export: {type(error).__name__}: {error}")
    return result
