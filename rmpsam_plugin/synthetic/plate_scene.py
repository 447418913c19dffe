"""The plate style's scene: the procedural world dressed to look more like a photographed plate.

Compared with `scene.build_scene` (the procedural style, unchanged, which the held-out evaluation
shots use), a plate-style scene has

    photographic textures   the backdrop always, objects and clutter three times in four (`photos`)
    thin and holed shapes   sticks, frames, outline rings, spiky stars, perforated ellipses
                            (`shape_variants`), within the existing class vocabulary
    a moving camera         drift, handheld shake, roll and zoom (`motion.camera_move`)
    depth of field          a soft backdrop in most shots, now and then a soft object (`defocus`)
    sensor grain            on the plate only (`grain`)

Everything is still drawn from the one generator, so a seed gives the same shot bit for bit.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .defocus import defocus_sprite, defocus_texture, random_defocus
from .grain import random_grain
from .lighting import random_lighting_drift
from .motion import Pose, Trajectory, camera_move
from .photos import load_photos, random_photo_texture
from .scene import Background, Scene, SceneObject, draw_objects
from .shape_variants import random_plate_shape
from .shapes import Shape
from .sprites import Canvas, Sprite, make_sprite, sprite_size, warp_sprite
from .textures import random_texture

PHOTO_TEXTURE_PROBABILITY = 0.75
"""Chance that an object or a clutter shape is textured with a photograph rather than procedurally."""


def build_plate_scene(
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
    """Draw a plate-style scene. The options mean what they mean for `build_scene`.

    Raises `photos.PlateStyleUnavailable` (naming the install command) without scikit-image.
    """
    load_photos()  # before any drawing: a missing extra fails at once, with the fix in the message
    short_side = min(height, width)
    feature_range = (0.03 * short_side, 0.12 * short_side)
    background_blur, object_blurs = random_defocus(rng, short_side, num_objects)

    def dress(index: int, shape: Shape, trajectory: Trajectory) -> SceneObject:
        sprite = defocus_sprite(_textured_sprite(rng, shape, trajectory.max_scale_px, feature_range), object_blurs[index])
        return SceneObject(f"{shape.family}_{index + 1}", shape, sprite, trajectory, object_blurs[index])

    objects = draw_objects(rng, num_frames, height, width, num_objects, families, leave_and_return, random_plate_shape,
                           dress)
    return Scene(
        height=height,
        width=width,
        num_frames=num_frames,
        objects=objects,
        front_to_back=tuple(int(k) for k in rng.permutation(num_objects)),
        background=_photo_background(rng, height, width, background_clutter, feature_range, background_blur),
        lighting=random_lighting_drift(rng, enabled=lighting_drift),
        grain=random_grain(rng),
    )


def _textured_sprite(
    rng: np.random.Generator, shape: Shape, pixels_per_unit: float, feature_range: tuple[float, float]
) -> Sprite:
    size = sprite_size(pixels_per_unit)
    if rng.random() < PHOTO_TEXTURE_PROBABILITY:
        texture = random_photo_texture(rng, size, size)
    else:
        texture = random_texture(rng, size, size, rng.uniform(*feature_range))
    return make_sprite(shape, texture, pixels_per_unit)


def _photo_background(
    rng: np.random.Generator, height: int, width: int, clutter: int, feature_range: tuple[float, float], blur_px: float
) -> Background:
    """A photographic backdrop with `clutter` static shapes in it, defocused as a whole.

    The margin is wider than the procedural style's (a quarter of the long side) because the
    camera moves further and also rolls and zooms out.
    """
    margin = int(np.ceil(0.25 * max(height, width)))
    canvas = Canvas(0, 0, width + 2 * margin, height + 2 * margin)
    texture = random_photo_texture(rng, canvas.height, canvas.width)
    short_side = min(height, width)
    for _ in range(clutter):
        shape = random_plate_shape(rng)
        radius = rng.uniform(0.05, 0.2) * short_side
        sprite = _textured_sprite(rng, shape, radius, feature_range)
        pose = Pose(rng.uniform(0, canvas.width), rng.uniform(0, canvas.height), rng.uniform(0, 2 * np.pi), radius)
        placed = warp_sprite(sprite, pose, canvas)
        if placed is not None:
            region, patch = placed
            texture[region] = patch[..., :3] + texture[region] * (1.0 - patch[..., 3:])
    camera = camera_move(rng, 0.4 * margin, short_side)
    return Background(texture=defocus_texture(texture, blur_px), margin=margin, pan=camera, defocus_px=blur_px)
