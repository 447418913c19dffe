"""What the job costs beyond the network: end-to-end frames per second on a 2K shot against the
network-only time for the same frames, measured in the same run.

Network only: the propagation engine (feature extraction for every frame, every instance decoded
forward and backward) on frames already read and converted, nothing written. End to end: the
real job (`JobRunner`: plate reading, colour conversion, propagation, temporal stabilisation,
edge refinement at plate resolution, Cryptomatte, EXR writing), on the same frames with the same
network. Reading, refinement and writing run on background threads beside the network, so on a
machine with cores to spare the overhead is the part that does not overlap.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.training.export import save_weights
from rmpsam_plugin.bench.network_bench import build_random_model
from rmpsam_plugin.evaluation import write_evaluation_shot
from rmpsam_plugin.job.plan import plan_job
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.runner import InstanceKeyframes, JobRunner, network_prompts
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.job.weights import LoadedWeights, load_job_weights
from rmpsam_plugin.propagation.engine import PropagationEngine

PIPELINE_TARGET = 0.15
"""The most the job may add over the network alone."""


@dataclass
class PipelineTiming:
    frames: int
    instances: int
    network_seconds: float
    end_to_end_seconds: float

    @property
    def overhead(self) -> float:
        return self.end_to_end_seconds / self.network_seconds - 1.0


def released_size_random_weights(directory: Path) -> LoadedWeights:
    """The released architecture with random weights at the released inference size."""
    torch.manual_seed(0)
    config = RMPSAMConfig.released()
    model = build_random_model(config, fused=False)
    table = torch.nn.functional.normalize(torch.randn(config.num_classes, 1, config.text_dim), dim=-1)
    path = save_weights(model, table, [f"class{i}" for i in range(config.num_classes)], directory / "released.safetensors",
                        InferenceSize())
    return load_job_weights(path)


def measure_pipeline(weights: LoadedWeights | None, num_frames: int = 8, width: int = 2048, height: int = 1080,
                     threads: int | None = None) -> PipelineTiming:
    if threads:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="rmpsam-pipeline-") as temporary:
        root = Path(temporary)
        weights = weights or released_size_random_weights(root)
        shot = write_evaluation_shot(root / "shot", 900_777, num_frames, height, width, [0, num_frames - 1], num_objects=2)
        settings = RunSettings(plate=str(shot.plate), prompts=shot.prompts, output=str(root / "out" / "m.####.exr"))
        plan = plan_job(settings)

        runner = JobRunner(plan, weights, ProgressReporter("none"))
        frames = range(plan.shot_range[0], plan.shot_range[1] + 1)
        images = {frame: runner.plates.network_image(frame) for frame in frames}
        runner.plates.close()
        instances = [InstanceKeyframes(track.name, {f: network_prompts(kf, runner.geometry) for f, kf in track.keyframes.items()})
                     for track in plan.prompts.instances]
        size = runner.predictor.size
        warm = RMPSAMPredictor(weights.model, size)
        warm.set_image(images[frames[0]])  # first-call allocations out of both timings

        predictor = RMPSAMPredictor(weights.model, size, max_cached_frames=256)
        started = time.perf_counter()
        PropagationEngine(predictor, images.__getitem__, instances, plan.shot_range).run(frames[0], frames[-1], margin=1)
        network_seconds = time.perf_counter() - started

        started = time.perf_counter()
        JobRunner(plan, weights, ProgressReporter("none")).run()
        end_to_end = time.perf_counter() - started
    return PipelineTiming(num_frames, len(instances), network_seconds, end_to_end)
