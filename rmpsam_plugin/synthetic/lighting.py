"""Slow lighting drift: exposure and white balance wandering over the shot.

Real plates breathe (clouds, auto-exposure, flicker of practicals); a propagation scheme that
keys on absolute colour would fail on them, so the synthetic shots drift too. The drift is a
per-frame gain on the whole rendered image: it changes the plate, never the mattes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LightingDrift:
    """gain(t)[c] = 2 ** (stops * sin(2 pi t / period + phase)) * exp(tint[c] * sin(2 pi t / tint_period[c] + tint_phase[c]))."""

    stops: float
    period: float
    phase: float
    tint: np.ndarray  # (3,)
    tint_period: np.ndarray  # (3,)
    tint_phase: np.ndarray  # (3,)

    def gain(self, t: float) -> np.ndarray:
        """Per-channel float32 (3,) multiplier at time `t` (frames)."""
        exposure = 2.0 ** (self.stops * np.sin(2 * np.pi * t / self.period + self.phase))
        tint = np.exp(self.tint * np.sin(2 * np.pi * t / self.tint_period + self.tint_phase))
        return (exposure * tint).astype(np.float32)


def random_lighting_drift(rng: np.random.Generator, enabled: bool = True) -> LightingDrift:
    """Up to +-0.35 stop of exposure and +-6% per channel of tint, over 24..96-frame periods."""
    scale = 1.0 if enabled else 0.0
    return LightingDrift(
        stops=scale * rng.uniform(0.0, 0.35),
        period=rng.uniform(24.0, 96.0),
        phase=rng.uniform(0, 2 * np.pi),
        tint=scale * rng.uniform(0.0, 0.06, 3),
        tint_period=rng.uniform(24.0, 96.0, 3),
        tint_phase=rng.uniform(0, 2 * np.pi, 3),
    )
