"""Scoring written mattes against a synthetic shot's ground truth: shared by `demo`, the
propagation benchmark and the quality tests, so all three measure the same way.

A shot is written to disk as EXRs with artist-style prompts placed from its ground truth; a job
runs on it through `JobRunner` (the code `rmpsam-matte run` uses); the mattes are read back from
the written files and scored with DAVIS J and F and dtSSD (`rmpsam_plugin.evaluation.metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin.evaluation.metrics import (
    boundary_f_measure,
    dtssd,
    region_similarity,
)
from rmpsam_plugin.prompts import PromptSet, from_dict, save_prompts
from rmpsam_plugin.synthetic import (
    SyntheticShot,
    artist_prompts,
    generate_shot,
    write_shot,
)

HELD_OUT_SEED_BASE = 900_000
"""Seeds of evaluation shots; training draws its seeds from `training_data.TRAIN_SEED_BASE`
(10,000,000) up, so the two never meet."""
FIRST_FRAME = 1001


@dataclass(frozen=True)
class ShotOnDisk:
    shot: SyntheticShot
    plate: Path  # pattern, plate.####.exr
    prompts: Path
    names: list[str]  # instances prompted (visible on a keyframe), in prompt-file order

    def truth(self) -> np.ndarray:
        """(T, K, H, W) true mattes of the prompted instances, as rendered (unsqueezed)."""
        return self.shot.mattes[:, [self.shot.names.index(name) for name in self.names]]

    def truth_on_disk(self) -> np.ndarray:
        """(T, K, H, W) true mattes over the display window as stored (squeezed if anamorphic)."""
        pattern = str(self.plate).replace("plate.", "plate_gt.")
        return read_instance_mattes(pattern, range(FIRST_FRAME, FIRST_FRAME + self.shot.num_frames), self.names)


@dataclass(frozen=True)
class Score:
    j: float
    f: float
    dtssd: float

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2


def synthetic_prompt_set(prompts: dict) -> PromptSet:
    """The synthetic generator's prompt dict (positive/negative/boxes) -> a checked PromptSet."""
    return from_dict({
        name: {frame: {"positive_clicks": p["positive"], "negative_clicks": p["negative"], "boxes": p["boxes"]}
               for frame, p in frames.items()}
        for name, frames in prompts.items()
    })


def write_evaluation_shot(directory: Path, seed: int, num_frames: int, height: int, width: int,
                          keyframes: list[int], num_objects: int = 3, negative_clicks: int = 0,
                          overscan: int = 0, pixel_aspect: float = 1.0) -> ShotOnDisk:
    """A held-out shot on disk with artist-style prompts on `keyframes` (0-based shot indices).

    Even seeds get an object that leaves the frame and comes back. With `overscan` or an
    anamorphic `pixel_aspect` the plates carry those windows; the ground truth is written beside
    them the same way (`plate_gt.####.exr`), which is what `truth_on_disk` reads back.
    """
    shot = generate_shot(seed, num_frames=num_frames, height=height, width=width, num_objects=num_objects,
                         leave_and_return=seed % 2 == 0)
    write_shot(shot, directory, "plate", first_frame=FIRST_FRAME, overscan=overscan, pixel_aspect=pixel_aspect)
    prompts = synthetic_prompt_set(artist_prompts(shot, keyframes, negative_clicks=negative_clicks,
                                                  first_frame=FIRST_FRAME, pixel_aspect=pixel_aspect))
    save_prompts(prompts, directory / "prompts.json")
    return ShotOnDisk(shot, directory / "plate.####.exr", directory / "prompts.json", list(prompts.names))


def read_instance_mattes(pattern: Path | str, frames: range, names: list[str]) -> np.ndarray:
    """(T, K, H, W) mattes of the named layers (`<name>.A`) over each file's display window
    (zero where the data window does not reach), from a written sequence."""
    planes = []
    for frame in frames:
        path = str(pattern).replace("####", f"{frame:04d}")
        buffer = oiio.ImageBuf(path)
        if buffer.has_error:
            raise FileNotFoundError(f"cannot open {path}: {buffer.geterror()}")
        spec = buffer.spec()
        display = oiio.ROI(spec.full_x, spec.full_x + spec.full_width, spec.full_y, spec.full_y + spec.full_height,
                           0, 1, 0, spec.nchannels)
        pixels = buffer.get_pixels(oiio.FLOAT, display).reshape(spec.full_height, spec.full_width, spec.nchannels)
        planes.append([pixels[..., list(spec.channelnames).index(f"{name}.A")] for name in names])
    return np.asarray(planes, dtype=np.float32)


def score(predicted: np.ndarray, truth: np.ndarray, scored_frames: list[int]) -> Score:
    """Mean J and F over instances and scored frames, and mean dtSSD over instances (all frames)."""
    instances = range(truth.shape[1])
    j = [region_similarity(predicted[t, k] > 0.5, truth[t, k] > 0.5) for t in scored_frames for k in instances]
    f = [boundary_f_measure(predicted[t, k] > 0.5, truth[t, k] > 0.5) for t in scored_frames for k in instances]
    d = [dtssd(predicted[:, k], truth[:, k]) for k in instances]
    return Score(float(np.mean(j)), float(np.mean(f)), float(np.mean(d)))
