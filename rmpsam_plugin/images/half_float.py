"""Half <-> single-precision float conversions at memory speed, for the frame-sized planes a job
reads and writes.

numpy converts float16 in software, value by value: about 10 ms per 2K plane either way on the
development machine (numpy 2.4), so a half plate read to float, two mattes stored as half and the
Cryptomatte reading them back cost more CPU than the refinement of those mattes. OpenCV converts
with the CPU's F16C instructions in about a sixth of that (`rmpsam-matte bench pipeline
--breakdown` shows the steps it serves). Both round to nearest even and give the same bits for
every half value and every finite float or infinity (`tests/io/test_half_float.py` compares them
over all 65,536 half values and a sweep of the float range); only NaN payloads may differ (a NaN
stays a NaN), and a plate's NaNs are replaced right after reading anyway.

The conversion is OpenCV's `multiply` by one with an output depth: multiplying by one is exact
(it keeps -0.0, which adding zero would not), and a single-channel view is passed so the scalar
is not applied per channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# OpenCV reads a 1x1 to 1x4 array passed where a scalar may stand as that scalar; arrays this
# small cost nothing in numpy.
_OPENCV_FROM = 64


def to_half(values: np.ndarray) -> np.ndarray:
    """float32 (any shape) -> a new float16 array of the same shape, as `values.astype(np.float16)`."""
    values = np.asarray(values, dtype=np.float32, order="C")
    return _converted(values, cv2.CV_16F, np.float16).reshape(values.shape)


def to_float(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """float16 (H, W) -> float32, into `out` (a C-contiguous float32 (H, W)) if given. A crop of
    a plane is converted where it lies: OpenCV takes rows that are apart in memory."""
    if values.ndim != 2 or values.strides[-1] != values.itemsize:
        raise ValueError(f"expected an (H, W) plane with contiguous rows, got shape {values.shape}")
    if out is None:
        return _converted(values, cv2.CV_32F, np.float32)
    if out.shape != values.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        # OpenCV would write a new array and leave `out` as it was
        raise ValueError(f"out must be a C-contiguous float32 {values.shape} array")
    if values.size < _OPENCV_FROM:
        out[...] = values
        return out
    return cv2.multiply(values, 1.0, dst=out, dtype=cv2.CV_32F)


def interleaved_float(planes: Sequence[np.ndarray]) -> np.ndarray:
    """(H, W) float16 planes -> one (H, W, len(planes)) float32 array, channels side by side."""
    height, width = planes[0].shape
    bits = [np.ascontiguousarray(plane).view(np.uint16) for plane in planes]
    interleaved = cv2.merge(bits) if len(bits) > 1 else bits[0]  # OpenCV interleaves at memory speed
    return _converted(interleaved.view(np.float16), cv2.CV_32F, np.float32).reshape(height, width, len(planes))


def _converted(values: np.ndarray, depth: int, dtype: type) -> np.ndarray:
    """`values` converted to OpenCV's `depth`, of the same size; callers give it their shape back."""
    if values.size < _OPENCV_FROM:
        return values.astype(dtype)
    rows = values.shape[0] if values.ndim >= 2 else 1
    return cv2.multiply(values.reshape(rows, -1), 1.0, dtype=depth)
