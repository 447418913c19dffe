"""Edge refinement: full-resolution edges that follow the plate, against the truth of a drawn plate.

The plate is a textured orange shape (an ellipse and a slanted bar) over a textured blue
background, drawn at 4x supersampling so its true coverage is known to the pixel. The low-res
logits are that coverage averaged down by 8, as a network that is right at its own resolution
would give: everything between them and the truth is upsampling error, the staircase and blur
the refinement exists to remove.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rmpsam_plugin.refine import edges
from rmpsam_plugin.refine.edges import EdgeRefineSettings, PreparedGuide, refine_edges

HEIGHT, WIDTH, STEP = 540, 1024, 8


def _true_coverage(supersampling: int = 4) -> np.ndarray:
    ys, xs = (np.mgrid[0:HEIGHT * supersampling, 0:WIDTH * supersampling] + 0.5) / supersampling
    ellipse = ((xs - 430) / 260) ** 2 + ((ys - 260) / 170) ** 2 < 1
    bar = (np.abs(xs - 700) < 90) & (np.abs(ys - 300 - 0.4 * (xs - 700)) < 60)
    inside = (ellipse | bar).reshape(HEIGHT, supersampling, WIDTH, supersampling)
    return inside.mean(axis=(1, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def drawn():
    rng = np.random.default_rng(0)
    truth = _true_coverage()

    def texture():
        return 0.8 + 0.3 * cv2.GaussianBlur(rng.random((HEIGHT, WIDTH), dtype=np.float32), (0, 0), 3)[..., None]

    foreground, background = np.array([0.8, 0.35, 0.2], np.float32), np.array([0.1, 0.2, 0.45], np.float32)
    plate = truth[..., None] * foreground * texture() + (1 - truth[..., None]) * background * texture()
    coarse = np.clip(cv2.resize(truth, (WIDTH // STEP, HEIGHT // STEP), interpolation=cv2.INTER_AREA), 1e-4, 1 - 1e-4)
    logits = np.log(coarse / (1 - coarse)).astype(np.float32)
    return truth, plate.astype(np.float32), logits


def _bilinear(logits: np.ndarray) -> np.ndarray:
    upsampled = cv2.resize(logits, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    return 1.0 / (1.0 + np.exp(-upsampled))


def _edge_band(truth: np.ndarray) -> np.ndarray:
    soft = ((truth > 0) & (truth < 1)).astype(np.uint8)
    return cv2.dilate(soft, np.ones((2 * STEP + 1, 2 * STEP + 1), np.uint8)) > 0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a > 0.5) & (b > 0.5)).sum() / ((a > 0.5) | (b > 0.5)).sum())


def test_refined_edges_follow_the_plate_where_bilinear_upsampling_blurs_them(drawn):
    truth, plate, logits = drawn
    bilinear, refined = _bilinear(logits), refine_edges(logits, plate, logits=True)
    band = _edge_band(truth)
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
