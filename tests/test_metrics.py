"""`rmpsam_plugin.evaluation.metrics` against small cases worked out by hand from the metrics' definitions.

Every quality number the README quotes (demo, quality bench, propagation bench) is a J, F or
dtSSD from this module, so each definition is pinned here with arrays small enough to count:

- J (DAVIS region similarity): |P & T| / |P | T|, 1 when both masks are empty.
- F (DAVIS boundary measure): boundaries as DAVIS's `seg2bmap` draws them (a pixel is on the
  boundary when its right, lower or lower-right neighbour differs; the image edge is no boundary);
  a boundary pixel is matched when the other boundary lies within a disk of radius
  ceil(0.008 * image diagonal) pixels; F = 2PR / (P + R).
- dtSSD (temporal-derivative SSD, as in video-matting evaluations): per pair of consecutive frames
  the RMS over pixels of (d pred - d truth), averaged over the pairs, times 100.

Expected values are derived in the comments, never obtained by running the module.
"""

from __future__ import annotations

import numpy as np
import pytest

from rmpsam_plugin.evaluation.metrics import (
    boundary_f_measure,
    boundary_map,
    boundary_tolerance_px,
    dtssd,
    region_similarity,
)


def _mask(height: int, width: int, *pixels: tuple[int, int]) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    for row, column in pixels:
        mask[row, column] = True
    return mask


def _columns(height: int, width: int, first: int, last: int) -> np.ndarray:
    """A vertical stripe: columns first..last (inclusive) set on every row."""
    mask = np.zeros((height, width), bool)
    mask[:, first : last + 1] = True
    return mask


# --- J ---------------------------------------------------------------------------------------------


def test_j_is_intersection_over_union():
    # prediction: rows 0-1, columns 0-1 (4 px); truth: rows 0-1, columns 0-2 (6 px).
    # intersection 4, union 6 -> J = 2/3.
    prediction = np.zeros((4, 4), bool)
    prediction[0:2, 0:2] = True
    truth = np.zeros((4, 4), bool)
    truth[0:2, 0:3] = True
    assert region_similarity(prediction, truth) == pytest.approx(4 / 6)
    assert region_similarity(truth, prediction) == pytest.approx(4 / 6)  # symmetric


def test_j_of_partly_overlapping_squares():
    # two 3x3 squares offset by one row and one column overlap in a 2x2 square:
    # intersection 4, union 9 + 9 - 4 = 14 -> J = 4/14.
    a = np.zeros((6, 6), bool)
    a[0:3, 0:3] = True
    b = np.zeros((6, 6), bool)
    b[1:4, 1:4] = True
    assert region_similarity(a, b) == pytest.approx(4 / 14)


def test_j_edge_cases():
    empty = np.zeros((3, 3), bool)
    one = _mask(3, 3, (1, 1))
    assert region_similarity(empty, empty) == 1.0  # nothing to find, nothing found
    assert region_similarity(one, empty) == 0.0
    assert region_similarity(empty, one) == 0.0
    assert region_similarity(one, _mask(3, 3, (0, 0))) == 0.0  # disjoint
    assert region_similarity(one, one) == 1.0
    # masks stored as 0/255 bytes count as set/unset
    assert region_similarity(one.astype(np.uint8) * 255, one) == 1.0


# --- boundaries ------------------------------------------------------------------------------------


def test_boundary_of_a_single_pixel_is_the_2x2_block_up_and_left_of_it():
    # pixel (1,1) set in a 4x4 mask. (1,1) differs from its right neighbour; (1,0) from its right
    # neighbour (1,1); (0,1) from its lower neighbour; (0,0) from its lower-right neighbour.
    # No other pixel has a differing right/lower/lower-right neighbour.
    expected = _mask(4, 4, (0, 0), (0, 1), (1, 0), (1, 1))
    np.testing.assert_array_equal(boundary_map(_mask(4, 4, (1, 1))), expected)


def test_image_edge_is_no_boundary():
    # a full mask has no differing neighbours inside the image: no boundary at all
    assert not boundary_map(np.ones((5, 7), bool)).any()
    # a stripe touching the right edge (columns 3..6 of 7): only column 2 (0 beside 1) is boundary
    expected = np.zeros((5, 7), bool)
    expected[:, 2] = True
    np.testing.assert_array_equal(boundary_map(_columns(5, 7, 3, 6)), expected)


def test_boundary_of_a_stripe_is_its_left_neighbour_column_and_its_last_column():
    # columns 3..6 of 12: column 2 (0, right neighbour 1) and column 6 (1, right neighbour 0),
    # on every row including the last (which compares to the right only).
    expected = np.zeros((4, 12), bool)
    expected[:, [2, 6]] = True
    np.testing.assert_array_equal(boundary_map(_columns(4, 12, 3, 6)), expected)


# --- F ---------------------------------------------------------------------------------------------


def test_tolerance_is_the_ceiling_of_0_8_percent_of_the_diagonal():
    assert boundary_tolerance_px(300, 400) == 4  # diagonal 500 -> 4.0
    assert boundary_tolerance_px(30, 40) == 1  # diagonal 50 -> 0.4 -> 1
    assert boundary_tolerance_px(1080, 1920) == 18  # diagonal 2202.9 -> 17.62 -> 18
    assert boundary_tolerance_px(300, 400, bound_th=2) == 2  # >= 1: pixels as given


def test_f_is_one_for_identical_masks_and_both_empty():
    stripe = _columns(8, 12, 3, 6)
    assert boundary_f_measure(stripe, stripe) == 1.0
    empty = np.zeros((8, 12), bool)
    assert boundary_f_measure(empty, empty) == 1.0


