"""Depth of field for the plate style: a defocused background, and now and then a defocused object.

A defocused object is blurred *in its sprite*: colour and coverage are premultiplied RGBA, so
blurring both with one kernel gives a soft edge whose coverage is exactly the weight with which
the object's colour enters the plate. The renderer's compositing then makes the matte match the
plate pixel for pixel, as it does for motion blur, with no separate matte path to keep in step.

Blur sizes are in pixels at the sprite's resolution (the object's largest size in the shot); as
the object shrinks the blur shrinks with it, close enough to a real lens over a few frames.
"""

from __future__ import annotations

import cv2
import numpy as np

from .sprites import Sprite


def random_defocus(rng: np.random.Generator, short_side: int, num_objects: int) -> tuple[float, tuple[float, ...]]:
    """Per shot: (background blur, blur per object), Gaussian sigmas in pixels.

    Two shots in three have a soft background (0.4..1.2% of the short side: 1..3 px at 256);
    an object is out of focus one time in four (0.3..1% of the short side).
    """
    background = rng.uniform(0.004, 0.012) * short_side if rng.random() < 2 / 3 else 0.0
    objects = tuple(rng.uniform(0.003, 0.01) * short_side if rng.random() < 0.25 else 0.0 for _ in range(num_objects))
    return background, objects


def defocus_sprite(sprite: Sprite, sigma_px: float) -> Sprite:
    """The sprite blurred by a Gaussian of `sigma_px`, padded so the blur is not cut at its edge.

    The padding is symmetric, so the sprite's centre (and with it the object's pose) is unchanged.
    """
    if sigma_px <= 0:
        return sprite
    pad = int(np.ceil(3.0 * sigma_px)) + 1
    padded = cv2.copyMakeBorder(sprite.rgba, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    blurred = cv2.GaussianBlur(padded, (0, 0), sigmaX=sigma_px, borderType=cv2.BORDER_CONSTANT)
    return Sprite(rgba=np.ascontiguousarray(blurred, np.float32), pixels_per_unit=sprite.pixels_per_unit)


def defocus_texture(texture: np.ndarray, sigma_px: float) -> np.ndarray:
    """A background texture blurred by `sigma_px` (mirrored at its border, as the renderer samples it)."""
    if sigma_px <= 0:
        return texture
    return cv2.GaussianBlur(texture, (0, 0), sigmaX=sigma_px, borderType=cv2.BORDER_REFLECT_101)
