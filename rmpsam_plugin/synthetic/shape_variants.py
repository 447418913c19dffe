"""Thin and holed variants of the shape families, for the plate style (`generate_shot(style="plate")`).

Real mattes are hardest where the object is thin (poles, cables, limbs, spikes) or has holes that
show the background through it (fences, handles, frames). The procedural families are all chunky
and only `ring` has a hole. The variants here stay inside the existing families, so the class
vocabulary (`CLASS_NAMES`, whose length is baked into shipped weights) is unchanged:

    rectangle  a stick (a few pixels wide) or a frame (a rectangle with a rectangular hole)
    ring       a thin outline ring
    star       spikes a few pixels wide at the tips and narrow at the root
    ellipse    perforated by one to three small round holes

Families without a variant (polygon, blob) are drawn as usual.
"""

from __future__ import annotations

import numpy as np

from .shapes import CLASS_NAMES, Shape, random_shape, shape_from_contours

VARIANT_PROBABILITY = 0.45
"""Chance that a family with a variant is drawn thin or holed in the plate style."""

_HOLE_POINTS = 64


def random_plate_shape(rng: np.random.Generator, family: str | None = None) -> Shape:
    """Like `random_shape`, but a family with a thin or holed variant gets it with VARIANT_PROBABILITY."""
    if family is None:
        family = CLASS_NAMES[rng.integers(len(CLASS_NAMES))]
    builders = _VARIANTS.get(family, ())
    if not builders or rng.random() >= VARIANT_PROBABILITY:
        return random_shape(rng, family)
    builder = builders[int(rng.integers(len(builders)))]
    return shape_from_contours(family, builder(rng))


def _box(half_x: float, half_y: float) -> np.ndarray:
    return np.array([[-half_x, -half_y], [half_x, -half_y], [half_x, half_y], [-half_x, half_y]], np.float64)


def _circle(centre: np.ndarray, radius: float) -> np.ndarray:
    angle = np.linspace(0.0, 2.0 * np.pi, _HOLE_POINTS, endpoint=False)
    return centre + radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _stick(rng: np.random.Generator) -> list[np.ndarray]:
    """A bar 2..8% as wide as it is long: 2..8 px wide on a 50 px object."""
    return [_box(1.0, rng.uniform(0.02, 0.08))]


def _frame(rng: np.random.Generator) -> list[np.ndarray]:
    """A picture frame: the border is 6..18% of the long side, the rest is hole."""
    aspect = rng.uniform(0.5, 1.0)
    border = rng.uniform(0.06, 0.18) * aspect
    return [_box(1.0, aspect), _box(1.0 - border, aspect - border)[::-1]]


def _outline_ring(rng: np.random.Generator) -> list[np.ndarray]:
    """An annulus whose band is 5..16% of the radius; the hole stays inside the band."""
    angle = np.linspace(0.0, 2.0 * np.pi, 256, endpoint=False)
    aspect = rng.uniform(0.6, 1.0)
    outer = np.stack([np.cos(angle), aspect * np.sin(angle)], axis=1)
    hole_scale = rng.uniform(0.84, 0.95)
    hole_offset = rng.uniform(-0.25, 0.25, 2) * (1.0 - hole_scale) * aspect
    return [outer, (outer * hole_scale + hole_offset)[::-1]]


def _spiky_star(rng: np.random.Generator) -> list[np.ndarray]:
    """Three to seven long spikes on a small hub (inner radius 6..18% of the tips)."""
    points = int(rng.integers(3, 8))
    inner = rng.uniform(0.06, 0.18)
    angle = np.arange(2 * points) * np.pi / points + rng.uniform(0, np.pi)
    radius = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return [np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)]


def _perforated_ellipse(rng: np.random.Generator) -> list[np.ndarray]:
    """An ellipse with one to three round holes, spaced on a smaller ellipse so they never touch."""
    angle = np.linspace(0.0, 2.0 * np.pi, 256, endpoint=False)
    aspect = rng.uniform(0.45, 1.0)
    contours = [np.stack([np.cos(angle), aspect * np.sin(angle)], axis=1)]
    holes = int(rng.integers(1, 4))
    start = rng.uniform(0, 2 * np.pi)
    for index in range(holes):
        spot = start + 2 * np.pi * index / holes
        distance = 0.0 if holes == 1 else 0.5
        centre = np.array([distance * np.cos(spot), distance * aspect * np.sin(spot)])
        contours.append(_circle(centre, rng.uniform(0.1, 0.22) * aspect)[::-1])
    return contours


_VARIANTS = {
    "rectangle": (_stick, _frame),
    "ring": (_outline_ring,),
    "star": (_spiky_star,),
    "ellipse": (_perforated_ellipse,),
}
