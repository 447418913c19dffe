"""What the job costs beyond the network: end-to-end frames per second on a 2K shot against the
network-only time for the same frames, measured in the same run.

Network only: the propagation engine (feature extraction for every frame, every instance decoded
forward and backward) on frames already read and converted, nothing written. End to end: the
real job (`JobRunner`: plate reading, colour conversion, propagation, temporal stabilisation,
edge refinement at plate resolution, Cryptomatte, EXR writing), on the same frames with the same
network. Reading, refinement and writing run on background threads beside the network, so on a
machine with cores to spare the overhead is the part that does not overlap.

The two are run alternately `repeats` times and each is quoted as its median: on a small shared
machine one run of either moves by 10% from run to run, more than the effect being measured.

With `compare_schedules` each repeat also runs the job with the other schedule of side work
(reading and finishing beside the network, or in turns with it: `plate_source`), so the choice
the job makes on this machine is measured against the alternative in the same run.

Both are also quoted against the whole-frame float32 floor (`WholeFrameFloor`): the FLOPs of one
frame through backbone, neck and object decoder at the job's padded network size, over the dense
float32 matmul rate measured in the same run, as `bench network` defines it. Issue 15 asks the
job end to end for at most that floor; `precision` int8 runs network and job on the int8 backbone
against the same float32 floor.

With `breakdown` one more job runs with `step_timing` on: CPU and wall milliseconds per frame of
each step inside that real job (its schedule and threads as in `rmpsam-matte run`).

`measure_cpu_side` (`--network none`) runs the real job with the network replaced by stored logits
(`stored_logits`): the frames per second the CPU side sustains (reading, network image,
stabiliser, refinement, Cryptomatte, EXR) with 1 and 2 worker threads, what a GPU node's CPU
must keep up with.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rmpsam_model.bfloat16 import use_bfloat16_products
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.int8 import use_int8_backbone
from rmpsam_model.loading import LoadedModel, load_model
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceGeometry, InferenceSize, prepare_image
from rmpsam_model.training.export import save_weights
from rmpsam_plugin.bench.network_bench import build_random_model, counted_gflop, dense_matmul_gflops
from rmpsam_plugin.bench.stored_logits import StoredLogitsEngine, truth_logits
from rmpsam_plugin.evaluation.scoring import write_evaluation_shot
from rmpsam_plugin.job.plan import plan_job
from rmpsam_plugin.job.precision import calibration_images, with_precision
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.runner import JobRunner, job_predictor
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.mattes.shot_mattes import network_prompts
from rmpsam_plugin.propagation.engine import InstanceKeyframes, PropagationEngine
from rmpsam_plugin.step_timing import recording

PIPELINE_TARGET = 0.15
"""The most the job may add over the network alone."""

FLOOR_TARGET = 1.0
"""Issue 15: the job end to end, seconds a frame, as a multiple of the whole-frame float32 floor."""


SCHEDULES = {True: "side work beside the network", False: "side work in turns with the network"}

CPU_SIDE_TARGET_FPS = 15.0
"""Issue 15: 2K frames per second the CPU side sustains with a network that costs it nothing."""

FINISHING_TARGET_MS = 110.0
"""Issue 15: CPU milliseconds per 2K frame (2 instances) of everything outside the network."""

# The job's steps in the order a frame meets them (`step_timing` names); those a job did not run
# (upsampling when edges are refined) are left out of the breakdown.
STEPS = ("read", "network image", "network", "stabiliser", "edge guide", "refinement", "upsampling", "overlaps",
         "Cryptomatte", "EXR write")


@dataclass
class StepBreakdown:
    """One job's steps: seconds summed over threads and frames, and the whole process's CPU."""

    frames: int
    cpu_seconds: dict[str, float]  # each step's own thread CPU (`step_timing`)
    wall_seconds: dict[str, float]
    process_cpu_seconds: float  # every thread of the process, helpers included
    job_wall_seconds: float

    def rows(self) -> list[tuple[str, float, float]]:
        """(step, CPU ms per frame, wall ms per frame) in `STEPS` order."""
        return [(name, 1000 * self.cpu_seconds[name] / self.frames, 1000 * self.wall_seconds[name] / self.frames)
                for name in STEPS if name in self.wall_seconds]

    @property
    def finishing_cpu_ms(self) -> float:
        """CPU ms per frame of every step outside the network, on the steps' own threads."""
        return sum(cpu for name, cpu, _ in self.rows() if name != "network")

    @property
    def outside_network_cpu_ms(self) -> float:
        """Process CPU ms per frame less the network step's own thread: all the CPU work outside the
        network when the network is the stand-in (`--network none`), whose threads do nothing
        else. With a real network its intra-op threads would count here too."""
        network = next((cpu for name, cpu, _ in self.rows() if name == "network"), 0.0)
        return 1000 * self.process_cpu_seconds / self.frames - network

    @property
    def unattributed_cpu_ms(self) -> float:
        """Process CPU ms per frame no step's own thread accounts for: the network's intra-op threads
        and the helper threads of OpenCV and OpenImageIO."""
        return 1000 * self.process_cpu_seconds / self.frames - sum(cpu for _, cpu, _ in self.rows())


