"""The in-memory synthetic shot: what the training loop and the propagation benchmarks consume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .plate_scene import build_plate_scene
from .render import render_shot
from .scene import Scene, build_scene
from .shapes import CLASS_NAMES
from .sprites import Canvas

STYLES: tuple[str, ...] = ("procedural", "plate")
"""What a shot looks like: "procedural" (textured shapes; the held-out evaluation shots, bit-identical
to every earlier release) or "plate" (photographs, camera motion, defocus, grain, thin and holed
shapes: `plate_scene.py`; needs the `train` extra, scikit-image)."""

VISIBLE_MIN_AREA_PX = 1.0
"""An instance counts as visible in a frame when its matte covers at least this many pixels."""


@dataclass(frozen=True)
class SyntheticShot:
    """A rendered shot with per-instance ground truth.

    frames           float32 (T, H, W, 3)  scene-linear RGB, motion-blurred, lighting drift applied
    mattes           float32 (T, K, H, W)  visible (after occlusion) soft coverage per instance,
                                           anti-aliased and blurred by the same shutter as the frames;
                                           sums to <= 1 per pixel
    ids              int32 (K,)            1..K (0 is left for background in id maps)
    names            K names, e.g. "star_2": valid EXR layer names, unique
    classes          K class names from `CLASS_NAMES`; `class_ids` their indices
    visible          bool (T, K)           matte area >= VISIBLE_MIN_AREA_PX
    unoccluded_area  float32 (T, K)        coverage in frame before occlusion, pixels; with
                                           `visible_area` it gives how occluded an instance is
    scene            the description it was rendered from (re-render, id-buffers)
    shutter, blur_samples  the motion-blur settings used (blur_samples: the least per frame)
    """

    frames: np.ndarray
    mattes: np.ndarray
    ids: np.ndarray
    names: tuple[str, ...]
    classes: tuple[str, ...]
    class_ids: np.ndarray
    visible: np.ndarray
    unoccluded_area: np.ndarray
    scene: Scene
    seed: int
    shutter: float
    blur_samples: int

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def height(self) -> int:
        return self.frames.shape[1]

    @property
    def width(self) -> int:
        return self.frames.shape[2]

    @property
    def visible_area(self) -> np.ndarray:
        """float32 (T, K): matte area per instance and frame, pixels."""
        return self.mattes.sum(axis=(2, 3), dtype=np.float64).astype(np.float32)


def generate_shot(
    seed: int,
    num_frames: int = 8,
    height: int = 256,
    width: int = 256,
    num_objects: int = 3,
    *,
    families: Sequence[str] | None = None,
    leave_and_return: bool = False,
    shutter: float = 0.5,
    blur_samples: int = 5,
    background_clutter: int = 3,
    lighting_drift: bool = True,
    style: str = "procedural",
    render_only: Sequence[int] | None = None,
) -> SyntheticShot:
    """Render a reproducible synthetic shot (same arguments -> bit-identical arrays).

    families            restrict instance shapes to these names from `CLASS_NAMES` (default: all)
    leave_and_return    one instance (random) leaves the frame completely mid-shot and comes back;
                        needs num_frames >= 3
    shutter             open fraction of the frame interval (0.5 = 180 degrees); 0 disables blur
    blur_samples        least sub-frames averaged per frame (fast motion gets more, see
                        `render.frame_times`); 1 disables blur
    background_clutter  static non-instance shapes painted into the background
    lighting_drift      slow exposure / tint drift over the shot
    style               "procedural" or "plate" (see `STYLES`); a seed gives a different shot in each
    render_only         frame indices to render, in this order (default all): the shot's per-frame
                        arrays then hold only these, the same pixels as in the whole shot
    """
    if style not in STYLES:
        raise ValueError(f"unknown shot style {style!r}; known: {', '.join(STYLES)}")
    if families is not None:
        unknown = set(families) - set(CLASS_NAMES)
        if unknown:
            raise ValueError(f"unknown shape families {sorted(unknown)}; known: {', '.join(CLASS_NAMES)}")
    rng = np.random.default_rng(seed)
    scene = (build_plate_scene if style == "plate" else build_scene)(
        rng,
        num_frames,
        height,
        width,
        num_objects,
        families=families,
        leave_and_return=leave_and_return,
        background_clutter=background_clutter,
        lighting_drift=lighting_drift,
    )
    frames, mattes, unoccluded = render_shot(scene, Canvas(0, 0, width, height), shutter, blur_samples, render_only)
    classes = tuple(obj.shape.family for obj in scene.objects)
    visible_area = mattes.sum(axis=(2, 3), dtype=np.float64)
    return SyntheticShot(
        frames=frames,
        mattes=mattes,
        ids=np.arange(1, num_objects + 1, dtype=np.int32),
        names=tuple(obj.name for obj in scene.objects),
        classes=classes,
        class_ids=np.array([obj.shape.class_id for obj in scene.objects], np.int64),
        visible=visible_area >= VISIBLE_MIN_AREA_PX,
        unoccluded_area=unoccluded,
        scene=scene,
        seed=seed,
        shutter=shutter,
        blur_samples=blur_samples,
    )


def generate_image_sample(seed: int, height: int = 256, width: int = 256, num_objects: int = 4) -> SyntheticShot:
    """A single sharp frame (a one-frame shot without motion blur) for image-mode training."""
    return generate_shot(seed, 1, height, width, num_objects, shutter=0.0, blur_samples=1)
