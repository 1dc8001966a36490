from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.core.canonical import content_hash
from chronosops.core.clock import Clock
from chronosops.core.ids import IdFactory
from chronosops.postmortem.drafting import draft_postmortem
from chronosops.postmortem.errors import PostmortemNotFoundError
from chronosops.postmortem.markdown import render_markdown
from chronosops.postmortem.prose import Prose, ProseWriter, with_prose
from chronosops.postmortem.repository import PostmortemRepository
from chronosops.postmortem.schemas import (
    GENERATOR_VERSION,
    PostmortemRead,
    PostmortemSource,
    PostmortemSummary,
)
from chronosops.postmortem.tables import Postmortem

POSTMORTEM_PREFIX = "pm-"


@dataclass(frozen=True)
class Drafted:
    postmortem: PostmortemRead
    created: bool


def _summary_fields(row: Postmortem) -> dict[str, Any]:
    return {
        "postmortem_id": row.id,
        "incident_id": row.incident_id,
        "analysis_id": row.analysis_id,
        "bundle_id": row.bundle_id,
        "version": row.version,
        "generator_version": row.generator_version,
        "content_hash": row.content_hash,
        "headline": row.headline,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }


def _read(row: Postmortem) -> PostmortemRead:
    return PostmortemRead.model_validate(
        {**_summary_fields(row), "content": row.content, "markdown": row.markdown}
    )


class PostmortemService:
    def __init__(self, *, clock: Clock, ids: IdFactory, prose: ProseWriter | None = None) -> None:
        self.clock = clock
        self.ids = ids
        self.prose = prose

    @property
    def writes_prose(self) -> bool:
        """Whether a language model is configured to write the postmortems' prose."""
        return self.prose is not None

    async def write_prose(self, source: PostmortemSource) -> Prose | None:
        """The language model's checked prose for the postmortem of ``source``; None when no
        model is configured to write it."""
        if self.prose is None:
            return None
        evidence_ids = frozenset(str(a["artifactId"]) for a in source.artifacts)
        return await self.prose.write(draft_postmortem(source), evidence_ids)

    async def draft(
        self,
        session: AsyncSession,
        source: PostmortemSource,
        *,
        by: str | None,
        prose: Prose | None = None,
        new_incident: bool = False,
    ) -> Drafted:
        """The postmortem of this analysis: drafted as the incident's next version, once;
        with a language model's checked prose when it wrote some (asked before the caller's
        transaction, so that no model call holds it open).

        ``new_incident``: the incident has no postmortem yet (opened in this very transaction,
        or never analysed), so this one is its first version (nothing to read first).
        """
        repository = PostmortemRepository(session)
        existing = None if new_incident else await repository.for_analysis(source.analysis_id)
        if existing is not None:
            return Drafted(_read(existing), created=False)
        content = with_prose(draft_postmortem(source), prose, source.artifacts)
        # Plain values, not a mapped object: inserted by a Core statement and read back here.
        values: dict[str, Any] = {
            "id": f"{POSTMORTEM_PREFIX}{self.ids.new()}",
            "incident_id": source.incident_id,
            "analysis_id": source.analysis_id,
            "bundle_id": source.bundle_id,
            "version": 1
            if new_incident
            else await repository.latest_version(source.incident_id) + 1,
            "generator_version": GENERATOR_VERSION,
            "content": content,
            "markdown": render_markdown(content),
            "content_hash": content_hash(content),
            "headline": content["headline"],
            "created_at": self.clock.now(),
            "created_by": by,
        }
        await repository.insert(values)
        return Drafted(_read(cast(Postmortem, SimpleNamespace(**values))), created=True)

    async def get(self, session: AsyncSession, postmortem_id: str) -> PostmortemRead:
        row = await PostmortemRepository(session).get(postmortem_id)
        if row is None:
            raise PostmortemNotFoundError(postmortem_id)
        return _read(row)

    async def for_analysis(self, session: AsyncSession, analysis_id: str) -> PostmortemRead | None:
        row = await PostmortemRepository(session).for_analysis(analysis_id)
        return _read(row) if row else None

    async def for_incident(
        self, session: AsyncSession, incident_id: str
    ) -> list[PostmortemSummary]:
        rows = await PostmortemRepository(session).for_incident(incident_id)
        return [PostmortemSummary.model_validate(_summary_fields(row)) for row in rows]

    async def all_for_incident(
        self, session: AsyncSession, incident_id: str
    ) -> list[PostmortemRead]:
        return [_read(row) for row in await PostmortemRepository(session).for_incident(incident_id)]