@dataclass
class PipelineTiming:
    frames: int
    instances: int
    network_runs: list[float]
    end_to_end_runs: list[float]
    overlap: bool  # the schedule the job chose here (`SCHEDULES`)
    floor: WholeFrameFloor
    precision: str
    other_schedule_runs: list[float] | None = None  # the same job with the other schedule
    breakdown: StepBreakdown | None = None

    @property
    def network_seconds(self) -> float:
        return statistics.median(self.network_runs)

    @property
    def end_to_end_seconds(self) -> float:
        return statistics.median(self.end_to_end_runs)

    @property
    def overhead(self) -> float:
        return self.end_to_end_seconds / self.network_seconds - 1.0

    @property
    def other_schedule_seconds(self) -> float | None:
        return statistics.median(self.other_schedule_runs) if self.other_schedule_runs else None


@dataclass
class WholeFrameFloor:
    """One frame's float32 work (backbone, neck, object decoder) at the job's padded network size,
    at this machine's dense matmul rate: issue 15's yardstick. Not a hard limit: oneDNN's
    convolutions can run above the rate of a plain 2048x2048 matmul (`bench network`'s backbone
    has measured 0.76x-0.98x of its share)."""
    gflop: float
    matmul_gflops: float
    height: int
    width: int

    @property
    def seconds(self) -> float:
        return self.gflop / self.matmul_gflops


def whole_frame_work(weights: LoadedModel, image) -> tuple[float, tuple[int, int]]:
    """GFLOP torch counts for one network image (H, W, 3) through the float32 network (features,
    then the object queries, as `bench network`'s whole frame), and the padded size it ran at."""
    geometry = InferenceGeometry.for_image(image.shape[0], image.shape[1], weights.inference_size)
    batch = prepare_image(image, geometry)[None]

    def frame():
        weights.model.decode_objects(weights.model.extract_features(batch))

    with torch.no_grad():  # not inference_mode: torch's FLOP counter cannot hook inference tensors
        return counted_gflop(frame), geometry.padded_hw


def released_size_random_weights(directory: Path) -> LoadedModel:
    """The released architecture with random weights at the released inference size."""
    torch.manual_seed(0)
    config = RMPSAMConfig.released()
    model = build_random_model(config, fused=False)
    table = torch.nn.functional.normalize(torch.randn(config.num_classes, 1, config.text_dim), dim=-1)
    path = save_weights(model, table, [f"class{i}" for i in range(config.num_classes)], directory / "released.safetensors",
                        InferenceSize())
    return load_model(path)


def measure_pipeline(weights: LoadedModel | None, num_frames: int = 8, width: int = 2048, height: int = 1080,
                     threads: int | None = None, repeats: int = 3, keyframes: int = 2,
                     compare_schedules: bool = False, breakdown: bool = False,
                     precision: str = "float32") -> PipelineTiming:
    """`keyframes` spread evenly over the shot, first and last frame included. Each segment
    (between two keyframes) can only be finished after its last network step, so with one
    segment all of the finishing adds to the network's time; with more, the job finishes a
    segment beside or before the next one's network (`compare_schedules` measures both).
    `precision` int8: the network and the job run the int8 backbone (random weights are
    quantised into a temporary cache, given weights into the user's cache as `run` does)."""
    if threads:
        torch.set_num_threads(threads)
    matmul_before = dense_matmul_gflops()
    with tempfile.TemporaryDirectory(prefix="rmpsam-pipeline-") as temporary:
        root = Path(temporary)
        random_weights = weights is None
        weights = weights or released_size_random_weights(root)
        keyframe_indices = sorted({round(k * (num_frames - 1) / max(keyframes - 1, 1)) for k in range(keyframes)})
        shot = write_evaluation_shot(root / "shot", 900_777, num_frames, height, width, keyframe_indices, num_objects=2)

        def job_plan(run: int):
            return plan_job(RunSettings(plate=str(shot.plate), prompts=shot.prompts, precision=precision,
                                        output=str(root / f"out{run}" / "m.####.exr")))

        runner = JobRunner(job_plan(0), weights, ProgressReporter("none"))
        first, last = runner.plan.shot_range
        frames = range(first, last + 1)
        images = {frame: runner.plates.network_image(frame) for frame in frames}
        runner.plates.close()
        frame_gflop, padded_hw = whole_frame_work(weights, images[first])  # float32's, before any backbone swap
        if precision != "float32" and random_weights:
            use_int8_backbone(weights.model, weights.digest, calibration_images(weights.inference_size),
                              root / "int8-cache")
            if precision == "int8-bf16":
                use_bfloat16_products(weights.model)
        else:
            with_precision(weights, precision)
        instances = [InstanceKeyframes(track.name, {f: network_prompts(kf, runner.geometry) for f, kf in track.keyframes.items()})
                     for track in runner.plan.prompts.instances]
        warm = RMPSAMPredictor(weights.model, runner.predictor.size)
        warm.set_image(images[frames[0]])  # first-call allocations out of both timings

        overlap = runner.overlap  # the schedule every job takes
        network_runs, end_to_end_runs, other_runs = [], [], []
        for run in range(repeats):
            predictor = job_predictor(runner.plan.settings, weights)  # the job's own cache budget
            started = time.perf_counter()
            PropagationEngine(predictor, images.__getitem__, instances, (first, last)).run(first, last, margin=1)
            network_runs.append(time.perf_counter() - started)

            schedules = [(overlap, end_to_end_runs)] + ([(not overlap, other_runs)] if compare_schedules else [])
            for schedule, runs in schedules:
                plan = job_plan(len(end_to_end_runs) + len(other_runs))  # a fresh output folder: nothing to resume from
                started = time.perf_counter()
                JobRunner(plan, weights, ProgressReporter("none"), overlap=schedule).run()
                runs.append(time.perf_counter() - started)
        steps = None
        if breakdown:
            runner = JobRunner(job_plan(len(end_to_end_runs) + len(other_runs)), weights, ProgressReporter("none"))
            with recording() as recorder:
                cpu_started, started = time.process_time(), time.perf_counter()
                runner.run()
                job_wall, job_cpu = time.perf_counter() - started, time.process_time() - cpu_started
            steps = StepBreakdown(num_frames, dict(recorder.cpu_seconds), dict(recorder.wall_seconds), job_cpu, job_wall)
    # Measured before and after and the better rate kept, as `bench network` does: a burst of load
    # during one measurement must not flatter the ratio.
    floor = WholeFrameFloor(frame_gflop, max(matmul_before, dense_matmul_gflops()), *padded_hw)
    return PipelineTiming(num_frames, len(instances), network_runs, end_to_end_runs, overlap, floor, precision,
                          other_runs if compare_schedules else None, steps)


