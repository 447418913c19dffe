"""A synthetic scene: everything needed to render any instant of a shot, drawn from one seed.

The scene is the shot's *description* (outlines, textures, trajectories, background, lighting);
rendering it is a pure function of the scene, the time and the canvas. Keeping the two apart is
what lets the writer re-render a shot with overscan, and the tests rasterise an independent
id-buffer, from exactly the same world the in-memory arrays came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .grain import Grain
from .lighting import LightingDrift, random_lighting_drift
from .motion import (
    Pose,
    Trajectory,
    camera_pan,
    leave_and_return_trajectory,
    random_object_trajectory,
)
from .shapes import Shape, random_shape
from .sprites import Canvas, Sprite, make_sprite, sprite_size, warp_sprite
from .textures import random_texture


@dataclass(frozen=True)
class SceneObject:
    """One ground-truth instance."""

    name: str
    shape: Shape
    sprite: Sprite
    trajectory: Trajectory
    defocus_px: float = 0.0  # Gaussian sigma already applied to `sprite` (plate style), for the record


@dataclass(frozen=True)
class Background:
    """A textured plate larger than the frame by `margin` pixels on every side, panned by `pan`.

    The procedural style's pan only translates; the plate style's camera (`motion.camera_move`)
    also rolls and zooms about the frame centre.
    """

    texture: np.ndarray  # float32 (height + 2 margin, width + 2 margin, 3)
    margin: int
    pan: Trajectory
    defocus_px: float = 0.0  # Gaussian sigma already applied to `texture` (plate style), for the record


@dataclass(frozen=True)
class Scene:
    height: int
    width: int
    num_frames: int
    objects: tuple[SceneObject, ...]  # instance order (the mattes' K axis)
    front_to_back: tuple[int, ...]  # instance indices, nearest to the camera first
    background: Background
    lighting: LightingDrift
    grain: Grain | None = None  # sensor noise added to the plate (plate style), never to the mattes


def build_scene(
    rng: np.random.Generator,
    num_frames: int,
    height: int,
    width: int,
    num_objects: int,
    families: Sequence[str] | None = None,
    leave_and_return: bool = False,
    background_clutter: int = 3,
    lighting_drift: bool = True,
) -> Scene:
    """Draw a scene. See `generate_shot` for the meaning of the options."""
    short_side = min(height, width)
    feature_range = (0.03 * short_side, 0.12 * short_side)  # one range for objects and background alike

    def dress(index: int, shape: Shape, trajectory: Trajectory) -> SceneObject:
        sprite = _textured_sprite(rng, shape, trajectory.max_scale_px, feature_range)
        return SceneObject(f"{shape.family}_{index + 1}", shape, sprite, trajectory)

    objects = draw_objects(rng, num_frames, height, width, num_objects, families, leave_and_return, random_shape, dress)
    return Scene(
        height=height,
        width=width,
        num_frames=num_frames,
        objects=objects,
        front_to_back=tuple(int(k) for k in rng.permutation(num_objects)),
        background=_random_background(rng, height, width, background_clutter, feature_range),
        lighting=random_lighting_drift(rng, enabled=lighting_drift),
    )


def draw_objects(
    rng: np.random.Generator,
    num_frames: int,
    height: int,
    width: int,
    num_objects: int,
    families: Sequence[str] | None,
    leave_and_return: bool,
    shape_of: Callable[[np.random.Generator, str | None], Shape],
    dress: Callable[[int, Shape, Trajectory], SceneObject],
) -> tuple[SceneObject, ...]:
    """The instances of a scene, each a shape (`shape_of`), a size and a path, given its looks by
    `dress` (sprite, defocus...). Both styles draw in this order, so a seed's procedural scene
    stays what it was whatever the plate style adds around it."""
    short_side = min(height, width)
    leaving = int(rng.integers(num_objects)) if leave_and_return and num_objects else None
    objects = []
    for index in range(num_objects):
        family = None if families is None else families[int(rng.integers(len(families)))]
        shape = shape_of(rng, family)
        radius = rng.uniform(0.1, 0.25) * short_side
        if index == leaving:
            trajectory = leave_and_return_trajectory(rng, height, width, radius, num_frames)
        else:
            trajectory = random_object_trajectory(rng, height, width, radius)
        objects.append(dress(index, shape, trajectory))
    return tuple(objects)


def _textured_sprite(
    rng: np.random.Generator, shape: Shape, pixels_per_unit: float, feature_range: tuple[float, float]
) -> Sprite:
    size = sprite_size(pixels_per_unit)
    texture = random_texture(rng, size, size, rng.uniform(*feature_range))
    return make_sprite(shape, texture, pixels_per_unit)


def _random_background(
    rng: np.random.Generator, height: int, width: int, clutter: int, feature_range: tuple[float, float]
) -> Background:
    """A textured backdrop with `clutter` static shapes painted into it.

    The clutter shapes come from the same families and textures as the instances, so shape
    edges alone do not mark an instance either: only the prompted identity and motion do.
    """
    margin = int(np.ceil(0.1 * max(height, width)))
    canvas = Canvas(0, 0, width + 2 * margin, height + 2 * margin)
    texture = random_texture(rng, canvas.height, canvas.width, rng.uniform(*feature_range))
    short_side = min(height, width)
    for _ in range(clutter):
        shape = random_shape(rng)
        radius = rng.uniform(0.05, 0.2) * short_side
        sprite = _textured_sprite(rng, shape, radius, feature_range)
        pose = Pose(rng.uniform(0, canvas.width), rng.uniform(0, canvas.height), rng.uniform(0, 2 * np.pi), radius)
        placed = warp_sprite(sprite, pose, canvas)
        if placed is not None:
            region, patch = placed
            texture[region] = patch[..., :3] + texture[region] * (1.0 - patch[..., 3:])
    return Background(texture=texture, margin=margin, pan=camera_pan(rng, 0.5 * margin))
