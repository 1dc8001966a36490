from __future__ import annotations

import secrets

import pytest

from chronosops.core.secret_strength import (
    MIN_SECRET_BITS,
    estimated_bits,
    unpredictable_characters,
    weakness,
)


@pytest.mark.parametrize(
    "value", ["a" * 32, "1234567890" * 4, "password" * 4, "9876543210" * 4, "abab" * 10]
)
def test_repeats_runs_and_sequences_are_guessable(value: str) -> None:
    assert weakness(value) is not None


def test_random_values_score_well_above_the_bar() -> None:
    scores = [estimated_bits(secrets.token_hex(32)) for _ in range(500)]
    assert min(scores) > 2 * MIN_SECRET_BITS


def test_a_sequence_scores_as_its_first_characters() -> None:
    assert unpredictable_characters("0123456789") == 2
