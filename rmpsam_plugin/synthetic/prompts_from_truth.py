"""Prompts placed from ground truth the way an artist would: to drive and score propagation.

Coordinates are display-window pixels, x right, y down, origin at the top-left *corner* of the
frame, continuous: the centre of pixel (row i, column j) is (j + 0.5, i + 0.5), and a box
(x1, y1, x2, y2) runs along pixel edges, so the box of a single pixel (i, j) is
(j, i, j + 1, i + 1).

A matte counts as the object where it exceeds `threshold` (0.5: the object's own half-coverage
edge). The first positive click follows the authors' evaluation: the maximum of the mask's
distance transform, with the frame border counting as boundary. Further clicks spread out as an
artist's do: deep inside the region and far from the clicks already placed.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np

from .anamorphic import squeezed_width
from .shot import SyntheticShot

_CANDIDATE_FRACTION = 0.8  # later clicks are drawn among pixels scoring at least this share of the best
_NEGATIVE_SEARCH_MARGIN = 0.25  # negatives are looked for within the box grown by this share of its size
_NEGATIVE_CLEARANCE_PX = 3  # and at least this far from the object itself


def clicks_from_matte(
    matte: np.ndarray, n: int, rng: np.random.Generator | None = None, threshold: float = 0.5
) -> np.ndarray:
    """Up to `n` positive clicks inside `matte` (H, W): float64 (m, 2) (x, y), m = 0 when empty.

    Without `rng` every click is the single best-scoring pixel (fully deterministic).
    """
    return _spread_clicks(matte > threshold, n, rng)


def box_from_matte(
    matte: np.ndarray, jitter: float = 0.0, rng: np.random.Generator | None = None, threshold: float = 0.5
) -> np.ndarray | None:
    """The box (x1, y1, x2, y2) around `matte`, float64 (4,), or None when the matte is empty.

    `jitter` loosens each edge outward by a random 0..jitter share of the box's size, clipped to
    the frame: an artist's box is drawn around the object, never through it.
    """
    rows = np.flatnonzero((matte > threshold).any(axis=1))
    cols = np.flatnonzero((matte > threshold).any(axis=0))
    if rows.size == 0:
        return None
    box = np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float64)
    if jitter > 0:
        if rng is None:
            raise ValueError("a jittered box needs an rng")
        size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        box += np.array([-1.0, -1.0, 1.0, 1.0]) * rng.uniform(0.0, jitter, 4) * size
    height, width = matte.shape
    return np.clip(box, 0.0, [width, height, width, height])


def negative_clicks_from(
    matte: np.ndarray,
    other_mattes: Sequence[np.ndarray] | np.ndarray,
    n: int = 1,
    rng: np.random.Generator | None = None,
    threshold: float = 0.5,
) -> np.ndarray:
    """Up to `n` negative clicks for the object `matte`: float64 (m, 2) (x, y).

    An artist clicks negative where the network is likely to bleed, in this order of preference:
    on neighbouring objects near the target (inside its box grown by a quarter); on background
    inside the target's own box (a ring's hole, the gap between a star's points); on anything
    else near it. Clicks keep a few pixels off the object.
    """
    mask = matte > threshold
    box = box_from_matte(matte, threshold=threshold)
    if box is None:
        return np.zeros((0, 2))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _NEGATIVE_CLEARANCE_PX + 1,) * 2)
    clear = ~cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
    size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
    near = clear & _box_mask(mask.shape, box + np.array([-1, -1, 1, 1]) * _NEGATIVE_SEARCH_MARGIN * size)
    others = np.zeros_like(mask)
    for other in other_mattes:
        others |= other > threshold
    for region in (near & others, clear & _box_mask(mask.shape, box), near):
        if region.any():
            return _spread_clicks(region, n, rng)
    return np.zeros((0, 2))


def artist_prompts(
    shot: SyntheticShot,
    keyframes: Iterable[int],
    *,
    positive_clicks: int = 1,
    negative_clicks: int = 1,
    box_jitter: float = 0.1,
    seed: int = 0,
    first_frame: int = 0,
    pixel_aspect: float = 1.0,
) -> dict[str, dict[int, dict[str, list[list[float]]]]]:
    """Prompts for every instance on each keyframe (shot frame indices) where it is visible.

    Returns {instance name: {first_frame + keyframe: {"positive": [[x, y], ...],
    "negative": [[x, y], ...], "boxes": [[x1, y1, x2, y2]]}}}, plain JSON-ready lists. An instance
    invisible on every keyframe is absent. `pixel_aspect` maps x into the squeezed display window
    of a plate written with that aspect.
    """
    rng = np.random.default_rng(seed)
    x_scale = squeezed_width(shot.width, pixel_aspect) / shot.width
    to_display = np.array([x_scale, 1.0])
    prompts: dict[str, dict[int, dict[str, list[list[float]]]]] = {}
    for keyframe in keyframes:
        mattes = shot.mattes[keyframe]
        for k, name in enumerate(shot.names):
            box = box_from_matte(mattes[k], box_jitter, rng)
            if box is None:
                continue
            others = np.delete(mattes, k, axis=0)
            positives = clicks_from_matte(mattes[k], positive_clicks, rng) * to_display
            negatives = negative_clicks_from(mattes[k], others, negative_clicks, rng) * to_display
            prompts.setdefault(name, {})[first_frame + keyframe] = {
                "positive": positives.tolist(),
                "negative": negatives.tolist(),
                "boxes": [(box * np.tile(to_display, 2)).tolist()],
            }
    return prompts


def _box_mask(shape: tuple[int, int], box: np.ndarray) -> np.ndarray:
    """Bool mask of the pixels whose centres lie inside the continuous box (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = np.round(box).astype(int)
    inside = np.zeros(shape, bool)
    inside[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = True
    return inside


def _spread_clicks(region: np.ndarray, n: int, rng: np.random.Generator | None) -> np.ndarray:
    """Clicks inside the bool `region`: the deepest point first, then deep and mutually far points."""
    if n <= 0 or not region.any():
        return np.zeros((0, 2))
    padded = np.pad(region, 1).astype(np.uint8)  # the frame border counts as boundary
    depth = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    rows, cols = np.indices(region.shape, dtype=np.float32)
    row, col = np.unravel_index(int(np.argmax(depth)), region.shape)
    clicks = [(col, row)]
    spread = np.full(region.shape, np.inf, np.float32)
    while len(clicks) < n:
        spread = np.minimum(spread, np.hypot(cols - col, rows - row))
        score = depth * spread
        best = float(score.max())
        if best <= 0:
            break  # every pixel of the region is already clicked
        if rng is None:
            row, col = np.unravel_index(int(np.argmax(score)), region.shape)
        else:
            candidates = np.flatnonzero(score >= _CANDIDATE_FRACTION * best)
            row, col = np.unravel_index(int(candidates[rng.integers(candidates.size)]), region.shape)
        clicks.append((col, row))
    return np.array(clicks, np.float64) + 0.5
