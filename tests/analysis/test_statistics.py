"""The tests behind the code-path readings: chi-square tails and a homogeneity test."""

from __future__ import annotations

import math

from chronosops.analysis.statistics import chi_square_sf, f_sf, homogeneity


def test_the_chi_square_tail_matches_the_tables_five_percent_points() -> None:
    assert math.isclose(chi_square_sf(3.841459, 1), 0.05, rel_tol=1e-5)
    assert math.isclose(chi_square_sf(5.991465, 2), 0.05, rel_tol=1e-5)
    assert math.isclose(chi_square_sf(11.070498, 5), 0.05, rel_tol=1e-5)
    # The continued fraction's side: far in the tail, and one degree of freedom at 10.83.
    assert math.isclose(chi_square_sf(10.827566, 1), 0.001, rel_tol=1e-4)
    assert chi_square_sf(200.0, 3) < 1e-40


def test_a_chi_square_with_no_statistic_or_no_freedom_says_nothing() -> None:
    assert chi_square_sf(0.0, 4) == 1.0
    assert chi_square_sf(12.0, 0) == 1.0


def test_rows_that_split_in_one_proportion_are_homogeneous() -> None:
    assert math.isclose(homogeneity([(30, 30), (15, 15), (8, 8)]), 1.0)


def test_rows_whose_split_moved_are_not() -> None:
    # 2x2: (30, 6) against (30, 54), Pearson's statistic 22.86 on one degree of freedom.
    assert math.isclose(homogeneity([(30, 6), (30, 54)]), chi_square_sf(160 / 7, 1), rel_tol=1e-9)
    assert homogeneity([(30, 6), (30, 54)]) < 1e-4


def test_one_row_or_an_empty_side_cannot_show_a_change_of_mix() -> None:
    assert homogeneity([(40, 12)]) == 1.0
    assert homogeneity([(40, 0), (20, 0)]) == 1.0
    assert homogeneity([(40, 12), (0, 0)]) == 1.0


def test_the_f_tail_matches_its_closed_forms_and_the_chi_square_with_a_long_denominator() -> None:
    # F(2, d): P(X >= x) = (1 + 2x/d)^(-d/2); F(1, 5) at its 5% point.
    assert math.isclose(f_sf(3.0, 2, 10), 1.6**-5, rel_tol=1e-9)
    assert math.isclose(f_sf(6.608, 1, 5), 0.05, rel_tol=1e-3)
    assert math.isclose(f_sf(7.815 / 3, 3, 1e7), chi_square_sf(7.815, 3), rel_tol=1e-3)


def test_an_f_statistic_too_small_to_move_x_off_one_is_no_evidence() -> None:
    # x = d2 / (d2 + d1 * F) rounds to 1: the tail is the whole distribution, not an error.
    assert f_sf(1e-20, 2, 10) == 1.0
