"""Temporal stabilisation: a motion-compensated smoother over a shot's soft mattes.

Per-frame decodes of the same object disagree slightly from frame to frame (a boundary that
wanders by a pixel, a soft region that breathes), and a compositor sees that as chatter on the
edge. The fix here is the classic motion-compensated recursive filter, run both ways:

    forward_t  = p_t + s * trust_t * (warp(forward_{t-1})  - p_t)
    backward_t = p_t + s * trust_t * (warp(backward_{t+1}) - p_t)
    result_t   = (forward_t + backward_t) / 2

`p` is the network's matte (a probability), `warp` pulls the neighbour's filtered matte along the
optical flow onto this frame, and `trust` (see `flow.py`) drops to zero where the flow is not
believable (occlusions, disocclusions, fast blur), so the filter never drags a matte across a
moving edge: there the network's own decode stands. Running both directions and averaging keeps
the result centred in time (a one-way recursive filter lags behind motion).

Keyframes are anchors: the artist's prompts were on those frames, so their mattes pass through
unchanged and the recursion restarts from them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rmpsam_plugin.refine.flow import Correspondence, FlowEstimator, grey_u8

DEFAULT_STRENGTH = 0.6
"""Weight of the motion-compensated history where the flow is fully trusted (0 disables)."""
_LOGIT_LIMIT = 12.0
"""Mattes go back to logits clipped here (sigmoid(12) = 1 - 6e-6): keeps exact 0/1 finite."""


def stabilise_sequence(
    images: Sequence[np.ndarray],
    logits: Sequence[np.ndarray],
    anchors: Sequence[bool],
    strength: float = DEFAULT_STRENGTH,
    links: Sequence[tuple[Correspondence, Correspondence]] | None = None,
) -> list[np.ndarray]:
    """Smoothed (H, W) float32 logits for consecutive frames of one instance.

    images: the frames as the network saw them, (H, W, 3) float 0..1 or uint8, the same size as
    the logits; logits: the instance's per-frame logits; anchors: True on keyframes; links:
    `motion_links(images)` if already computed (the flow is the same for every instance of a shot).
    """
    if not len(images) == len(logits) == len(anchors):
        raise ValueError(f"got {len(images)} images, {len(logits)} logit maps and {len(anchors)} anchor flags")
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"strength must be in [0, 1), got {strength}")
    for image, plane in zip(images, logits):
        if image.shape[:2] != plane.shape:
            raise ValueError(f"image size {image.shape[:2]} differs from logit size {plane.shape}")
    mattes = [_sigmoid(plane) for plane in logits]
    if len(mattes) < 2 or strength == 0.0:
        return [np.asarray(plane, np.float32) for plane in logits]
    links = links if links is not None else motion_links(images)
    forward = _recursive_pass(mattes, anchors, [pull_back for pull_back, _ in links], strength)
    backward = _recursive_pass(mattes[::-1], anchors[::-1], [pull_ahead for _, pull_ahead in links][::-1], strength)[::-1]
    result = []
    for matte, ahead, behind, anchored in zip(mattes, forward, backward, anchors):
        smoothed = matte if anchored else np.float32(0.5) * (ahead + behind)
        result.append(_logit(smoothed))
    return result


def motion_links(images: Sequence[np.ndarray]) -> list[tuple[Correspondence, Correspondence]]:
    """For each pair (t-1, t): (pull frame t-1 onto t, pull frame t onto t-1)."""
    estimator = FlowEstimator()
    grey = [grey_u8(image) for image in images]
    return [estimator.correspondences(grey[t], grey[t - 1]) for t in range(1, len(grey))]


def _recursive_pass(
    mattes: Sequence[np.ndarray], anchors: Sequence[bool], pulls: Sequence[Correspondence], strength: float
) -> list[np.ndarray]:
    """One direction of the filter; pulls[t-1] moves frame t-1's values onto frame t."""
    filtered = [mattes[0]]
    for t in range(1, len(mattes)):
        if anchors[t]:
            filtered.append(mattes[t])
            continue
        pull = pulls[t - 1]
        # matte + strength * trust * (history - matte), in place on the pulled history (the same
        # operations in the same order: this runs per instance and frame at the network size).
        update = pull.pull(filtered[-1])
        update -= mattes[t]
        update *= np.multiply(pull.trust, np.float32(strength))
        update += mattes[t]
        filtered.append(update)
    return filtered


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in float32, x clipped to +/-30, computed in one buffer."""
    result = np.clip(logits, np.float32(-30.0), np.float32(30.0), dtype=np.float32)
    np.negative(result, out=result)
    np.exp(result, out=result)
    result += np.float32(1.0)
    return np.divide(np.float32(1.0), result, out=result)


def _logit(matte: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) in float32, p clipped `_LOGIT_LIMIT` away from 0 and 1."""
    limit = 1.0 / (1.0 + np.exp(_LOGIT_LIMIT))
    clipped = np.clip(matte, np.float32(limit), np.float32(1.0 - limit), dtype=np.float32)
    odds = np.subtract(np.float32(1.0), clipped)
    np.divide(clipped, odds, out=odds)
    return np.log(odds, out=odds)
