"""Edge refinement: full-resolution edges that follow the plate, against the truth of a drawn plate
(`rmpsam_plugin.bench.refine_bench`: a textured shape whose coverage is known to the pixel, and
logits that are exact at stride 8, so everything between them and the truth is upsampling error).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rmpsam_plugin.bench.refine_bench import bilinear_matte, draw_plate, edge_band
from rmpsam_plugin.refine import edges
from rmpsam_plugin.refine.edges import EdgeRefineSettings, PreparedGuide, refine_edges

HEIGHT, WIDTH, STEP = 540, 1024, 8


@pytest.fixture(scope="module")
def drawn():
    plate = draw_plate(HEIGHT, WIDTH, STEP)
    return plate.truth, plate.plate, plate.logits


def _bilinear(logits: np.ndarray) -> np.ndarray:
    return bilinear_matte(logits, HEIGHT, WIDTH)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a > 0.5) & (b > 0.5)).sum() / ((a > 0.5) | (b > 0.5)).sum())


def test_refined_edges_follow_the_plate_where_bilinear_upsampling_blurs_them(drawn):
    truth, plate, logits = drawn
    bilinear, refined = _bilinear(logits), refine_edges(logits, plate, logits=True)
    band = edge_band(truth, STEP)
    bilinear_error, refined_error = (float(np.abs(m - truth)[band].mean()) for m in (bilinear, refined))
    # Measured: band error 0.057 bilinear against 0.017 refined; IoU 0.9938 against 0.9998.
    assert refined_error < 0.5 * bilinear_error
    assert _iou(refined, truth) > _iou(bilinear, truth)
    assert refined.dtype == np.float32 and refined.min() >= 0.0 and refined.max() <= 1.0


def test_far_from_the_coarse_edge_the_matte_is_the_coarse_hard_label(drawn):
    _, plate, logits = drawn
    refined = refine_edges(logits, plate, logits=True)
    hard = (_bilinear(logits) > 0.5).astype(np.uint8)
    distance = (cv2.distanceTransform(hard, cv2.DIST_L2, 5) + cv2.distanceTransform(1 - hard, cv2.DIST_L2, 5))
    far = distance > 3 * STEP  # beyond the band (two steps) and its work-grid rounding
    assert far.mean() > 0.5
    np.testing.assert_array_equal(refined[far], hard[far].astype(np.float32))


def test_fitting_around_the_band_equals_fitting_the_whole_frame(drawn, monkeypatch):
    _, plate, logits = drawn
    around_the_band = refine_edges(logits, plate, logits=True)
    monkeypatch.setattr(edges, "_box_around", lambda mask, margin: (slice(None), slice(None)))
    np.testing.assert_array_equal(around_the_band, refine_edges(logits, plate, logits=True))


def test_a_prepared_guide_gives_the_same_matte_as_the_plate(drawn):
    _, plate, logits = drawn
    settings = EdgeRefineSettings.for_upsampling(STEP)
    guide = PreparedGuide.from_plate(plate, settings)
    np.testing.assert_array_equal(refine_edges(logits, guide, logits=True),
                                  refine_edges(logits, plate, logits=True, settings=settings))
    with pytest.raises(ValueError, match="plate_rgb must be"):
        PreparedGuide.from_plate(plate[..., :2], settings)
