"""Full-resolution matte edges that follow the plate: a confidence-weighted fast guided filter.

The network predicts at stride 4 of the inference size, so on a 2K plate one logit covers about
16x16 plate pixels. Bilinear upsampling gives a soft blob whose edge is wherever the low-res grid
put it, up to half a step off the real edge, and blurred over a whole step.

The guided filter (He, Sun, Tang 2013) fits, in every window of radius r, the matte as a linear
function of the plate's colour, q = a . I + b, and that is the right model for an edge: a pixel
of coverage alpha shows alpha * F + (1 - alpha) * B in linear light. Fed the blurry upsampled
matte as its target, though, the plain filter regresses on a target that is wrong exactly where it
matters: it leaves long tails beside every edge, and on a striped background it copies the stripes
into the matte. So the fit here is weighted: each pixel's weight is the coarse matte's confidence,
zero within `uncertain_inner` of the coarse 0.5 contour (where the true edge may be), one beyond
`uncertain_outer`, and the target is the coarse hard label. Every window then learns "these colours
are foreground, those are background" from the pixels the network is sure of, and the linear model
decides the uncertain pixels between them, soft where the plate is mixed (anti-aliasing, motion
blur) and hard where it is not. Both the fit and the window averaging of (a, b) use these weights
(box filters of weighted products divided by box filters of weights).

The "fast" form (He and Sun 2015) fits a and b on a subsampled plate and evaluates a . I + b at full
resolution, and only in a band around the coarse edge. Beyond the band the coarse matte's hard 0/1
is returned exactly, so a textured interior can never gain holes and the background never gains
specks; the refined matte fades into it over the band's outer part, so the band has no border.

The guide is the plate in scene-linear light, as read: the mixing model above is linear in light,
and a display-referred guide moves the 0.5 contour of a bright-on-dark edge by a fraction of a
pixel, enough to do worse than plain bilinear upsampling on synthetic shots (README, "Edge
refinement"). Values are clipped to 0..1 so speculars do not dominate a window.
Everything is OpenCV box filters and numpy: deterministic for given inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

REC709_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
"""Weights for the luminance guide (Rec. 709 primaries, linear light)."""

_TILE = 32
"""Work pixels per side of the tiles evaluated at full resolution."""

_MIN_WEIGHT = 1e-6
"""Window weight below which a window holds no confident pixel; its fit is left out."""


@dataclass(frozen=True)
class EdgeRefineSettings:
    """Settings in full-resolution plate pixels; `for_upsampling` derives them from the step.

    radius            guided-filter window radius: must reach from a pixel of the uncertain zone to
                      confident pixels on both sides of it.
    eps               regularisation of a = Sigma^-1 cov(I, label), guide units squared. Larger
                      ignores fainter colour differences (texture), smaller follows faint edges.
    uncertain_inner   pixels this close to the coarse 0.5 contour carry no weight in the fit...
    uncertain_outer   ...and pixels beyond this carry full weight (linear in between).
    band_inner        the refined matte is used as is within this distance of the coarse contour...
    band_outer        ...and the coarse hard 0/1 beyond it, blended linearly in between.
    subsample         the fast guided filter's factor: the fit runs on a plate this many times
                      smaller (He and Sun suggest radius / 4).
    colour_guide      fit on RGB (3x3 covariance: separates equal-luminance colours) or on
                      luminance only (about half the cost).
    """

    radius: float
    eps: float = 6e-5
    uncertain_inner: float = 0.0
    uncertain_outer: float = 1.0
    band_inner: float = 1.0
    band_outer: float = 2.0
    subsample: int = 1
    colour_guide: bool = True

    @classmethod
    def for_upsampling(cls, factor: float, *, eps: float = 6e-5, colour_guide: bool = True) -> "EdgeRefineSettings":
        """Defaults for a low-res map `factor` times smaller than the plate.

        The fit ignores pixels within a quarter step of the coarse edge and trusts them from three
        quarters of a step on; windows reach two steps, so every uncertain pixel sees trusted
        pixels on both sides even where the network's edge is off by more than the grid's half
        step; the refined matte is used within one step and fades out by two. Chosen on synthetic
        shots when this was written (that script was not kept): wider windows help where the
        coarse edge is noisier, narrower ones where it is clean; two steps is the middle of that
        trade. `tests/refine/test_edges.py` holds the result against a drawn plate's truth.
        """
        step = max(2.0, float(factor))
        radius = 2.0 * step
        return cls(
            radius=radius,
            eps=eps,
            uncertain_inner=0.25 * step,
            uncertain_outer=0.75 * step,
            band_inner=1.0 * step,
            band_outer=2.0 * step,
            subsample=max(1, int(round(radius / 4.0))),
            colour_guide=colour_guide,
        )


@dataclass(frozen=True)
class PreparedGuide:
    """A plate made ready to guide `refine_edges` with given settings: clipped, padded to the fit's
    subsampling, and on the fit's work grid. One per frame, shared by every instance's refinement
    (preparing it costs as much as a third of one refinement on a 2K plate)."""

    plate_shape: tuple[int, int]  # (H, W) of the plate
    full: np.ndarray  # clipped, padded; luminance when not `colour_guide`
    work: np.ndarray  # `full` on the work grid
    settings: EdgeRefineSettings

    @classmethod
    def from_plate(cls, plate_rgb: np.ndarray, settings: EdgeRefineSettings) -> "PreparedGuide":
        height, width = _plate_shape(plate_rgb)
        step = settings.subsample
        full = _pad_to_multiple(np.clip(plate_rgb.astype(np.float32, copy=False), 0.0, 1.0), step)
        if not settings.colour_guide:
            full = full @ REC709_LUMA
        work = _resize(full, (-(-height // step), -(-width // step)), cv2.INTER_AREA)
        return cls((height, width), full, work, settings)


def refine_edges(
    low_res: np.ndarray,
    plate_rgb: np.ndarray | PreparedGuide,
    *,
    logits: bool = False,
    low_res_extent: tuple[float, float] | None = None,
    settings: EdgeRefineSettings | None = None,
) -> np.ndarray:
    """Upsample a low-resolution matte to the plate's resolution with edges that follow the plate.

    low_res          (h, w) soft matte in 0..1, or logits when `logits=True`; any resolution
    plate_rgb        (H, W, 3) the plate in scene-linear light (see the module notes); float; or
                     a `PreparedGuide` of it, whose settings are then used
    low_res_extent   (rows, cols) of `low_res`, possibly fractional, that cover the plate; the rest
                     is padding. The network's stride-4 logits cover its zero-padded input, so
                     pass `InferenceGeometry.resized_hw / 4` for them. Default: all of `low_res`.
    settings         default `EdgeRefineSettings.for_upsampling(H / rows of the extent)`

    Returns float32 (H, W) in [0, 1]; exactly 0 or 1 beyond `band_outer` of the coarse edge.
    """
    if low_res.ndim != 2:
        raise ValueError(f"low_res must be (h, w), got {low_res.shape}")
    prepared = plate_rgb if isinstance(plate_rgb, PreparedGuide) else None
    if prepared is not None:
        height, width = prepared.plate_shape
        settings = prepared.settings
    else:
        height, width = _plate_shape(plate_rgb)
    extent = low_res_extent if low_res_extent is not None else low_res.shape
    if settings is None:
        settings = EdgeRefineSettings.for_upsampling(max(height / extent[0], width / extent[1]))

    step = settings.subsample
    work_hw = (-(-height // step), -(-width // step))
    coarse = _low_res_on_work_grid(low_res, extent, work_hw, step / height * extent[0], step / width * extent[1], logits)
    label = (coarse > 0.5).astype(np.float32)
    distance = _distance_to_contour(label) * step
    blend = _ramp_down(distance, settings.band_inner, settings.band_outer)

    whole_steps = _resize(label, (work_hw[0] * step, work_hw[1] * step), cv2.INTER_NEAREST)
    result = np.ascontiguousarray(whole_steps[:height, :width])
    if not blend.any():
        return result
    prepared = prepared or PreparedGuide.from_plate(plate_rgb, settings)
    guide, guide_work = prepared.full, prepared.work
    weight = 1.0 - _ramp_down(distance, settings.uncertain_inner, settings.uncertain_outer)
    radius_work = max(1, int(round(settings.radius / step)))
    # The fit at a pixel reads the plate within two radii (window of windows), and the band's
    # bilinear upsampling reads one work pixel beyond the band: fitting that box around the band
    # gives the band the same coefficients as a fit over the whole frame, at a fraction of the
    # cost when the instance covers part of the frame.
    rows, cols = _box_around(blend > 0, 2 * radius_work + 1)
    fitted = weighted_guided_filter_coefficients(guide_work[rows, cols], label[rows, cols], weight[rows, cols],
                                                 radius_work, settings.eps)
    coefficients = np.zeros((*work_hw, fitted.shape[2]), np.float32)
    coefficients[rows, cols] = fitted
    _evaluate_in_band(result, np.dstack([coefficients, blend]), guide, step)
    return result


def _box_around(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Row and column slices of the bounding box of `mask`'s true pixels, grown by `margin`."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, mask.shape[0])),
            slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, mask.shape[1])))


def _plate_shape(plate_rgb: np.ndarray) -> tuple[int, int]:
    if plate_rgb.ndim != 3 or plate_rgb.shape[2] != 3:
        raise ValueError(f"plate_rgb must be (H, W, 3), got {plate_rgb.shape}")
    return plate_rgb.shape[0], plate_rgb.shape[1]


def weighted_guided_filter_coefficients(
    guide: np.ndarray, target: np.ndarray, weight: np.ndarray, radius: int, eps: float
) -> np.ndarray:
    """Window-averaged (a, b) of target ~ a . guide + b, fitted by weighted least squares.

    guide (h, w, C) or (h, w); target and weight (h, w). Returns (h, w, C + 1): a then b.
    One box-filter call covers every weighted product (OpenCV filters all channels in one pass),
    then a closed-form symmetric solve per pixel. Windows without weight get a = 0, b = 0 and no
    say in the averaging.
    """
    channels = guide if guide.ndim == 3 else guide[..., None]
    count = channels.shape[2]
    pairs = [(i, j) for i in range(count) for j in range(i, count)]
    weighted_target = weight * target
    stack = np.dstack(
        [weight, weight[..., None] * channels, weighted_target, weighted_target[..., None] * channels]
        + [weight * channels[..., i] * channels[..., j] for i, j in pairs]
    ).astype(np.float32)
    sums = _box(stack, radius)
    window_weight = sums[..., 0]
    has_weight = window_weight > _MIN_WEIGHT
    means = sums[..., 1:] / np.where(has_weight, window_weight, 1.0)[..., None]
    mean_guide = means[..., :count]
    mean_target = means[..., count]
    cross = means[..., count + 1 : 2 * count + 1] - mean_guide * mean_target[..., None]
    covariance = {}
    for index, (i, j) in enumerate(pairs):
        covariance[i, j] = means[..., 2 * count + 1 + index] - mean_guide[..., i] * mean_guide[..., j]
        if i == j:
            covariance[i, j] += np.float32(eps)
    slope = _solve_symmetric(covariance, cross, count)
    offset = mean_target - np.einsum("hwc,hwc->hw", slope, mean_guide)
    window_weight = np.where(has_weight, window_weight, 0.0)
    averaged = _box(np.dstack([slope, offset, np.ones_like(offset)]) * window_weight[..., None], radius)
    total = averaged[..., -1:]
    return np.where(total > _MIN_WEIGHT, averaged[..., :-1] / np.maximum(total, _MIN_WEIGHT), 0.0).astype(np.float32)


def _low_res_on_work_grid(
    low_res: np.ndarray, extent: tuple[float, float], work_hw: tuple[int, int], row_scale: float, col_scale: float, logits: bool
) -> np.ndarray:
    """Bilinear from the low-res map to the work grid (low-res pixels per work pixel given), 0..1.

    An affine warp rather than a resize: the work grid and the `extent` rarely divide evenly, and
    pixel centres must land exactly (half-pixel convention, as `F.interpolate(align_corners=False)`).
    Logits are interpolated before the sigmoid, as the released post-processing does, so the 0.5
    contour is the network's own edge.
    """
    matrix = np.array([[col_scale, 0.0, 0.5 * col_scale - 0.5], [0.0, row_scale, 0.5 * row_scale - 0.5]], np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    upsampled = cv2.warpAffine(low_res.astype(np.float32), matrix, work_hw[::-1], flags=flags, borderMode=cv2.BORDER_REPLICATE)
    if logits:
        return (1.0 / (1.0 + np.exp(-np.clip(upsampled, -30.0, 30.0)))).astype(np.float32)
    return np.clip(upsampled, 0.0, 1.0)


def _pad_to_multiple(image: np.ndarray, step: int) -> np.ndarray:
    """Replicate the last row/column so the plate is a whole number of work pixels."""
    rows, cols = -image.shape[0] % step, -image.shape[1] % step
    if rows == 0 and cols == 0:
        return image
    return cv2.copyMakeBorder(image, 0, rows, 0, cols, cv2.BORDER_REPLICATE)


def _distance_to_contour(label: np.ndarray) -> np.ndarray:
    """Distance of each pixel centre to the boundary between label 1 and label 0, in pixels."""
    inside = label.astype(np.uint8)
    distance_inside = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    distance_outside = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # One of the two is zero at every pixel; the other counts to the nearest pixel across the
    # boundary, which lies half a pixel before it.
    return np.maximum(distance_inside + distance_outside - 0.5, 0.0)


def _ramp_down(distance: np.ndarray, start: float, end: float) -> np.ndarray:
    """1 up to `start`, 0 from `end`, linear in between."""
    return np.clip((end - distance) / max(end - start, 1e-6), 0.0, 1.0).astype(np.float32)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    """Window sums up to a constant (normalised box); reflected borders keep windows full-sized."""
    return cv2.boxFilter(image, -1, (2 * radius + 1, 2 * radius + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


def _solve_symmetric(covariance: dict[tuple[int, int], np.ndarray], rhs: np.ndarray, count: int) -> np.ndarray:
    """Per-pixel Sigma^-1 rhs for a 1x1 or 3x3 symmetric positive definite Sigma (eps makes it so)."""
    if count == 1:
        return rhs / covariance[0, 0][..., None]
    s00, s01, s02 = covariance[0, 0], covariance[0, 1], covariance[0, 2]
    s11, s12, s22 = covariance[1, 1], covariance[1, 2], covariance[2, 2]
    c00 = s11 * s22 - s12 * s12
    c01 = s02 * s12 - s01 * s22
    c02 = s01 * s12 - s02 * s11
    c11 = s00 * s22 - s02 * s02
    c12 = s01 * s02 - s00 * s12
    c22 = s00 * s11 - s01 * s01
    determinant = s00 * c00 + s01 * c01 + s02 * c02
    r0, r1, r2 = rhs[..., 0], rhs[..., 1], rhs[..., 2]
    return np.dstack(
        [
            (c00 * r0 + c01 * r1 + c02 * r2) / determinant,
            (c01 * r0 + c11 * r1 + c12 * r2) / determinant,
            (c02 * r0 + c12 * r1 + c22 * r2) / determinant,
        ]
    )


def _evaluate_in_band(result: np.ndarray, work_maps: np.ndarray, guide: np.ndarray, step: int) -> None:
    """Write q = a . I + b, clipped and faded into the hard label, wherever the band reaches.

    work_maps holds (a..., b, blend) on the work grid; `result` holds the hard label. Only tiles that the band touches are
    upsampled (bilinear, with a one-pixel margin so each tile matches a whole-frame resize) and
    evaluated; on a 4K plate that is a small part of the frame.
    """
    height, width = result.shape
    rows, cols = work_maps.shape[:2]
    # Bilinear upsampling spreads a work pixel's blend half a work pixel into its neighbours.
    band_tiles = cv2.dilate((work_maps[..., -1] > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
    for top in range(0, rows, _TILE):
        for left in range(0, cols, _TILE):
            if not band_tiles[top : top + _TILE, left : left + _TILE].any():
                continue
            y0, x0 = max(top - 1, 0), max(left - 1, 0)
            y1, x1 = min(top + _TILE + 1, rows), min(left + _TILE + 1, cols)
            maps = _resize(work_maps[y0:y1, x0:x1], ((y1 - y0) * step, (x1 - x0) * step), cv2.INTER_LINEAR)
            full_top, full_left = top * step, left * step
            full_bottom, full_right = min((top + _TILE) * step, height), min((left + _TILE) * step, width)
            maps = maps[full_top - y0 * step : full_bottom - y0 * step, full_left - x0 * step : full_right - x0 * step]
            plate = guide[full_top:full_bottom, full_left:full_right]
            if plate.ndim == 2:
                plate = plate[..., None]
            slope, offset, blend = maps[..., : plate.shape[2]], maps[..., -2], maps[..., -1]
            refined = np.clip(np.einsum("hwc,hwc->hw", slope, plate) + offset, 0.0, 1.0)
            hard = result[full_top:full_bottom, full_left:full_right]
            result[full_top:full_bottom, full_left:full_right] = hard + blend * (refined - hard)


def _resize(image: np.ndarray, size_hw: tuple[int, int], interpolation: int) -> np.ndarray:
    if image.shape[:2] == tuple(size_hw):
        return image
    return cv2.resize(image, (size_hw[1], size_hw[0]), interpolation=interpolation)