def test_f_is_zero_when_one_side_has_no_boundary():
    # empty prediction: precision 1 (nothing wrong claimed), recall 0 -> F = 0; and the reverse.
    stripe = _columns(8, 12, 3, 6)
    empty = np.zeros((8, 12), bool)
    assert boundary_f_measure(empty, stripe) == 0.0
    assert boundary_f_measure(stripe, empty) == 0.0


def test_f_with_one_edge_matched_and_one_missed():
    # truth: columns 3..6 of 12 -> boundary columns 2 and 6 (2H pixels).
    # prediction: columns 3..11, touching the right edge -> boundary column 2 only (H pixels).
    # tolerance 1 px: prediction column 2 lies on truth column 2 -> precision H/H = 1;
    # truth column 2 is matched, truth column 6 is 4 px from column 2 -> recall H/2H = 1/2.
    # F = 2 * 1 * 0.5 / 1.5 = 2/3.
    truth = _columns(8, 12, 3, 6)
    prediction = _columns(8, 12, 3, 11)
    assert boundary_f_measure(prediction, truth, bound_th=1) == pytest.approx(2 / 3)
    # swapping roles swaps precision and recall; F is symmetric
    assert boundary_f_measure(truth, prediction, bound_th=1) == pytest.approx(2 / 3)


def test_f_counts_a_shift_within_the_diagonal_tolerance_as_a_match_and_beyond_it_as_a_miss():
    # 300x400: tolerance 4 px. truth: columns 100..199 -> boundary columns 99 and 199.
    truth = _columns(300, 400, 100, 199)
    # shifted right by 4: boundaries at columns 103 and 203, each exactly 4 px away -> F = 1
    assert boundary_f_measure(_columns(300, 400, 104, 203), truth) == 1.0
    # shifted right by 5: every boundary pixel is 5 px from the other boundary -> F = 0
    assert boundary_f_measure(_columns(300, 400, 105, 204), truth) == 0.0


def test_f_tolerance_is_a_disk_not_a_square():
    # 300x400: tolerance 4 px. truth pixel (10,10) -> boundary {(9,9),(9,10),(10,9),(10,10)};
    # prediction pixel (13,13) -> boundary {(12,12),(12,13),(13,12),(13,13)}.
    # Nearest truth boundary pixel from each prediction boundary pixel is (10,10):
    # (12,12): sqrt(8) = 2.83, (12,13) and (13,12): sqrt(13) = 3.61, all <= 4 -> matched;
    # (13,13): sqrt(18) = 4.24 > 4 -> missed (a 9x9 square would have matched it).
    # precision 3/4; by symmetry ((9,9) is 4.24 from (12,12)) recall 3/4 -> F = 3/4.
    truth = _mask(300, 400, (10, 10))
    prediction = _mask(300, 400, (13, 13))
    assert boundary_f_measure(prediction, truth) == pytest.approx(0.75)


# --- dtSSD -----------------------------------------------------------------------------------------


def test_dtssd_is_zero_for_a_perfect_or_constantly_offset_prediction():
    # truth 0, 0.5, 1 on every pixel
    truth = np.zeros((3, 2, 2))
    truth[1] = 0.5
    truth[2] = 1.0
    assert dtssd(truth.copy(), truth) == 0.0
    # truth - 0.25 changes exactly as the truth does: the offset is not instability
    assert dtssd(truth - 0.25, truth) == pytest.approx(0.0)


def test_dtssd_of_a_change_of_the_wrong_size():
    # truth 0, 0.5, 1 (changes +0.5, +0.5); prediction 0.25, 0.5, 0.75 (changes +0.25, +0.25):
    # error 0.25 on every pixel of both pairs -> RMS 0.25 per pair -> mean 0.25 -> 25.
    truth = np.zeros((3, 2, 2))
    truth[1] = 0.5
    truth[2] = 1.0
    assert dtssd(truth * 0.5 + 0.25, truth) == pytest.approx(25.0)


def test_dtssd_of_a_flicker_against_still_truth():
    # truth 0 on every frame; prediction 0, 0.5, 0 on every pixel.
    # pair 1: d pred = +0.5, d truth = 0 -> RMS 0.5; pair 2: -0.5 -> RMS 0.5; mean 0.5 -> 50.
    truth = np.zeros((3, 2, 2))
    prediction = np.zeros((3, 2, 2))
    prediction[1] = 0.5
    assert dtssd(prediction, truth) == pytest.approx(50.0)


def test_dtssd_is_rms_over_pixels():
    # 2 frames of 2x2; one pixel jumps by 1 in the prediction only: errors (1,0,0,0)
    # -> mean square 1/4 -> RMS 0.5 -> 50.
    truth = np.zeros((2, 2, 2))
    prediction = np.zeros((2, 2, 2))
    prediction[1, 0, 0] = 1.0
    assert dtssd(prediction, truth) == pytest.approx(50.0)


def test_dtssd_averages_the_pairs_rms_rather_than_pooling_all_pairs():
    # prediction 0, 1, 1 against truth 0, 0, 0 (every pixel): pair RMS 1 and 0 -> mean 0.5 -> 50.
    # (Pooling the squares of both pairs first would give sqrt(1/2) * 100 = 70.7.)
    truth = np.zeros((3, 2, 2))
    prediction = np.ones((3, 2, 2))
    prediction[0] = 0.0
    assert dtssd(prediction, truth) == pytest.approx(50.0)


def test_dtssd_of_fewer_than_two_frames_is_zero_and_shapes_must_agree():
    assert dtssd(np.ones((1, 2, 2)), np.zeros((1, 2, 2))) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        dtssd(np.zeros((3, 2, 2)), np.zeros((3, 2, 3)))
