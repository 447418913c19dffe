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
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

from rmpsam_model.int8 import PRECISIONS
from rmpsam_model.loading import LoadedModel, load_model
from rmpsam_plugin.evaluation.scoring import (
    FIRST_FRAME,
    HELD_OUT_SEED_BASE,
    read_instance_mattes,
    score,
    write_evaluation_shot,
)
from rmpsam_plugin.job.precision import with_precision
from rmpsam_plugin.job.run import run_job
from rmpsam_plugin.mattes import shot_mattes

SCHEMES: list[tuple[str, dict]] = [
    ("nearest keyframe, per frame", {"tracker": "redecode", "blend": "nearest", "temporal": False}),
    ("keyframe prompts, blended", {"tracker": "redecode", "temporal": False}),
    ("released clip mode", {"tracker": "clip", "temporal": False}),
    ("re-prompt from last mask", {"tracker": "reprompt", "temporal": False}),
    ("carried queries", {"tracker": "carried", "temporal": False}),
    ("carried queries + temporal", {"tracker": "carried", "temporal": True}),
    ("released clip mode + temporal (default)", {"tracker": "clip", "temporal": True}),
]
DEFAULT_SCHEME = SCHEMES[-1]


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


def run_propagation_benchmark(weights: LoadedModel, num_shots: int = 3, num_frames: int = 12,
                              height: int = 216, width: int = 384, schemes=SCHEMES,
                              negative_clicks: int = 0) -> list[SchemeScore]:
    """Each scheme's mean scores over the held-out shots. Keyframes carry a box and a positive click
    per instance, and `negative_clicks` negative ones placed as an artist would (on a neighbour)."""
    keyframes = [0, num_frames - 1]
    scored = [t for t in range(num_frames) if t not in keyframes]
    totals: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, _ in schemes}
    with tempfile.TemporaryDirectory(prefix="rmpsam-bench-") as temporary:
        for index in range(num_shots):
            shot_dir = Path(temporary) / f"shot{index}"
            on_disk = write_evaluation_shot(shot_dir, HELD_OUT_SEED_BASE + index, num_frames, height, width, keyframes,
                                            negative_clicks=negative_clicks)
            plate, prompts, names, truth = on_disk.plate, on_disk.prompts, on_disk.names, on_disk.truth()
            for name, options in schemes:
                output = shot_dir / name.replace(" ", "_").replace(",", "").replace("+", "plus") / "m.####.exr"
                started = time.perf_counter()  # the whole job, its few milliseconds of planning included
                run_job(plate=str(plate), prompts=prompts, output=str(output), cryptomatte=False, model=weights,
                        **options)
                seconds = (time.perf_counter() - started) / num_frames
                predicted = read_instance_mattes(output, range(FIRST_FRAME, FIRST_FRAME + num_frames), names)
                result = score(predicted, truth, scored)
                totals[name].append((result.j, result.f, result.dtssd, seconds))
    return [SchemeScore(name, *np.mean(np.array(values), axis=0)) for name, values in totals.items()]


def run_precision_comparison(weights_path: Path | None = None, num_shots: int = 3, num_frames: int = 12,
                             height: int = 216, width: int = 384,
                             precisions: tuple[str, ...] = PRECISIONS) -> dict[str, SchemeScore]:
    """The default scheme in each of `precisions` (`run --precision`, so each must be one this
    machine runs), the same held-out shots for all."""
    name, options = DEFAULT_SCHEME
    scores = {}
    for precision in precisions:
        weights = with_precision(load_model(weights_path), precision)
        scheme = (f"{name}, {precision}", {**options, "precision": precision})
        scores[precision] = run_propagation_benchmark(weights, num_shots, num_frames, height, width, [scheme])[0]
    return scores


def run_stabiliser_size_comparison(weights: LoadedModel, num_shots: int = 3, num_frames: int = 12,
                                   height: int = 216, width: int = 384) -> list[SchemeScore]:
    """The default scheme without the stabiliser, with it at the network image's size, and with it
    at half that size (`shot_mattes.stabiliser_size`), on the same shots.

    Jobs choose half the size only for network images of 512 pixels or more on the short side;
    here it is forced on the shipped weights' small images, a harder case for the optical flow
    than the one the job meets (README, "Propagation")."""
    _, options = DEFAULT_SCHEME
    scores = run_propagation_benchmark(weights, num_shots, num_frames, height, width,
                                       [("released clip mode, no stabiliser", {**options, "temporal": False})])
    for label, min_side in (("at the network size", 10**9), ("at half the network size", 1)):
        with mock.patch.object(shot_mattes, "STABILISER_MIN_SIDE", min_side):
            scores += run_propagation_benchmark(weights, num_shots, num_frames, height, width,
                                                [(f"released clip mode + stabiliser {label}", options)])
    return scores
