"""Rendering a scene: motion-blurred plates with consistent soft mattes, and hard id-buffers.

Each sub-frame is composited front to back. Keeping the transmission T (the fraction of a pixel
not yet covered by nearer objects) gives, for object k with coverage a_k,

    visible_k = a_k * T,   colour += premultiplied_k * T,   T *= (1 - a_k),

and the background fills what is left. The visible coverages are the mattes: they sum to
1 - T <= 1 per pixel, and averaging plate and mattes over the *same* sub-frames makes the motion
blur of the mattes consistent with the blur of the plate by construction. The number of
sub-frames adapts to the fastest motion in the frame, so a fast object smears instead of leaving
a row of ghost copies.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .grain import add_grain
from .motion import camera_travel, outline_travel, shutter_times
from .scene import Background, Scene
from .sprites import Canvas, fill_outline, warp_sprite

MAX_BLUR_SAMPLES = 32  # cost cap: beyond ~48 px of travel per shutter the smear shows steps
_BLUR_STEP_PX = 1.5  # largest sub-frame step that still reads as a smooth smear


def render_shot(scene: Scene, canvas: Canvas, shutter: float, samples: int,
                frame_indices: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frames `frame_indices` of the scene (default: all, in order) on `canvas`.

    Returns frames float32 (T, H, W, 3), mattes float32 (T, K, H, W) and the unoccluded
    coverage of each object inside the canvas, float32 (T, K), in pixels, T = len(frame_indices).
    """
    indices = range(scene.num_frames) if frame_indices is None else frame_indices
    frames = np.empty((len(indices), canvas.height, canvas.width, 3), np.float32)
    mattes = np.empty((len(indices), len(scene.objects), canvas.height, canvas.width), np.float32)
    unoccluded = np.empty((len(indices), len(scene.objects)), np.float32)
    for row, index in enumerate(indices):
        frames[row], mattes[row], unoccluded[row] = render_frame(scene, index, canvas, shutter, samples)
    return frames, mattes, unoccluded


def render_frame(
    scene: Scene, frame_index: int, canvas: Canvas, shutter: float, samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One motion-blurred frame: rgb (H, W, 3), mattes (K, H, W), unoccluded areas (K,).

    `samples` is the least number of sub-frames (see `frame_times`).
    """
    rgb = np.zeros((canvas.height, canvas.width, 3), np.float32)
    mattes = np.zeros((len(scene.objects), canvas.height, canvas.width), np.float32)
    unoccluded = np.zeros(len(scene.objects), np.float64)
    times = frame_times(scene, frame_index, shutter, samples)
    for t in times:
        transmission = np.ones((canvas.height, canvas.width), np.float32)
        for k in scene.front_to_back:
            obj = scene.objects[k]
            placed = warp_sprite(obj.sprite, obj.trajectory.pose(t), canvas)
            if placed is None:
                continue
            region, patch = placed
            coverage = patch[..., 3]
            through = transmission[region]
            rgb[region] += patch[..., :3] * through[..., None]
            mattes[k][region] += coverage * through
            transmission[region] = through * (1.0 - coverage)
            unoccluded[k] += float(coverage.sum())
        background = background_at(scene.background, t, canvas)
        background *= transmission[..., None]
        rgb += background
    weight = np.float32(1.0 / len(times))
    rgb *= weight * scene.lighting.gain(frame_index)
    mattes *= weight
    if scene.grain is not None:
        rgb = add_grain(rgb, scene.grain, frame_index, canvas)
    return rgb, mattes, (unoccluded * weight).astype(np.float32)


def frame_times(scene: Scene, frame_index: int, shutter: float, min_samples: int) -> np.ndarray:
    """The sub-frame times averaged into frame `frame_index`.

    At least `min_samples` (one, or a closed shutter, means no blur), and more when anything moves
    fast, so no outline point steps more than 1.5 px between sub-frames (up to MAX_BLUR_SAMPLES).
    """
    if min_samples <= 1 or shutter <= 0:
        return shutter_times(frame_index, shutter, 1)
    probe = shutter_times(frame_index, shutter, 5)
    # The fastest quarter of the shutter sets the pace: motion can speed up within a frame. A
    # frame corner is the background point a camera roll or zoom moves most.
    reach = 0.5 * float(np.hypot(scene.width, scene.height))
    steps = [probe[i : i + 2] for i in range(len(probe) - 1)]
    fastest_step = max(
        [outline_travel(obj.trajectory, step) for obj in scene.objects for step in steps]
        + [camera_travel(scene.background.pan, step, reach) for step in steps]
    )
    travel = fastest_step * (len(probe) - 1)
    samples = int(np.clip(np.ceil(travel / _BLUR_STEP_PX) + 1, min_samples, MAX_BLUR_SAMPLES))
    return shutter_times(frame_index, shutter, samples)


def background_at(background: Background, t: float, canvas: Canvas) -> np.ndarray:
    """The panned background on `canvas` at time `t`, float32 (H, W, 3).

    Beyond the texture's margin (large overscan) the texture is mirrored rather than left black.
    A rolling or zooming camera turns and scales the view about the frame's centre.
    """
    pan = background.pan.pose(t)
    if pan.angle == 0.0 and pan.scale_px == 1.0:
        canvas_to_texture = np.array(
            [[1.0, 0.0, canvas.x0 + background.margin + pan.x], [0.0, 1.0, canvas.y0 + background.margin + pan.y]]
        )
    else:
        rows, cols = background.texture.shape[:2]
        centre = np.array([(cols - 1) / 2.0, (rows - 1) / 2.0]) - background.margin  # the frame's, in display pixels
        cos, sin = np.cos(pan.angle), np.sin(pan.angle)
        linear = np.array([[cos, -sin], [sin, cos]]) / pan.scale_px
        origin = np.array([canvas.x0, canvas.y0], float)
        offset = background.margin + np.array([pan.x, pan.y]) + centre + linear @ (origin - centre)
        canvas_to_texture = np.hstack([linear, offset[:, None]])
    return cv2.warpAffine(
        background.texture,
        canvas_to_texture,
        (canvas.width, canvas.height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def render_id_buffer(scene: Scene, t: float, canvas: Canvas) -> np.ndarray:
    """Hard instance ids at the instant `t`: int32 (H, W), the instance index or -1 for background.

    Rasterises the outlines directly (no sprite, no anti-aliasing, no blur), painting far to
    near, so it is an independent reference for the mattes.
    """
    ids = np.full((canvas.height, canvas.width), -1, np.int32)
    for k in reversed(scene.front_to_back):
        obj = scene.objects[k]
        ids[fill_outline(obj.shape, obj.trajectory.pose(t), canvas)] = k
    return ids
