"""Which propagation scheme wins, measured: J&F and dtSSD on held-out synthetic shots.

Every scheme runs the real job (`JobRunner`, the code `rmpsam-matte run` uses) on EXR shots the
synthetic generator writes, with prompts placed from ground truth on the keyframes the way an
artist would; the written mattes are read back and scored against the ground truth on every frame
that is not a keyframe. The first row, every frame decoded on its own from the nearest keyframe's
prompts, is the baseline measured in the same run.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin.job.plan import plan_job
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.runner import JobRunner
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.job.weights import LoadedWeights
from rmpsam_plugin.metrics import boundary_f_measure, dtssd, region_similarity
from rmpsam_plugin.prompts import from_dict, save_prompts
from rmpsam_plugin.synthetic import SyntheticShot, artist_prompts, generate_shot, write_shot

HELD_OUT_SEED_BASE = 900_000  # training draws seeds far below this
FIRST_FRAME = 1001

SCHEMES: list[tuple[str, dict]] = [
    ("nearest keyframe, per frame", {"tracker": "redecode", "blend": "nearest", "temporal": False}),
    ("keyframe prompts, blended", {"tracker": "redecode", "temporal": False}),
    ("released clip mode", {"tracker": "clip", "temporal": False}),
    ("re-prompt from last mask", {"tracker": "reprompt", "temporal": False}),
    ("carried queries", {"tracker": "carried", "temporal": False}),
    ("carried queries + temporal", {"tracker": "carried", "temporal": True}),
]


@dataclass
class SchemeScore:
    name: str
    j: float
    f: float
    dtssd: float
    seconds_per_frame: float

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2


def synthetic_prompt_set(prompts: dict):
    """The synthetic generator's prompt dict (positive/negative/boxes) -> a checked PromptSet."""
    return from_dict({
        name: {frame: {"positive_clicks": p["positive"], "negative_clicks": p["negative"], "boxes": p["boxes"]}
               for frame, p in frames.items()}
        for name, frames in prompts.items()
    })


def write_benchmark_shot(directory: Path, seed: int, num_frames: int, height: int, width: int,
                         keyframes: list[int]) -> tuple[SyntheticShot, Path, Path, list[str]]:
    """A held-out shot on disk with artist-style prompts on `keyframes` (0-based), and the names
    of the instances prompted (those visible on a keyframe)."""
    shot = generate_shot(seed, num_frames=num_frames, height=height, width=width, num_objects=3,
                         leave_and_return=seed % 2 == 0)
    write_shot(shot, directory, "plate", first_frame=FIRST_FRAME)
    prompts = synthetic_prompt_set(artist_prompts(shot, keyframes, negative_clicks=0, first_frame=FIRST_FRAME))
    save_prompts(prompts, directory / "prompts.json")
    return shot, directory / "plate.####.exr", directory / "prompts.json", prompts.names


def read_instance_mattes(pattern: Path, frames: range, names: list[str]) -> np.ndarray:
    """(T, K, H, W) mattes of the named layers from a written sequence."""
    planes = []
    for frame in frames:
        image = oiio.ImageInput.open(str(pattern).replace("####", f"{frame:04d}"))
        spec = image.spec()
        pixels = image.read_image(oiio.FLOAT).reshape(spec.height, spec.width, spec.nchannels)
        image.close()
        planes.append([pixels[..., list(spec.channelnames).index(f"{name}.A")] for name in names])
    return np.asarray(planes, dtype=np.float32)


def score(predicted: np.ndarray, truth: np.ndarray, scored_frames: list[int]) -> tuple[float, float, float]:
    """Mean J and F over instances and scored frames, and mean dtSSD over instances."""
    j = [region_similarity(predicted[t, k] > 0.5, truth[t, k] > 0.5) for t in scored_frames for k in range(truth.shape[1])]
    f = [boundary_f_measure(predicted[t, k] > 0.5, truth[t, k] > 0.5) for t in scored_frames for k in range(truth.shape[1])]
    d = [dtssd(predicted[:, k], truth[:, k]) for k in range(truth.shape[1])]
    return float(np.mean(j)), float(np.mean(f)), float(np.mean(d))


def run_propagation_benchmark(weights: LoadedWeights, num_shots: int = 3, num_frames: int = 12,
                              height: int = 216, width: int = 384, schemes=SCHEMES) -> list[SchemeScore]:
    keyframes = [0, num_frames - 1]
    scored = [t for t in range(num_frames) if t not in keyframes]
    totals: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, _ in schemes}
    with tempfile.TemporaryDirectory(prefix="rmpsam-bench-") as temporary:
        for index in range(num_shots):
            shot_dir = Path(temporary) / f"shot{index}"
            shot, plate, prompts, names = write_benchmark_shot(shot_dir, HELD_OUT_SEED_BASE + index, num_frames,
                                                               height, width, keyframes)
            truth = shot.mattes[:, [shot.names.index(name) for name in names]]
            for name, options in schemes:
                output = shot_dir / name.replace(" ", "_").replace(",", "").replace("+", "plus") / "m.####.exr"
                settings = replace(RunSettings(plate=str(plate), prompts=prompts, output=str(output),
                                               cryptomatte=False), **options)
                plan = plan_job(settings)
                started = time.perf_counter()
                JobRunner(plan, weights, ProgressReporter("none")).run()
                seconds = (time.perf_counter() - started) / num_frames
                predicted = read_instance_mattes(output, range(FIRST_FRAME, FIRST_FRAME + num_frames), names)
                totals[name].append((*score(predicted, truth, scored), seconds))
    return [SchemeScore(name, *np.mean(np.array(values), axis=0)) for name, values in totals.items()]
