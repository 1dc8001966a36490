from __future__ import annotations

import random
import re

import pytest

from chronosops.analysis.observations import LOG_CATEGORIES
from chronosops.core.required_literals import matches, may_match, required_literals


def test_an_alternation_of_phrases_requires_one_of_its_phrases() -> None:
    pattern = re.compile(r"nxdomain|servfail|no such host")
    assert required_literals(pattern) == frozenset({"nxdomain", "servfail", "no such host"})


def test_a_sequence_requires_its_longest_run_of_literals() -> None:
    pattern = re.compile(r"(?:status|code)\D{0,3}429\b|too many requests")
    assert required_literals(pattern) == frozenset({"status", "code", "too many requests"})


def test_a_phrase_holding_another_adds_nothing() -> None:
    assert required_literals(re.compile(r"certificate|certificate has expired")) == frozenset(
        {"certificate"}
    )


def test_an_optional_part_requires_nothing() -> None:
    assert required_literals(re.compile(r"timed? ?out")) == frozenset({"time"})
    assert required_literals(re.compile(r"(?:abc)?\d+")) is None


def test_a_branch_without_a_literal_leaves_the_pattern_ungated() -> None:
    assert required_literals(re.compile(r"timeout|\d{3}")) is None


@pytest.mark.parametrize(
    ("pattern", "text"), [(r"(?i)timeout", "TIMEOUT"), (r"(?i:time)out", "TIMEout")]
)
def test_a_case_insensitive_pattern_is_not_gated_by_one_case_of_its_letters(
    pattern: str, text: str
) -> None:
    assert matches(re.compile(pattern), text)


def _texts(pattern: re.Pattern[str], rng: random.Random) -> list[str]:
    """Texts built from the pattern's own words, cut and joined at random: near misses and hits."""
    words = [*re.findall(r"[a-z0-9_:/.<>'-]+", pattern.pattern), "x", " ", "<num>", "404", "on"]
    texts = []
    for _ in range(300):
        parts = [rng.choice(words) for _ in range(rng.randint(1, 6))]
        cut = [p[: rng.randint(1, len(p))] if rng.random() < 0.3 else p for p in parts]
        texts.append(rng.choice([" ", "", ": "]).join(cut))
    return texts


@pytest.mark.parametrize(("category", "pattern"), LOG_CATEGORIES)
def test_every_log_category_matches_exactly_what_its_pattern_matches(
    category: str, pattern: re.Pattern[str]
) -> None:
    rng = random.Random(category)
    for text in _texts(pattern, rng):
        assert matches(pattern, text) == (pattern.search(text) is not None), (category, text)


def test_a_pattern_compiled_anew_is_gated_by_its_own_literals_not_a_former_patterns() -> None:
    # The gate is found by the pattern's identity: a pattern freed and another compiled in its
    # place (possibly at the same address) must not inherit its strings.
    for round_ in range(600):
        word = f"needle{round_}"
        pattern = re.compile(rf"(?:{word}|haystack{round_})\d")
        assert may_match(pattern, f"a {word}7")
        assert matches(pattern, f"a {word}7")
        assert not may_match(pattern, "needle haystack 7")
        del pattern