@dataclass
class CpuSideTiming:
    """`--network none`: wall and process CPU seconds of each run of the job, by worker count."""

    frames: int
    instances: int
    wall_runs: dict[int, list[float]]
    cpu_runs: dict[int, list[float]]
    breakdown: StepBreakdown | None = None

    def frames_per_second(self, workers: int) -> float:
        return self.frames / statistics.median(self.wall_runs[workers])

    def cpu_ms_per_frame(self, workers: int) -> float:
        return 1000 * statistics.median(self.cpu_runs[workers]) / self.frames


def measure_cpu_side(weights: LoadedModel | None, num_frames: int = 8, width: int = 2048, height: int = 1080,
                     repeats: int = 3, keyframes: int = 2, workers: tuple[int, ...] = (1, 2),
                     breakdown: bool = False) -> CpuSideTiming:
    """The real job on a synthetic shot with the network replaced by the shot's true mattes as
    logits (`StoredLogitsEngine`), each worker count run `repeats` times, alternating. The job
    reads and finishes beside the "network", as it does where the network leaves the CPU free."""
    with tempfile.TemporaryDirectory(prefix="rmpsam-cpu-side-") as temporary:
        root = Path(temporary)
        weights = weights or released_size_random_weights(root)
        keyframe_indices = sorted({round(k * (num_frames - 1) / max(keyframes - 1, 1)) for k in range(keyframes)})
        shot = write_evaluation_shot(root / "shot", 900_777, num_frames, height, width, keyframe_indices, num_objects=2)
        truth = shot.truth()
        stored: dict[int, dict[str, torch.Tensor]] | None = None
        runs = 0

        def job(count: int) -> JobRunner:
            nonlocal stored, runs
            runs += 1
            plan = plan_job(RunSettings(plate=str(shot.plate), prompts=shot.prompts,
                                        output=str(root / f"out{runs}" / "m.####.exr")))
            runner = JobRunner(plan, weights, ProgressReporter("none"), overlap=True, workers=count)
            first, last = plan.shot_range
            if stored is None:
                network_geometry = runner.mattes.network_geometry
                stored = {frame: dict(zip(shot.names, truth_logits(truth[frame - first], runner.geometry, network_geometry)))
                          for frame in range(first, last + 1)}
            runner.mattes.engine = StoredLogitsEngine(stored, runner.plates.network_image, plan.shot_range)
            return runner

        job(workers[0]).run()  # first-call allocations and imports out of the timings
        wall_runs: dict[int, list[float]] = {count: [] for count in workers}
        cpu_runs: dict[int, list[float]] = {count: [] for count in workers}
        for _ in range(repeats):
            for count in workers:
                runner = job(count)
                cpu_started, started = time.process_time(), time.perf_counter()
                runner.run()
                wall_runs[count].append(time.perf_counter() - started)
                cpu_runs[count].append(time.process_time() - cpu_started)
        steps = None
        if breakdown:
            runner = job(workers[0])
            with recording() as recorder:
                cpu_started, started = time.process_time(), time.perf_counter()
                runner.run()
                job_wall, job_cpu = time.perf_counter() - started, time.process_time() - cpu_started
            steps = StepBreakdown(num_frames, dict(recorder.cpu_seconds), dict(recorder.wall_seconds), job_cpu, job_wall)
    return CpuSideTiming(num_frames, len(shot.names), wall_runs, cpu_runs, steps)
