"""Bundles are content-addressed: same evidence, same id; any change, another id."""

from __future__ import annotations

from chronosops.core.artifacts import Artifact
from chronosops.core.ingest_request import EvidenceLite
from chronosops.evidence.bundle import CollectionNote, artifacts_of, seal
from chronosops.evidence.lite import artifacts_from_lite

LOGS = [
    {"message": "Connection pool exhausted", "level": "ERROR", "timestamp": "2024-01-15T11:00:05Z"},
    {"message": "request ok", "level": "INFO", "timestamp": "2024-01-15T11:00:01Z"},
]


def artifacts(logs: list[dict[str, str]]) -> list[Artifact]:
    return list(
        artifacts_from_lite(EvidenceLite.model_validate({"logs": logs}), default_service="db")
    )


def test_identical_evidence_seals_to_the_same_bundle_id() -> None:
    first = seal(artifacts(LOGS))
    again = seal(artifacts(list(reversed(LOGS))))
    assert first.bundle_id == again.bundle_id
    assert first.bundle_id == f"bundle-{first.digest}"
    assert len(first.digest) == 64


def test_any_change_to_the_evidence_changes_the_id() -> None:
    changed = [dict(LOGS[0], level="WARN"), LOGS[1]]
    assert seal(artifacts(LOGS)).bundle_id != seal(artifacts(changed)).bundle_id


def test_what_collection_reported_is_part_of_the_bundle() -> None:
    note = CollectionNote(source="prometheus", status="timeout", detail="timeout after 10 s")
    assert seal(artifacts(LOGS)).bundle_id != seal(artifacts(LOGS), collection=[note]).bundle_id


def test_the_content_holds_no_time_of_sealing_or_author() -> None:
    content = seal(artifacts(LOGS)).content
    assert set(content) == {
        "hashAlgo",
        "hashInputVersion",
        "sources",
        "synthetic",
        "artifacts",
        "collection",
    }
    assert content["hashInputVersion"] == "v2"


def test_artifacts_survive_a_round_trip_through_stored_content() -> None:
    draft = seal(artifacts(LOGS))
    assert tuple(artifacts_of(draft.content)) == draft.artifacts


def test_the_kinds_each_source_read_are_sealed_as_the_bundles_coverage() -> None:
    metrics = CollectionNote(source="prometheus", status="empty", detail="-", read=("metrics",))
    changes = CollectionNote(
        source="changes", status="empty", detail="-", read=("config", "deploys")
    )
    draft = seal(artifacts(LOGS), collection=[metrics, changes])
    assert draft.content["coverage"] == ["metrics", "deploys", "config"]
    assert draft.coverage == ["metrics", "deploys", "config"]
    by_source = {note["source"]: note for note in draft.content["collection"]}
    assert by_source["changes"]["read"] == ["deploys", "config"]
    # Re-read from the stored content, the notes seal to the same id again.
    assert seal(draft.artifacts, collection=draft.collection).bundle_id == draft.bundle_id
    # However the sources are listed, and in whatever order each named its kinds.
    shuffled = [changes, CollectionNote("prometheus", "empty", "-", read=("metrics",))]
    assert seal(artifacts(LOGS), collection=shuffled).bundle_id == draft.bundle_id


def test_a_kind_read_and_found_empty_is_evidence_and_changes_the_id() -> None:
    unread = CollectionNote(source="changes", status="empty", detail="no recorded changes")
    read = CollectionNote(
        source="changes", status="empty", detail="no recorded changes", read=("deploys",)
    )
    assert seal(artifacts(LOGS), collection=[unread]).bundle_id != (
        seal(artifacts(LOGS), collection=[read]).bundle_id
    )


def test_a_bundle_whose_sources_read_nothing_says_nothing_of_coverage_and_keeps_its_id() -> None:
    note = CollectionNote(source="prometheus", status="timeout", detail="timeout after 10 s")
    draft = seal(artifacts(LOGS), collection=[note])
    assert "coverage" not in draft.content
    assert "read" not in draft.content["collection"][0]
    assert draft.coverage == []
    # The id bundles had before coverage existed: the same content, hashed the same way.
    from chronosops.core.canonical import content_hash

    assert draft.digest == content_hash(
        {key: value for key, value in draft.content.items() if key != "coverage"}
    )
