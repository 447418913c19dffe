"""OpenCV's half <-> float conversions give numpy's bits (`images.half_float`)."""

import numpy as np
import pytest

from rmpsam_plugin.images.half_float import interleaved_float, to_float, to_half


def test_every_half_value_converts_to_numpys_float():
    halves = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(np.float16).reshape(256, 256)
    expected = halves.astype(np.float32)
    converted = to_float(halves)
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(converted), nan)
    assert np.array_equal(converted[~nan].view(np.uint32), expected[~nan].view(np.uint32))  # -0.0 and inf included


def test_floats_round_to_numpys_half_across_the_range():
    """Every 509th float32 bit pattern, both signs: subnormal halves, halfway cases, values past
    the largest half (65504, rounding to infinity from 65520)."""
    patterns = np.arange(0, 2**32 - 1, 509, dtype=np.uint64).astype(np.uint32)
    values = patterns.view(np.float32)
    values = values[~np.isnan(values)]
    edges = np.array([65504.0, 65519.996, 65520.0, 2.0**-24, 2.0**-25, 3 * 2.0**-26, -0.0, 0.5 + 2.0**-12],
                     np.float32)
    values = np.concatenate([values, edges, -edges])
    with np.errstate(over="ignore"):  # numpy warns where a value rounds to infinity
        expected = values.astype(np.float16)
    assert np.array_equal(to_half(values).view(np.uint16), expected.view(np.uint16))


def test_shapes_crops_and_interleaving():
    rng = np.random.default_rng(0)
    plane = rng.random((37, 53), dtype=np.float32) * 3 - 1
    assert to_half(plane).shape == (37, 53) and to_half(plane[None]).shape == (1, 37, 53)
    assert to_half(np.float32(0.25)).shape == () and to_half(np.zeros((0, 4), np.float32)).shape == (0, 4)
    halves = plane.astype(np.float16)
    crop = halves[3:30, 5:41]  # rows apart in memory
    out = np.empty(crop.shape, np.float32)
    assert to_float(crop, out=out) is not None
    np.testing.assert_array_equal(out, crop.astype(np.float32))
    with pytest.raises(ValueError, match="contiguous rows"):
        to_float(halves[:, ::2])
    for unusable in (np.empty((27, 36), np.float64), np.empty((27, 37), np.float32), np.empty((36, 27), np.float32).T):
        with pytest.raises(ValueError, match="C-contiguous float32"):
            to_float(crop, out=unusable)
    planes = [halves, halves * 2, -halves]
    np.testing.assert_array_equal(interleaved_float(planes), np.dstack(planes).astype(np.float32))
    np.testing.assert_array_equal(interleaved_float([crop]), crop.astype(np.float32)[..., None])
