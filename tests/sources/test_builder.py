"""How vendor values are bent to the contract: truncation, tags, severity, references, order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronosops.core.ingest_request import SOURCE_REF_MAX, TITLE_MAX
from chronosops.sources.builder import LABEL_SEVERITY, RequestBuilder, clip

RECEIVED = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)


def builder() -> RequestBuilder:
    return RequestBuilder("CUSTOM", received_at=RECEIVED)


def test_text_within_the_limit_is_untouched() -> None:
    title = "🔥 決済 " * 10
    assert clip(title, TITLE_MAX) is title


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 600, "a" * 499 + "…"),
        ("数" * 600, "数" * 499 + "…"),
        ("x" * 498 + "👩‍💻" + "y", "x" * 498 + "…"),  # a ZWJ sequence is not split
        ("x" * 498 + "e\u0301" + "z", "x" * 498 + "…"),  # nor a letter and its accent
        ("x" * 498 + "🇫🇷🇩🇪", "x" * 498 + "…"),  # nor a flag
        ("x" * 497 + "🇫🇷🇩🇪", "x" * 497 + "🇫🇷" + "…"),
        ("x" * 498 + "👍🏽" + "y", "x" * 498 + "…"),  # nor a skin tone
    ],
)
def test_over_long_text_is_cut_on_a_grapheme_boundary_with_an_ellipsis(
    text: str, expected: str
) -> None:
    clipped = clip(text, TITLE_MAX)
    assert clipped == expected
    assert len(clipped) <= TITLE_MAX


def test_a_clip_is_noted_with_its_path() -> None:
    b = builder()
    assert b.clip("y" * 6000, 5000, "body") == "y" * 4999 + "…"
    assert [(n.code, n.path) for n in b.notes] == [("text-truncated", "body")]


def test_tags_without_a_colon_keep_their_name_with_an_empty_value() -> None:
    tags = builder().tags(
        ["production", "env:prod", "url:https://x.example/a:b", " team : pay "], "t"
    )
    assert tags == {"production": "", "env": "prod", "url": "https://x.example/a:b", "team": "pay"}
    assert "undefined" not in (tags or {}).values()


def test_comma_separated_tags_and_repeated_keys_keep_every_value_in_order() -> None:
    tags = builder().tags("env:prod, monitor,env:staging,env:prod", "t")
    assert tags == {"env": "prod,staging", "monitor": ""}


def test_tags_that_are_not_text_are_kept_as_json_and_noted() -> None:
    b = builder()
    assert b.tags(["ok", 7, {"k": "v"}, None], "tags") == {"ok": "", "7": "", '{"k":"v"}': ""}
    assert [n.path for n in b.notes] == ["tags[2]"]


def test_labels_keep_numbers_as_digits_and_structures_as_json() -> None:
    b = builder()
    labels = b.labels({"a": "x", "n": 3, "f": 0.5, "l": [1, 2], "none": None}, "labels")
    assert labels == {"a": "x", "n": "3", "f": "0.5", "l": "[1,2]", "none": ""}
    assert sorted(n.path for n in b.notes) == ["labels.l", "labels.none"]


@pytest.mark.parametrize(
    ("word", "severity"), [("CRITICAL", "critical"), (" Warning ", "medium"), ("info", "info")]
)
def test_severity_words_are_matched_case_insensitively(word: str, severity: str) -> None:
    b = builder()
    assert b.severity(word, LABEL_SEVERITY, "s") == severity
    assert b.notes == []


@pytest.mark.parametrize("word", [None, "", "bananas", 5, {"level": 1}])
def test_an_unknown_or_missing_severity_is_medium_and_noted(word: object) -> None:
    b = builder()
    assert b.severity(word, LABEL_SEVERITY, "labels.severity") == "medium"
    assert [(n.code, n.path) for n in b.notes] == [("severity-defaulted", "labels.severity")]


def test_an_over_long_reference_is_shortened_with_a_hash_that_keeps_it_unique() -> None:
    b = builder()
    first = b.ref("r" * 600, "id", derive_from=None)
    second = b.ref("r" * 599 + "s", "id", derive_from=None)
    assert len(first) == len(second) == SOURCE_REF_MAX
    assert first != second
    assert b.notes[0].code == "ref-shortened"


def test_a_missing_reference_is_derived_from_content_stably() -> None:
    assert builder().ref(None, "id", derive_from={"b": 1, "a": 2}) == builder().ref(
        None, "id", derive_from={"a": 2, "b": 1}
    )


def test_an_end_before_the_start_is_clamped_to_the_start_and_noted() -> None:
    b = builder()
    start = RECEIVED - timedelta(hours=1)
    request = b.build(
        source_ref="r",
        title="t",
        start=start,
        end=start - timedelta(minutes=5),
        resolved_at=start - timedelta(minutes=5),
        source_payload={},
    )
    assert request.timeline.end == start
    assert request.timeline.resolved_at == start
    codes = [note["code"] for note in (request.metadata.custom_fields or {})["normalization"]]  # type: ignore[union-attr]
    assert codes == ["end-clamped", "end-clamped"]


def test_a_missing_start_is_the_receiving_time_and_noted() -> None:
    b = builder()
    assert b.start(("not a time", "begin")) == RECEIVED
    assert [n.code for n in b.notes] == ["time-unreadable", "time-defaulted"]
