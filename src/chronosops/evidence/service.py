from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.analysis.code_paths import history_of
from chronosops.analysis.models import OperationHistory, StatementHistory
from chronosops.analysis.operation_mix import operation_history_of, remembered_records
from chronosops.collectors import CollectorQuery
from chronosops.core.artifacts import Artifact, LogTemplate
from chronosops.core.clock import Clock
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.core.log_mining import remembered
from chronosops.core.redaction import redact_keys
from chronosops.core.windows import TimeWindow
from chronosops.evidence.bundle import (
    BundleDraft,
    CollectionNote,
    artifacts_of,
    collection_notes,
    seal,
)
from chronosops.evidence.collection import CollectionPolicy, CollectionResult, CollectorRunner
from chronosops.evidence.errors import BundleNotFoundError, BundleTamperedError
from chronosops.evidence.lite import artifacts_from_lite, log_services
from chronosops.evidence.repository import EvidenceRepository
from chronosops.evidence.schemas import BundleRead, IncidentBundleRead, StoredBundle
from chronosops.evidence.template_memory import CheckedCopy, TemplateMemory

# Earlier incidents of each service whose log statements an analysis reads (engine 3.13).
DEFAULT_HISTORY_INCIDENTS = 20


class EvidenceService:
    def __init__(
        self,
        *,
        clock: Clock,
        runner: CollectorRunner | None = None,
        history_incidents: int = DEFAULT_HISTORY_INCIDENTS,
    ) -> None:
        self.clock = clock
        # 0: no statement history is kept or read (CHRONOSOPS_ANALYSIS_HISTORY=false).
        self.history_incidents = history_incidents
        self.runner = runner or CollectorRunner([], CollectionPolicy())
        # The remembered log templates as this process last read or wrote them.
        self.template_memory = TemplateMemory()
        # PostgreSQL: the same, as a guess the ingest's transaction checks (`CheckedCopy`).
        self.template_copy = CheckedCopy()

    @property
    def collectors_configured(self) -> bool:
        return self.runner.configured

    async def collect(
        self, query: CollectorQuery, *, backends: frozenset[str] | None = None
    ) -> CollectionResult:
        """What the configured collectors find for the query, under the collection policy."""
        return await self.runner.run(query, backends=backends)

    def collector_backends(self) -> frozenset[str]:
        return self.runner.backends()

    def item_cap(self, kind: str) -> int:
        return self.runner.policy.cap(kind)

    def artifacts_from_request(
        self,
        request: IngestIncidentRequest,
        *,
        known_templates: Mapping[str, Sequence[str]] | None = None,
    ) -> list[Artifact]:
        if request.evidence_lite is None:
            return []
        service = request.metadata.service if request.metadata else None
        return artifacts_from_lite(
            request.evidence_lite, default_service=service, known_templates=known_templates
        )

    @staticmethod
    def log_services(request: IngestIncidentRequest) -> set[str]:
        """The services the request's log lines are mined under ("" for lines of none)."""
        if request.evidence_lite is None:
            return set()
        service = request.metadata.service if request.metadata else None
        return log_services(request.evidence_lite, default_service=service)

    async def known_templates(
        self, session: AsyncSession, services: Collection[str]
    ) -> dict[str, list[str]]:
        """The templates mined for these services before, to mine their new lines against."""
        return await EvidenceRepository(session).log_templates(services)

    async def ask_templates_ahead(self, session: AsyncSession, services: Collection[str]) -> None:
        """PostgreSQL: read these services' templates with the transaction's next statement
        that needs an answer, for `templates_unchanged` (no round trip of its own)."""
        await EvidenceRepository(session).ask_templates_ahead(services)

    async def templates_unchanged(
        self, session: AsyncSession, used: Mapping[str, Sequence[str] | None]
    ) -> bool:
        """Whether the templates remembered for these services are, as this transaction reads
        them, the ones ``used`` (``None``: none remembered)."""
        now = await EvidenceRepository(session).templates_read_ahead(used.keys())
        return all(
            (list(now[service]) if service in now else None)
            == (list(kept) if kept is not None else None)
            for service, kept in used.items()
        )

    async def remember_templates(
        self,
        session: AsyncSession,
        artifacts: Sequence[Artifact],
        *,
        known: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, list[str]]:
        """Keep each service's templates (those remembered, then the new) for its next evidence;
        answer what is remembered now for the services of ``known`` and of the artifacts.

        ``known``: what this transaction already read (`known_templates`) for every service of
        the request the artifacts come from, so it is not read again.
        """
        found = _templates_by_service(artifacts)
        if not found:
            return {service: list(kept) for service, kept in (known or {}).items()}
        repository = EvidenceRepository(session)
        if known is None:
            known = await repository.log_templates(found)
        now = self.clock.now()
        changes = _template_changes(found, known)
        if changes:
            self.template_memory.wrote(changes)
        for service, kept in changes.items():
            await repository.remember_log_templates(service, kept, at=now)
        return {**{service: list(kept) for service, kept in known.items()}, **changes}

    @staticmethod
    def new_templates(artifacts: Sequence[Artifact], *, known: Mapping[str, Sequence[str]]) -> bool:
        """Whether `remember_templates` would write anything, given what was read (``known``,
        for every service of the request)."""
        return bool(_template_changes(_templates_by_service(artifacts), known))

    def history_services(self, artifacts: Sequence[Artifact]) -> list[str]:
        """The services an analysis of these artifacts reads against their earlier incidents:
        those that logged enough lines in their spans (their statements) and those with spans
        of their own (their operations' mix); none when the history is switched off."""
        if self.history_incidents <= 0:
            return []
        return list(remembered_records(artifacts))

    async def statement_history(
        self,
        session: AsyncSession,
        services: Collection[str],
        *,
        incident_id: str,
        onset: datetime,
    ) -> tuple[list[StatementHistory], list[OperationHistory], list[str]]:
        """The statements of these services over their latest earlier incidents (at most
        ``history_incidents`` each, begun no later than ``onset``, the incident itself left
        out), as `analysis.code_paths.missing_paths` reads them; their operations' mix, as
        `analysis.operation_mix.fallen_operations` reads it; and those incidents' ids, sorted,
        so the stored analysis can say what it was compared with."""
        if self.history_incidents <= 0 or not services:
            return [], [], []
        rows = await EvidenceRepository(session).statement_history(
            services, excluding=incident_id, onset=onset, limit=self.history_incidents
        )
        records = [
            (
                service,
                {"lines": lines, "statements": statements}
                | ({} if calls is None else {"calls": calls}),
            )
            for _, service, lines, statements, calls in rows
        ]
        return (
            history_of(records),
            operation_history_of(records),
            sorted({incident for incident, *_ in rows}),
        )

    async def remember_statements(
        self,
        session: AsyncSession,
        artifacts: Sequence[Artifact],
        *,
        incident_id: str,
        onset: datetime,
        replace: bool,
    ) -> None:
        """Keep what the next incidents read of this one (its log statements and its services'
        operation calls), in the caller's transaction; ``replace`` drops what an earlier
        analysis of the incident kept."""
        if self.history_incidents <= 0:
            return
        records = remembered_records(artifacts)
        if not records and not replace:
            return
        await EvidenceRepository(session).record_statement_history(
            incident_id, records, onset=onset, at=self.clock.now(), replace=replace
        )

    def seal(
        self, artifacts: Sequence[Artifact], *, collection: Sequence[CollectionNote] = ()
    ) -> BundleDraft:
        return seal(artifacts, collection=collection)

    async def store(
        self,
        session: AsyncSession,
        draft: BundleDraft,
        *,
        incident_id: str,
        window: TimeWindow,
        by: str | None,
    ) -> StoredBundle:
        """Store the bundle once (content-addressed) and attach it to the incident."""
        inserted, attached = await EvidenceRepository(session).insert_and_link(
            *self._rows(draft, incident_id=incident_id, window=window, by=by)
        )
        return StoredBundle(bundle_id=draft.bundle_id, inserted=inserted, attached=attached)

    async def ask_store_ahead(
        self,
        session: AsyncSession,
        draft: BundleDraft,
        *,
        incident_id: str,
        window: TimeWindow,
        by: str | None,
    ) -> bool:
        """PostgreSQL: `store` asked now, to go out with the transaction's next statement that
        needs an answer (a job's finish) rather than in a round trip of its own;
        `stored_ahead` then reads what it did. False elsewhere (nothing asked)."""
        return await EvidenceRepository(session).ask_insert_and_link_ahead(
            *self._rows(draft, incident_id=incident_id, window=window, by=by)
        )

    @staticmethod
    async def stored_ahead(session: AsyncSession, draft: BundleDraft) -> StoredBundle | None:
        """What `ask_store_ahead` did, as `store` answers it (None: its answers are lost, which
        only a send that failed leaves, and that fails the transaction)."""
        answers = await EvidenceRepository(session).inserted_and_linked_ahead(draft.bundle_id)
        if answers is None:
            return None
        inserted, attached = answers
        return StoredBundle(bundle_id=draft.bundle_id, inserted=inserted, attached=attached)

    def store_if_opened(
        self, draft: BundleDraft, *, incident_id: str, window: TimeWindow, by: str | None
    ) -> list[tuple[Executable, dict[str, Any]]]:
        """PostgreSQL: `store` as statements that take place only where the incident
        ``incident_id`` exists when they run, to go out with the statement that may insert it
        (one round trip fewer for a synchronous ingest); `stored_if_opened` reads their
        answers."""
        return EvidenceRepository.insert_and_link_if_opened(
            *self._rows(draft, incident_id=incident_id, window=window, by=by)
        )

    @staticmethod
    def stored_if_opened(
        draft: BundleDraft, answers: Sequence[Sequence[Any]]
    ) -> StoredBundle | None:
        """What `store_if_opened`'s statements did, as `store` answers it; None when they did
        nothing (the incident was not there: the caller stores the bundle itself, if at all)."""
        inserted, attached = (bool(rows) for rows in answers)
        if not attached:
            return None
        return StoredBundle(bundle_id=draft.bundle_id, inserted=inserted, attached=attached)

    async def unstore(
        self, session: AsyncSession, stored: StoredBundle, *, incident_id: str
    ) -> None:
        """Undo `store_if_opened` in its transaction, for an incident whose analysis is not
        stored after all (a silence holds it back)."""
        await EvidenceRepository(session).unlink(
            stored.bundle_id, incident_id, inserted=stored.inserted
        )

    def _rows(
        self, draft: BundleDraft, *, incident_id: str, window: TimeWindow, by: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The bundle's row and its link to the incident, as `store` writes them."""
        now = self.clock.now()
        return (
            {
                "id": draft.bundle_id,
                "hash_algo": draft.content["hashAlgo"],
                "hash_input_version": draft.content["hashInputVersion"],
                "content": draft.content,
                "sources": draft.sources,
                "artifact_count": len(draft.artifacts),
                "synthetic": draft.synthetic,
                "created_at": now,
                "created_by": by,
            },
            {
                "incident_id": incident_id,
                "bundle_id": draft.bundle_id,
                "window_start": window.start,
                "window_end": window.end,
                "attached_at": now,
                "attached_by": by,
            },
        )

    async def get(self, session: AsyncSession, bundle_id: str, *, redact: bool) -> BundleRead:
        repository = EvidenceRepository(session)
        bundle = await repository.get(bundle_id)
        if bundle is None:
            raise BundleNotFoundError(bundle_id)
        artifacts: list[dict[str, Any]] = bundle.content.get("artifacts", [])
        return BundleRead(
            bundle_id=bundle.id,
            hash=bundle.id.removeprefix("bundle-"),
            hash_algo=bundle.hash_algo,
            hash_input_version=bundle.hash_input_version,
            synthetic=bundle.synthetic,
            sources=bundle.sources,
            artifact_count=bundle.artifact_count,
            artifacts=redact_keys(artifacts) if redact else artifacts,
            collection=bundle.content.get("collection", []),
            coverage=bundle.content.get("coverage", []),
            created_at=bundle.created_at,
            created_by=bundle.created_by,
            incident_ids=await repository.incidents_citing(bundle.id),
            redacted=redact,
        )

    async def draft(self, session: AsyncSession, bundle_id: str) -> BundleDraft:
        """A stored bundle as a draft again, re-sealed: its id proves the content is unchanged."""
        bundle = await EvidenceRepository(session).get(bundle_id)
        if bundle is None:
            raise BundleNotFoundError(bundle_id)
        draft = seal(artifacts_of(bundle.content), collection=collection_notes(bundle.content))
        if draft.bundle_id != bundle.id:
            raise BundleTamperedError(bundle.id, draft.bundle_id)
        return draft

    async def artifacts(self, session: AsyncSession, bundle_id: str) -> list[Artifact]:
        bundle = await EvidenceRepository(session).get(bundle_id)
        if bundle is None:
            raise BundleNotFoundError(bundle_id)
        return artifacts_of(bundle.content)

    async def for_incident(
        self, session: AsyncSession, incident_id: str
    ) -> list[IncidentBundleRead]:
        repository = EvidenceRepository(session)
        reads: list[IncidentBundleRead] = []
        for link in await repository.links_for_incident(incident_id):
            bundle = await repository.get(link.bundle_id)
            if bundle is None:  # guarded by the foreign key; kept for the type checker
                continue
            reads.append(
                IncidentBundleRead(
                    bundle_id=bundle.id,
                    window_start=link.window_start,
                    window_end=link.window_end,
                    attached_at=link.attached_at,
                    synthetic=bundle.synthetic,
                    artifact_count=bundle.artifact_count,
                    sources=bundle.sources,
                )
            )
        return reads


def _templates_by_service(artifacts: Sequence[Artifact]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for artifact in artifacts:
        if isinstance(artifact, LogTemplate):
            service = artifact.services[0] if artifact.services else ""
            found.setdefault(service, []).append(artifact.template)
    return found


def _template_changes(
    found: Mapping[str, list[str]], known: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Per service whose remembered templates change: what to remember now."""
    changes: dict[str, list[str]] = {}
    for service, templates in sorted(found.items()):
        before = known.get(service, [])
        kept = remembered(before, templates)
        if kept != before:
            changes[service] = kept
    return changes
