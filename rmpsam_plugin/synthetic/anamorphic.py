"""Squeezing desqueezed renders into anamorphic storage, shared by the writer and the prompts.

An anamorphic plate with pixel aspect p stores a frame of desqueezed width W in round(W / p)
columns. The shot is rendered desqueezed (square pixels, as the world looks), then squeezed once,
so plate and mattes undergo the same resampling and stay consistent.
"""

from __future__ import annotations

import cv2
import numpy as np


def squeezed_width(width: int, pixel_aspect: float) -> int:
    """Stored width of a desqueezed `width` at `pixel_aspect` (never below one pixel)."""
    if pixel_aspect <= 0:
        raise ValueError(f"pixel aspect must be positive, got {pixel_aspect}")
    return max(1, int(round(width / pixel_aspect)))


def squeeze(image: np.ndarray, stored_width: int) -> np.ndarray:
    """Resample (H, W) or (H, W, C) float32 horizontally to `stored_width` columns by area averaging.

    Area averaging is exact box filtering for integer ratios, so coverage is conserved: a matte's
    area in stored pixels times the pixel aspect equals its desqueezed area.
    """
    if image.shape[1] == stored_width:
        return image
    squeezed = cv2.resize(image, (stored_width, image.shape[0]), interpolation=cv2.INTER_AREA)
    return squeezed.reshape(image.shape[0], stored_width, *image.shape[2:])  # cv2 drops a single channel axis
