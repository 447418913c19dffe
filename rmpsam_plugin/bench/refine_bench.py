"""What edge refinement buys and costs: a drawn plate whose true coverage is known, refined from
logits at the network's stride, against bilinear upsampling of the same logits in the same run.

The plate is a textured orange shape (an ellipse and a slanted bar) over a textured blue
background, drawn at 4x supersampling. The logits are the true coverage averaged down by the
stride, as a network that is right at its own resolution would give them, so everything between
the result and the truth is upsampling error: the staircase and blur the refinement removes.
The shape is drawn at two sizes, because the refinement's cost follows the length of the edge
and the part of the frame around it, not the frame.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import cv2
import numpy as np

from rmpsam_plugin.refine.edges import refine_edges


@dataclass(frozen=True)
class DrawnPlate:
    truth: np.ndarray  # (H, W) true coverage
    plate: np.ndarray  # (H, W, 3) scene-linear float32
    logits: np.ndarray  # (H / stride, W / stride)


def draw_plate(height: int, width: int, stride: int, scale: float = 1.0, seed: int = 0,
               supersampling: int = 4) -> DrawnPlate:
    """The drawn plate; `scale` 1.0 covers about a quarter of the frame, 0.4 about a twentieth."""
    ys, xs = (np.mgrid[0:height * supersampling, 0:width * supersampling] + 0.5) / supersampling
    xs, ys = xs / width * 1024, ys / height * 540  # the shape is laid out on a 1024x540 frame
    cx, cy = 512 + (430 - 512) * scale, 270 + (260 - 270) * scale
    ellipse = ((xs - cx) / (260 * scale)) ** 2 + ((ys - cy) / (170 * scale)) ** 2 < 1
    bar_x, bar_y = 512 + (700 - 512) * scale, 270 + (300 - 270) * scale
    bar = (np.abs(xs - bar_x) < 90 * scale) & (np.abs(ys - bar_y - 0.4 * (xs - bar_x)) < 60 * scale)
    truth = (ellipse | bar).reshape(height, supersampling, width, supersampling).mean(axis=(1, 3)).astype(np.float32)
    rng = np.random.default_rng(seed)

    def texture() -> np.ndarray:
        return 0.8 + 0.3 * cv2.GaussianBlur(rng.random((height, width), dtype=np.float32), (0, 0), 3)[..., None]

    foreground, background = np.array([0.8, 0.35, 0.2], np.float32), np.array([0.1, 0.2, 0.45], np.float32)
    plate = truth[..., None] * foreground * texture() + (1 - truth[..., None]) * background * texture()
    coarse = cv2.resize(truth, (width // stride, height // stride), interpolation=cv2.INTER_AREA)
    coarse = np.clip(coarse, 1e-4, 1 - 1e-4)
    return DrawnPlate(truth, plate.astype(np.float32), np.log(coarse / (1 - coarse)).astype(np.float32))


def bilinear_matte(logits: np.ndarray, height: int, width: int) -> np.ndarray:
    """The baseline: logits resized to the plate, then the sigmoid."""
    upsampled = cv2.resize(logits, (width, height), interpolation=cv2.INTER_LINEAR)
    return (1.0 / (1.0 + np.exp(-upsampled))).astype(np.float32)


def edge_band(truth: np.ndarray, stride: int) -> np.ndarray:
    """Pixels within a stride of the true edge: where upsampling errs."""
    soft = ((truth > 0) & (truth < 1)).astype(np.uint8)
    return cv2.dilate(soft, np.ones((2 * stride + 1, 2 * stride + 1), np.uint8)) > 0


@dataclass(frozen=True)
class RefineRow:
    name: str
    milliseconds: float
    band_error: float  # mean |matte - truth| in the edge band
    iou: float  # of the 0.5 mattes


def _median_ms(function, repeats: int) -> tuple[float, np.ndarray]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def _row(name: str, matte: np.ndarray, milliseconds: float, drawn: DrawnPlate, band: np.ndarray) -> RefineRow:
    inside, truth = matte > 0.5, drawn.truth > 0.5
    return RefineRow(name, milliseconds, float(np.abs(matte - drawn.truth)[band].mean()),
                     float((inside & truth).sum() / (inside | truth).sum()))


def measure_refinement(height: int, width: int, stride: int, scales: tuple[float, ...], repeats: int) -> list[RefineRow]:
    rows = []
    for scale in scales:
        drawn = draw_plate(height, width, stride, scale)
        band = edge_band(drawn.truth, stride)
        share = f"object over {drawn.truth.mean():.0%} of the frame"
        bilinear_ms, bilinear = _median_ms(lambda: bilinear_matte(drawn.logits, height, width), repeats)
        refined_ms, refined = _median_ms(lambda: refine_edges(drawn.logits, drawn.plate, logits=True), repeats)
        rows.append(_row(f"bilinear upsampling, {share}", bilinear, bilinear_ms, drawn, band))
        rows.append(_row(f"edge refinement, {share}", refined, refined_ms, drawn, band))
    return rows
