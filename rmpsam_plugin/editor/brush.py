"""Painting a stroke into a mask: round on screen, so `pixel_aspect` times narrower in stored
pixels on an anamorphic plate. Plate coordinates have pixel centres at +0.5; OpenCV's at 0."""

from __future__ import annotations

import math

import cv2
import numpy as np

SUBPIXEL_BITS = 4


def paint_stroke(mask: np.ndarray, points, radius: float, pixel_aspect: float, erase: bool) -> np.ndarray:
    """Paint (or erase) the stroke through `points` into `mask` (uint8, in place) and return it.
    Dabs are placed at most a quarter radius apart so a fast stroke leaves no gaps."""
    value = 0 if erase else 255
    axes = (max(1, round(radius / pixel_aspect * 2**SUBPIXEL_BITS)), max(1, round(radius * 2**SUBPIXEL_BITS)))
    for x, y in _dabs(points, max(radius / 4, 0.5)):
        centre = (round((x - 0.5) * 2**SUBPIXEL_BITS), round((y - 0.5) * 2**SUBPIXEL_BITS))
        cv2.ellipse(mask, centre, axes, 0, 0, 360, value, -1, cv2.LINE_8, SUBPIXEL_BITS)
    return mask


def _dabs(points, spacing: float):
    points = [tuple(map(float, point)) for point in points]
    yield points[0]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        steps = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / spacing))
        for step in range(1, steps + 1):
            yield x0 + (x1 - x0) * step / steps, y0 + (y1 - y0) * step / steps
