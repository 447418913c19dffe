"""Objects as premultiplied RGBA sprites, rasterised once and warped per sub-frame.

Rasterising an outline with exact anti-aliasing for every sub-frame of every frame would dominate
the generator's cost. Instead each object is rasterised once, supersampled, at the largest size
it reaches in the shot (so warping only ever shrinks it, by at most the shot's scale range), with
its texture attached in object space (so the texture moves, turns and scales with the object).
Each sub-frame is then one bilinear `cv2.warpAffine` of a small RGBA patch.

Premultiplied colour is what makes the bilinear warp correct at the edges: interpolating
(colour * coverage, coverage) never bleeds the texture's outside colour into the matte's fringe.

Pixel convention (OpenCV's): the centre of pixel (row i, column j) is the point (x=j, y=i).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .motion import Pose
from .shapes import Shape

_SUPERSAMPLE = 8  # 64 coverage samples per pixel...
_MAX_SUPERSAMPLED_SIDE = 4096  # ...fewer for sprites so large (4K plates) that the buffer would pass 16 MB
_SUBPIXEL_BITS = 8  # cv2.fillPoly vertex precision: 1/256 pixel


@dataclass(frozen=True)
class Sprite:
    """An object's look in object space.

    `rgba` is float32 (S, S, 4): premultiplied scene-linear colour and coverage. Object-local
    point q (outline units) sits at sprite pixel `centre + pixels_per_unit * q`.
    """

    rgba: np.ndarray
    pixels_per_unit: float

    @property
    def centre(self) -> float:
        return (self.rgba.shape[0] - 1) / 2.0


@dataclass(frozen=True)
class Canvas:
    """The pixel grid being rendered, in display-window pixels.

    The plain frame is `Canvas(0, 0, width, height)`; overscan grows it on every side with a
    negative origin, so the same scene renders identically in the shared region.
    """

    x0: int
    y0: int
    width: int
    height: int


def make_sprite(shape: Shape, texture: np.ndarray, pixels_per_unit: float) -> Sprite:
    """Rasterise `shape` at `pixels_per_unit`, textured with the (S, S, 3) `texture`.

    The texture must be square with side `sprite_size(pixels_per_unit)`.
    """
    size = texture.shape[0]
    centre = (size - 1) / 2.0
    supersample = int(np.clip(_MAX_SUPERSAMPLED_SIDE // size, 2, _SUPERSAMPLE))
    fine = np.zeros((size * supersample, size * supersample), np.uint8)
    polygons = [
        _fixed_point((centre + pixels_per_unit * contour + 0.5) * supersample - 0.5) for contour in shape.contours
    ]
    cv2.fillPoly(fine, polygons, 255, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    coverage = cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    rgba = np.concatenate([texture * coverage[..., None], coverage[..., None]], axis=2)
    return Sprite(rgba=np.ascontiguousarray(rgba, np.float32), pixels_per_unit=pixels_per_unit)


def sprite_size(pixels_per_unit: float) -> int:
    """Side of a sprite whose outline (radius 1 unit) fits with a 2-pixel margin."""
    return int(np.ceil(2.0 * pixels_per_unit)) + 5


def object_to_canvas(pose: Pose, canvas: Canvas) -> np.ndarray:
    """2x3 affine map from object-local units to canvas pixels at `pose`."""
    cos, sin = np.cos(pose.angle), np.sin(pose.angle)
    linear = pose.scale_px * np.array([[cos, -sin], [sin, cos]])
    offset = np.array([pose.x - canvas.x0, pose.y - canvas.y0])
    return np.hstack([linear, offset[:, None]])


def warp_sprite(sprite: Sprite, pose: Pose, canvas: Canvas) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The sprite placed at `pose`: (canvas slices, float32 RGBA patch), or None when off-canvas.

    Only the sprite's bounding box is warped, so cost follows the object's size, not the frame's.
    """
    to_canvas = object_to_canvas(pose, canvas)
    sprite_to_units = np.array(
        [[1.0 / sprite.pixels_per_unit, 0.0, -sprite.centre / sprite.pixels_per_unit],
         [0.0, 1.0 / sprite.pixels_per_unit, -sprite.centre / sprite.pixels_per_unit],
         [0.0, 0.0, 1.0]]
    )
    sprite_to_canvas = to_canvas @ sprite_to_units
    last = sprite.rgba.shape[0] - 1
    corners = np.array([[0, 0, 1], [last, 0, 1], [0, last, 1], [last, last, 1]], float) @ sprite_to_canvas.T
    left = max(int(np.floor(corners[:, 0].min())), 0)
    top = max(int(np.floor(corners[:, 1].min())), 0)
    right = min(int(np.ceil(corners[:, 0].max())) + 1, canvas.width)
    bottom = min(int(np.ceil(corners[:, 1].max())) + 1, canvas.height)
    if right <= left or bottom <= top:
        return None
    sprite_to_patch = sprite_to_canvas.copy()
    sprite_to_patch[:, 2] -= (left, top)
    patch = cv2.warpAffine(
        sprite.rgba,
        sprite_to_patch,
        (right - left, bottom - top),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return (slice(top, bottom), slice(left, right)), patch


def fill_outline(shape: Shape, pose: Pose, canvas: Canvas) -> np.ndarray:
    """Hard (aliased) bool mask of the outline at `pose`: pixel centres inside the shape.

    This path shares nothing with the sprite pipeline but the geometry, which makes it an
    independent check of the rendered mattes (see `render.render_id_buffer`).
    """
    to_canvas = object_to_canvas(pose, canvas)
    polygons = [_fixed_point(contour @ to_canvas[:, :2].T + to_canvas[:, 2]) for contour in shape.contours]
    mask = np.zeros((canvas.height, canvas.width), np.uint8)
    cv2.fillPoly(mask, polygons, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return mask.astype(bool)


def _fixed_point(points: np.ndarray) -> np.ndarray:
    """Float (N, 2) points to cv2.fillPoly's int32 fixed-point vertices."""
    return np.round(points * (1 << _SUBPIXEL_BITS)).astype(np.int32)
