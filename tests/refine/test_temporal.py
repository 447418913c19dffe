"""Temporal stabilisation on a moving, textured object: less chatter, no lag, anchors untouched."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rmpsam_plugin.evaluation.metrics import dtssd, region_similarity
from rmpsam_plugin.refine.flow import FlowEstimator, grey_u8
from rmpsam_plugin.refine.temporal import stabilise_sequence

SIZE = (96, 128)
FRAMES = 12


def _texture(rng: np.random.Generator, shape: tuple[int, int], blur: float) -> np.ndarray:
    noise = rng.random(shape).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), blur)


def _moving_disc_shot(step_px: float):
    """Frames of a textured disc crossing a textured background, and the disc's true mattes."""
    rng = np.random.default_rng(7)
    background = _texture(rng, SIZE, 2.0) * 0.6
    foreground = 0.4 + _texture(rng, SIZE, 1.5) * 0.6
    ys, xs = np.mgrid[: SIZE[0], : SIZE[1]].astype(np.float32) + 0.5
    images, truths = [], []
    for t in range(FRAMES):
        cx, cy = 30 + step_px * t, 48.0
        truth = (((xs - cx) ** 2 + (ys - cy) ** 2) <= 18.0**2).astype(np.float32)
        # The disc's texture moves with it: sample the foreground texture in the disc's own frame.
        shifted = np.roll(foreground, int(round(step_px * t)), axis=1)
        grey = truth * shifted + (1 - truth) * background
        images.append(np.repeat(grey[..., None], 3, axis=2))
        truths.append(truth)
    return images, truths


def _chattering_logits(truths, rng: np.random.Generator) -> list[np.ndarray]:
    """What per-frame decodes look like: the right shape, with an edge that wanders frame to frame."""
    logits = []
    for truth in truths:
        signed = cv2.GaussianBlur(truth, (0, 0), 1.5) * 2 - 1
        wobble = cv2.GaussianBlur(rng.standard_normal(SIZE).astype(np.float32), (0, 0), 3.0) * 40.0
        logits.append((signed * 8.0 + wobble).astype(np.float32))
    return logits


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_flow_recovers_a_known_translation():
    rng = np.random.default_rng(0)
    image = (_texture(rng, SIZE, 1.5) * 255).astype(np.uint8)
    moved = np.roll(image, (2, 3), axis=(0, 1))  # content moves 3 px right and 2 px down
    flow = FlowEstimator().flow(moved, image)  # moved(p) ~ image(p + d): d = (-3, -2)
    interior = flow[16:-16, 16:-16]
    np.testing.assert_allclose(np.median(interior.reshape(-1, 2), axis=0), [-3.0, -2.0], atol=0.25)


def test_stabilised_mattes_chatter_less_and_stay_as_accurate():
    images, truths = _moving_disc_shot(step_px=3.0)
    logits = _chattering_logits(truths, np.random.default_rng(1))
    anchors = [t == 0 for t in range(FRAMES)]
    smoothed = stabilise_sequence(images, logits, anchors)

    raw_mattes = [_sigmoid(x) for x in logits]
    smooth_mattes = [_sigmoid(x) for x in smoothed]
    raw_dtssd, smooth_dtssd = (dtssd(np.stack(m), np.stack(truths)) for m in (raw_mattes, smooth_mattes))
    raw_j = np.mean([region_similarity(m > 0.5, t > 0.5) for m, t in zip(raw_mattes, truths)])
    smooth_j = np.mean([region_similarity(m > 0.5, t > 0.5) for m, t in zip(smooth_mattes, truths)])
    assert smooth_dtssd < 0.8 * raw_dtssd, (raw_dtssd, smooth_dtssd)
    assert smooth_j >= raw_j - 0.005, (raw_j, smooth_j)


def test_a_fast_object_does_not_lag_behind():
    """8 px per frame: a filter that ignored motion would leave a trail and lose the leading edge."""
    images, truths = _moving_disc_shot(step_px=8.0)
    logits = [(np.where(t > 0.5, 8.0, -8.0)).astype(np.float32) for t in truths]
    smoothed = stabilise_sequence(images, logits, [False] * FRAMES)
    for plane, truth in zip(smoothed, truths):
        assert region_similarity(plane > 0, truth > 0.5) > 0.95


def test_keyframes_pass_through_unchanged_and_sizes_are_checked():
    images, truths = _moving_disc_shot(step_px=3.0)
    logits = _chattering_logits(truths, np.random.default_rng(2))
    anchors = [t in (0, 5) for t in range(FRAMES)]
    smoothed = stabilise_sequence(images, logits, anchors)
    for t in (0, 5):
        np.testing.assert_allclose(_sigmoid(smoothed[t]), _sigmoid(logits[t]), atol=1e-5)
    assert all(plane.dtype == np.float32 and plane.shape == SIZE for plane in smoothed)
    with pytest.raises(ValueError, match="differs from logit size"):
        stabilise_sequence(images[:2], [logits[0][:50], logits[1][:50]], [False, False])
    with pytest.raises(ValueError, match="anchor flags"):
        stabilise_sequence(images, logits, anchors[:3])


def test_grey_conversion_accepts_float_and_uint8():
    image = np.full((4, 4, 3), 0.5, np.float32)
    assert grey_u8(image).dtype == np.uint8 and int(grey_u8(image)[0, 0]) == 128
    assert grey_u8((image * 255).astype(np.uint8))[0, 0] == 127


def test_matte_logit_conversions_stay_float32_and_match_float64():
    """The stabiliser converts every instance's mattes at the network size both ways; it does so
    in float32 in place, within a few float32 steps of the same formulas in float64."""
    from rmpsam_plugin.refine.temporal import _logit, _sigmoid

    logits = np.random.default_rng(3).normal(0.0, 8.0, (64, 64)).astype(np.float32)
    mattes = _sigmoid(logits)
    assert mattes.dtype == np.float32
    np.testing.assert_allclose(mattes, 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -30, 30))), atol=1e-7)
    back = _logit(mattes)
    limit = 1.0 / (1.0 + np.exp(12.0))
    clipped = np.clip(mattes.astype(np.float64), limit, 1.0 - limit)
    assert back.dtype == np.float32
    reference = np.log(clipped / (1.0 - clipped))
    # Near saturation float32 cannot hold 1 - p finely; what reaches the file is the matte.
    moderate = np.abs(reference) < 8.0
    np.testing.assert_allclose(back[moderate], reference[moderate], atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-back.astype(np.float64))), clipped, atol=1e-7)
    assert float(np.abs(back).max()) <= 12.0 + 0.02  # exact 0 and 1 stay finite
