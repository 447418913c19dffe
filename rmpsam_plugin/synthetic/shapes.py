"""Procedural shape families: the "classes" of the synthetic world.

Each family draws an outline in object-local units (the farthest outline point lies at radius 1
from the object's origin), as one or more closed polygons filled with the even-odd rule so that
a ring is an outer contour plus a hole. Outlines are dense polygons, not analytic curves, so one
rasteriser (`sprites.py`) and one id-buffer renderer (`render.py`) serve every family and agree
with each other by construction.

The families differ in topology (ring), convexity (star, polygon), curvature (ellipse, blob) and
corners (rectangle, polygon, star), which is what a segmentation network has to learn: they are
deliberately not distinguishable by colour, since every shape gets the same texture statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("ellipse", "rectangle", "polygon", "star", "ring", "blob")
"""The synthetic vocabulary; a shape's class id is its index here."""

_OUTLINE_POINTS = 256  # dense enough that a 600 px object shows no facets on its curves


@dataclass(frozen=True)
class Shape:
    """A filled outline in object-local units.

    `contours` are float32 (N, 2) arrays of (x, y) points, y down like image rows; filling all of
    them with the even-odd rule gives the shape.
    """

    family: str
    contours: tuple[np.ndarray, ...]

    @property
    def class_id(self) -> int:
        return CLASS_NAMES.index(self.family)


def random_shape(rng: np.random.Generator, family: str | None = None) -> Shape:
    """Draw a shape of `family` (a random family when None), normalised to outer radius 1."""
    if family is None:
        family = CLASS_NAMES[rng.integers(len(CLASS_NAMES))]
    if family not in _BUILDERS:
        raise ValueError(f"unknown shape family {family!r}; known: {', '.join(CLASS_NAMES)}")
    return shape_from_contours(family, _BUILDERS[family](rng))


def shape_from_contours(family: str, contours: list[np.ndarray]) -> Shape:
    """A `family` shape from even-odd contours in any units, normalised to outer radius 1.

    Shared with the plate style's thin and holed variants (`shape_variants.py`), which draw their
    own contours but must land in the same units and vocabulary.
    """
    radius = max(float(np.hypot(c[:, 0], c[:, 1]).max()) for c in contours)
    return Shape(family, tuple((c / radius).astype(np.float32) for c in contours))


def _angles(count: int = _OUTLINE_POINTS) -> np.ndarray:
    return np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)


def _polar(radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def _ellipse(rng: np.random.Generator) -> list[np.ndarray]:
    angle = _angles()
    aspect = rng.uniform(0.35, 1.0)
    return [np.stack([np.cos(angle), aspect * np.sin(angle)], axis=1)]


def _rectangle(rng: np.random.Generator) -> list[np.ndarray]:
    """A rectangle with optionally rounded corners (a superellipse with a high exponent)."""
    aspect = rng.uniform(0.3, 1.0)
    exponent = rng.choice([40.0, rng.uniform(6.0, 12.0)])  # sharp or visibly rounded corners
    angle = _angles()
    cos, sin = np.cos(angle), np.sin(angle)
    x = np.sign(cos) * np.abs(cos) ** (2.0 / exponent)
    y = np.sign(sin) * np.abs(sin) ** (2.0 / exponent) * aspect
    return [np.stack([x, y], axis=1)]


def _polygon(rng: np.random.Generator) -> list[np.ndarray]:
    """An irregular polygon, star-shaped about its origin so it never self-intersects."""
    corners = int(rng.integers(3, 9))
    spacing = 2.0 * np.pi / corners
    angle = np.sort(np.arange(corners) * spacing + rng.uniform(-0.35, 0.35, corners) * spacing)
    radius = rng.uniform(0.55, 1.0, corners)
    return [_polar(radius, angle)]


def _star(rng: np.random.Generator) -> list[np.ndarray]:
    points = int(rng.integers(4, 9))
    inner = rng.uniform(0.3, 0.65)
    angle = np.arange(2 * points) * np.pi / points + rng.uniform(0, np.pi)
    radius = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return [_polar(radius, angle)]


def _ring(rng: np.random.Generator) -> list[np.ndarray]:
    """An annulus (possibly elliptical, possibly off-centre hole): the one family with a hole."""
    angle = _angles()
    aspect = rng.uniform(0.6, 1.0)
    outer = np.stack([np.cos(angle), aspect * np.sin(angle)], axis=1)
    hole_scale = rng.uniform(0.35, 0.7)
    hole_offset = rng.uniform(-0.1, 0.1, 2)
    hole = outer * hole_scale + hole_offset
    return [outer, hole[::-1]]


def _blob(rng: np.random.Generator) -> list[np.ndarray]:
    """A Gielis superformula outline with a smooth random radial wobble on top."""
    angle = _angles()
    m = float(rng.integers(2, 8))
    n1, n2, n3 = rng.uniform(2.0, 8.0), rng.uniform(1.0, 8.0), rng.uniform(1.0, 8.0)
    term = (np.abs(np.cos(m * angle / 4)) ** n2 + np.abs(np.sin(m * angle / 4)) ** n3)
    radius = term ** (-1.0 / n1)
    radius = radius / radius.max()
    radius = 0.45 + 0.55 * radius  # keep a solid core so the blob never pinches to a point
    for harmonic in range(2, 5):
        radius = radius * (1.0 + rng.uniform(0.0, 0.12) * np.cos(harmonic * angle + rng.uniform(0, 2 * np.pi)))
    return [_polar(radius, angle)]


_BUILDERS = {
    "ellipse": _ellipse,
    "rectangle": _rectangle,
    "polygon": _polygon,
    "star": _star,
    "ring": _ring,
    "blob": _blob,
}
