"""Sealing artifacts into a content-addressed evidence bundle.

The hash covers the evidence and nothing about when or by whom it was gathered
(``hashInputVersion`` v2), so identical evidence always gets the same ``bundle-<sha256>`` id and
is stored once, however many incidents cite it.

Besides what came back (``artifacts``), a bundle says what was *read*: each collection note's
``read`` lists the kinds of evidence its source read over the window, found or not, and
``coverage`` is their union in `READ_KINDS` order. Both are left out when empty, so a bundle
whose sources read nothing to say so hashes as it did before coverage existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from chronosops.core.artifacts import Artifact
from chronosops.core.canonical import HASH_ALGORITHM, content_hash
from chronosops.core.evidence_kinds import ReadKind, read_kinds
from chronosops.core.ids import bundle_id

HASH_INPUT_VERSION = "v2"
KIND_ORDER = (
    "metric_series",
    "log_template",
    "span_group",
    "change_event",
    "event",
    "provider_status",
    "log_statement",
)

ARTIFACTS = TypeAdapter(list[Artifact])


@dataclass(frozen=True)
class CollectionNote:
    """What one evidence source did for this bundle: ``ok``, ``empty``, ``timeout`` or ``error``."""

    source: str
    status: str
    detail: str
    items: int = 0
    # The kinds of evidence the source read over the window, found or not (`READ_KINDS`
    # order): a kind read and found empty says nothing of it happened, where a kind not read
    # says nothing at all.
    read: tuple[ReadKind, ...] = ()

    def to_json(self) -> dict[str, Any]:
        note: dict[str, Any] = {
            "source": self.source,
            "status": self.status,
            "detail": self.detail,
            "items": self.items,
        }
        if self.read:
            note["read"] = read_kinds(self.read)
        return note


@dataclass(frozen=True)
class BundleDraft:
    bundle_id: str
    digest: str
    content: dict[str, Any]
    artifacts: tuple[Artifact, ...]

    @property
    def sources(self) -> list[str]:
        return list(self.content["sources"])

    @property
    def synthetic(self) -> bool:
        return bool(self.content["synthetic"])

    @property
    def collection(self) -> list[CollectionNote]:
        """What each evidence source did for this bundle, as sealed in it."""
        return collection_notes(self.content)

    @property
    def coverage(self) -> list[ReadKind]:
        """The kinds of evidence its sources read over the window, found or not."""
        return read_kinds(self.content.get("coverage", []))


def collection_notes(content: dict[str, Any]) -> list[CollectionNote]:
    """A bundle content's collection notes, typed again."""
    return [
        CollectionNote(
            source=note["source"],
            status=note["status"],
            detail=note["detail"],
            items=note.get("items", 0),
            read=tuple(read_kinds(note.get("read", []))),
        )
        for note in content.get("collection", [])
    ]


def _order(artifact: Artifact) -> tuple[int, str]:
    kind = artifact.kind
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), artifact.artifact_id)


def seal(
    artifacts: Sequence[Artifact], *, collection: Sequence[CollectionNote] = ()
) -> BundleDraft:
    ordered = sorted(artifacts, key=_order)
    ids = [a.artifact_id for a in ordered]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"artifact ids must be unique in a bundle: {duplicates}")
    content: dict[str, Any] = {
        "hashAlgo": HASH_ALGORITHM,
        "hashInputVersion": HASH_INPUT_VERSION,
        "sources": sorted({a.source for a in ordered}),
        "synthetic": any(a.synthetic for a in ordered),
        "artifacts": ARTIFACTS.dump_python(ordered, mode="json", by_alias=True),
        "collection": [note.to_json() for note in sorted(collection, key=lambda n: n.source)],
    }
    coverage = read_kinds(kind for note in collection for kind in note.read)
    if coverage:
        content["coverage"] = coverage
    digest = content_hash(content)
    return BundleDraft(
        bundle_id=bundle_id(digest), digest=digest, content=content, artifacts=tuple(ordered)
    )


def artifacts_of(content: dict[str, Any]) -> list[Artifact]:
    """Typed artifacts back from a stored bundle's content."""
    return ARTIFACTS.validate_python(content.get("artifacts", []))
