"""Synthetic shots with exact ground truth, for training and for measuring propagation.

The real weights cannot be fetched here, so the team trains and evaluates on procedural shots:
textured shapes (the classes) moving, turning, scaling and occluding each other over a textured,
panning background under drifting light, motion-blurred, with per-instance soft mattes that match
the plate pixel for pixel. Everything is drawn from one seed and reproducible bit for bit.
`generate_shot(..., style="plate")` dresses the same world to look more like a photographed plate
(photographic textures, a moving camera, defocus, grain, thin and holed shapes; scikit-image, the
`train` extra); the default "procedural" style is what the held-out evaluation shots use.

    shot = generate_shot(seed=7, num_frames=8, height=256, width=256, num_objects=3)
    prompts = artist_prompts(shot, keyframes=[0])
    write_shot(shot, "/tmp/shots", "synth007", overscan=16)

Modules, one job each: `shapes` (outline families = classes), `textures`, `motion` (trajectories,
shutter), `lighting`, `sprites` (rasterise once, warp per sub-frame), `scene` (a drawn world),
`render` (plates, mattes, id-buffers), `shot` (the in-memory API), `anamorphic`, `shot_writer`
(EXR sequences), `prompts_from_truth`; for the plate style `plate_scene` (its world), `photos`,
`shape_variants`, `defocus`, `grain`.
"""

from .prompts_from_truth import (
    artist_prompts,
    box_from_matte,
    clicks_from_matte,
    negative_clicks_from,
)
from .shapes import CLASS_NAMES
from .shot import SyntheticShot, generate_image_sample, generate_shot
from .shot_writer import WrittenShot, write_shot

__all__ = [
    "CLASS_NAMES",
    "SyntheticShot",
    "WrittenShot",
    "artist_prompts",
    "box_from_matte",
    "clicks_from_matte",
    "generate_image_sample",
    "generate_shot",
    "negative_clicks_from",
    "write_shot",
]
