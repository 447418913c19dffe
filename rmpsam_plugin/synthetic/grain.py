"""Sensor grain for the plate style: signal-dependent noise on the plate, never on the mattes.

Every real plate is noisy, and a network trained on clean renders reads grain as texture or edges.
The model is the usual photon-transfer one: per pixel and channel a zero-mean Gaussian with
variance `read**2 + shot * value` (read noise in the blacks, shot noise growing with the light),
partly shared between channels (luma grain) and slightly blurred (grain larger than a pixel, as
after demosaicing or on film). The matte is the truth behind the noise, so it gets none.

The noise is a hash of (seed, frame, display-window pixel, channel), not a draw from a generator
over the canvas: a re-render with overscan (`shot_writer`) gets the very same grain in the
shared region, and a new frame gets new grain.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .sprites import Canvas

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Grain:
    """noise = sqrt(read**2 + shot * max(value, 0)) * (sqrt(1 - chroma) * luma + sqrt(chroma) * per-channel)."""

    key: int  # 63-bit hash key drawn from the shot's seed
    read: float  # standard deviation in the blacks (scene-linear)
    shot: float  # variance per unit of scene-linear value
    chroma: float  # 0: the same noise in every channel, 1: independent channels
    size_px: float  # Gaussian blur of the noise field (0: one pixel grain)


def random_grain(rng: np.random.Generator) -> Grain:
    """From a clean stock to a pushed one: about 2..15% noise at mid-grey (0.18)."""
    return Grain(
        key=int(rng.integers(1 << 62)),
        read=rng.uniform(0.001, 0.008),
        shot=float(np.exp(rng.uniform(np.log(2e-4), np.log(4e-3)))),
        chroma=rng.uniform(0.2, 0.8),
        size_px=float(rng.choice([0.0, rng.uniform(0.4, 0.9)])),
    )


def add_grain(rgb: np.ndarray, grain: Grain, frame_index: int, canvas: Canvas) -> np.ndarray:
    """`rgb` (H, W, 3, scene-linear, on `canvas`) plus the grain of frame `frame_index`, float32."""
    pad = int(np.ceil(3.0 * grain.size_px))
    area = Canvas(canvas.x0 - pad, canvas.y0 - pad, canvas.width + 2 * pad, canvas.height + 2 * pad)
    fields = [_unit_noise(grain, frame_index, area, channel) for channel in range(4)]
    luma, chroma = np.float32(np.sqrt(1.0 - grain.chroma)), np.float32(np.sqrt(grain.chroma))
    noise = np.stack([luma * fields[0] + chroma * fields[1 + c] for c in range(3)], axis=2)
    if grain.size_px > 0:
        kernel = cv2.getGaussianKernel(2 * pad + 1, grain.size_px).astype(np.float32)
        noise = cv2.sepFilter2D(noise, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT_101)
        noise /= np.float32(np.sum(kernel**2))  # back to unit variance: 2-D gain is (sum k^2)^2, std its root
    noise = noise[pad : pad + canvas.height, pad : pad + canvas.width]
    sigma = np.sqrt(np.float32(grain.read**2) + np.float32(grain.shot) * np.maximum(rgb, 0.0))
    return (rgb + sigma * noise).astype(np.float32)


def _unit_noise(grain: Grain, frame_index: int, area: Canvas, channel: int) -> np.ndarray:
    """Standard normal float32 (H, W) on `area`, a pure function of (key, frame, pixel, channel)."""
    y, x = np.indices((area.height, area.width), dtype=np.int64)
    seed = (grain.key * 0x9E3779B97F4A7C15 + frame_index * 0xD1B54A32D192ED03 + channel * 0x8CB92BA72F3D8DD7) & _MASK64
    with np.errstate(over="ignore"):
        z = ((x + area.x0).astype(np.uint64) * np.uint64(0xA24BAED4963EE407)
             ^ (y + area.y0).astype(np.uint64) * np.uint64(0x9FB21C651E98DF25)) + np.uint64(seed)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    high = ((z >> np.uint64(32)).astype(np.float64) + 0.5) / 2.0**32
    low = (z & np.uint64(0xFFFFFFFF)).astype(np.float64) / 2.0**32
    return (np.sqrt(-2.0 * np.log(high)) * np.cos(2.0 * np.pi * low)).astype(np.float32)
