"""Procedural scene-linear textures shared by objects and backgrounds.

Objects and backgrounds draw from the *same* texture distribution (same patterns, same palette
statistics, same feature sizes), so that no colour or texture statistic tells an object from the
background: the only reliable cue left is the shape boundary and its coherent motion, which is
the problem the network must solve on real plates.

All generators are vectorised (small random grids upsampled by OpenCV), so a 1 Mpixel texture
costs a few milliseconds.
"""

from __future__ import annotations

import cv2
import numpy as np


def random_texture(rng: np.random.Generator, height: int, width: int, feature_px: float) -> np.ndarray:
    """A float32 (height, width, 3) scene-linear texture.

    A pattern (noise, stripes, checker or gradient) picks between two to three palette colours,
    then multi-octave noise modulates the brightness, as dirt and shading would. `feature_px` is
    the typical size of the pattern's features in pixels; pass the same value range for objects
    and background so their statistics match.
    """
    pattern = _PATTERNS[rng.integers(len(_PATTERNS))]
    blend = pattern(rng, height, width, feature_px)
    palette = random_palette(rng, int(rng.integers(2, 4)))
    rgb = _interpolate_palette(palette, blend)
    shading = 0.65 + 0.7 * fbm_noise(rng, height, width, feature_px * rng.uniform(0.5, 2.0), octaves=4)
    return (rgb * shading[..., None]).astype(np.float32)


def random_palette(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` scene-linear colours, float32 (count, 3).

    Drawn in a display-like space (uniform hue, any saturation, value 0.1..0.95) and linearised
    with a 2.2 power, which gives the dark-heavy value distribution of real linear plates.
    """
    hue = rng.uniform(0.0, 1.0, count)
    saturation = rng.uniform(0.0, 0.9, count)
    value = rng.uniform(0.1, 0.95, count)
    display = _hsv_to_rgb(hue, saturation, value)
    return (display ** 2.2).astype(np.float32)


def fbm_noise(rng: np.random.Generator, height: int, width: int, feature_px: float, octaves: int = 4) -> np.ndarray:
    """Fractal value noise in [0, 1], float32 (height, width).

    Octave i is a random grid with cells of `feature_px / 2**i` pixels, upsampled bicubically
    and weighted `0.5**i`; the sum is rescaled to span [0, 1].
    """
    total = np.zeros((height, width), np.float32)
    for octave in range(octaves):
        cell = max(feature_px / 2**octave, 2.0)
        total += 0.5**octave * _upsampled_grid(rng, height, width, cell)
    low, high = float(total.min()), float(total.max())
    return (total - low) / max(high - low, 1e-6)


def _upsampled_grid(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    rows = int(np.ceil(height / cell)) + 3
    cols = int(np.ceil(width / cell)) + 3
    grid = rng.standard_normal((rows, cols)).astype(np.float32)
    big = cv2.resize(grid, (int(round(cols * cell)), int(round(rows * cell))), interpolation=cv2.INTER_CUBIC)
    top = int(rng.integers(0, max(big.shape[0] - height, 0) + 1))
    left = int(rng.integers(0, max(big.shape[1] - width, 0) + 1))
    return big[top : top + height, left : left + width]


def _rotated_coordinates(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates rotated by a random angle: (along, across), each float32 (height, width)."""
    angle = rng.uniform(0.0, np.pi)
    y, x = np.indices((height, width), dtype=np.float32)
    cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return x * cos + y * sin, -x * sin + y * cos


def _noise_pattern(rng: np.random.Generator, height: int, width: int, feature_px: float) -> np.ndarray:
    return fbm_noise(rng, height, width, feature_px, octaves=int(rng.integers(2, 6)))


def _stripes_pattern(rng: np.random.Generator, height: int, width: int, feature_px: float) -> np.ndarray:
    """Stripes of random period and direction, bent by noise so they read as fabric or wood."""
    along, _ = _rotated_coordinates(rng, height, width)
    period = feature_px * rng.uniform(0.5, 1.5)
    bend = (fbm_noise(rng, height, width, feature_px * 3, octaves=2) - 0.5) * period * rng.uniform(0.0, 2.0)
    wave = np.sin((along + bend) * np.float32(2 * np.pi / period))
    sharpness = rng.uniform(1.0, 6.0)
    return (0.5 + 0.5 * np.tanh(sharpness * wave) / np.tanh(sharpness)).astype(np.float32)


def _checker_pattern(rng: np.random.Generator, height: int, width: int, feature_px: float) -> np.ndarray:
    """A rotated checkerboard with slightly soft edges (a printed pattern, not a vector one)."""
    along, across = _rotated_coordinates(rng, height, width)
    cell = feature_px * rng.uniform(0.5, 1.5)
    parity = (np.floor(along / cell) + np.floor(across / cell)) % 2
    return cv2.GaussianBlur(parity.astype(np.float32), (0, 0), sigmaX=max(cell * 0.04, 0.5))


def _gradient_pattern(rng: np.random.Generator, height: int, width: int, feature_px: float) -> np.ndarray:
    """A linear ramp across the texture with a little low-frequency noise."""
    along, _ = _rotated_coordinates(rng, height, width)
    ramp = (along - along.min()) / max(float(np.ptp(along)), 1e-6)
    wobble = fbm_noise(rng, height, width, feature_px * 2, octaves=2)
    return np.clip(0.8 * ramp + 0.2 * wobble, 0.0, 1.0)


_PATTERNS = (_noise_pattern, _stripes_pattern, _checker_pattern, _gradient_pattern)


def _interpolate_palette(palette: np.ndarray, blend: np.ndarray) -> np.ndarray:
    """Piecewise-linear map of `blend` in [0, 1] through the palette colours in order, float32 (..., 3)."""
    stops = np.linspace(0.0, 1.0, len(palette))
    return np.stack([np.interp(blend, stops, palette[:, c]).astype(np.float32) for c in range(3)], axis=-1)


def _hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    sector = np.floor(hue * 6.0)
    fraction = hue * 6.0 - sector
    p = value * (1 - saturation)
    q = value * (1 - fraction * saturation)
    t = value * (1 - (1 - fraction) * saturation)
    choices = [
        np.stack([value, t, p], -1),
        np.stack([q, value, p], -1),
        np.stack([p, value, t], -1),
        np.stack([p, q, value], -1),
        np.stack([t, p, value], -1),
        np.stack([value, p, q], -1),
    ]
    sector = sector.astype(np.int64) % 6
    return np.choose(sector[:, None], choices)
