"""How far a side of the cut moved: a zero baseline gives a finite deviation, and its strength
saturates."""

from __future__ import annotations

import math

from chronosops.analysis.suspects.cut import deviation, strength_of


def test_a_zero_baseline_gives_a_finite_deviation_scaled_by_the_unit_floor() -> None:
    z = deviation([0.0] * 10, [0.05, 0.05], floor=0.01, relative=0.05)
    assert math.isfinite(z)
    assert z == 5.0


def test_strength_grows_with_the_deviation_and_saturates() -> None:
    assert strength_of(-3) == 0.0
    assert 0 < strength_of(3) < strength_of(10) < strength_of(30) == 1.0
